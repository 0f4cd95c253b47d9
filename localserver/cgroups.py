"""CPU limits of a specification, with a cgroup CPU quota where the server may create cgroups.

One cgroup per deployment (`<cpu hierarchy>/fnsync-<hash of the data dir>/<functionId>.<deploymentId>`, and
`….build` for its build) gets `cpus × 100 ms` of CPU time per 100 ms period, shared by the deployment's
workers, as a runtime container's CPU limit is. A process joins its cgroup before it executes anything
(`sh -c 'echo $$ > …/cgroup.procs; exec "$@"'`), so nothing it forks escapes the quota. Where no writable
CPU controller exists (no cgroup v1 `cpu` hierarchy we may write, no delegated cgroup v2), CPU is not
limited and `CpuLimits.available` is False; docs/sandbox.md says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

logger = logging.getLogger("localserver.cgroups")

PERIOD_US = 100_000
V1_CANDIDATES = (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpu,cpuacct"))
UNIFIED = Path("/sys/fs/cgroup")


def _own_v2_group() -> Path | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return UNIFIED / line[3:].lstrip("/")
    except OSError:
        pass
    return None


def _hierarchy() -> Path | None:
    """A CPU controller directory under which this process may create cgroups, or None."""
    for candidate in V1_CANDIDATES:
        if (candidate / "cpu.cfs_quota_us").exists() and os.access(candidate, os.W_OK):
            return candidate
    own = _own_v2_group()
    if own is not None and (UNIFIED / "cgroup.controllers").exists() and os.access(own, os.W_OK):
        with contextlib.suppress(OSError):
            if "cpu" in (own / "cgroup.subtree_control").read_text().split():
                return own
    return None


class CpuLimits:
    """Creates, fills and removes this server's CPU cgroups."""

    def __init__(self, data_dir: Path, hierarchy: Path | None = None) -> None:
        digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
        found = hierarchy if hierarchy is not None else _hierarchy()
        self.base = found / f"fnsync-{digest}" if found is not None else None

    @property
    def available(self) -> bool:
        return self.base is not None

    def group(self, name: str, cpus: float, owner: int | None = None) -> Path | None:
        """The cgroup `name` limited to `cpus` CPUs (created or updated), or None when CPU cannot be limited.
        `owner` (a uid) may move itself in: user-mode processes join their cgroup as themselves."""
        if self.base is None:
            return None
        group = self.base / name
        quota = max(int(cpus * PERIOD_US), 1000)
        try:
            group.mkdir(parents=True, exist_ok=True)
            if (group / "cpu.cfs_quota_us").exists():
                (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (group / "cpu.cfs_quota_us").write_text(str(quota))
            else:
                (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            if owner is not None:
                os.chown(group / "cgroup.procs", owner, owner)
        except OSError as exc:
            logger.warning("CPU limits are off: cannot set up cgroup %s (%s)", group, exc.strerror or exc)
            self.base = None
            return None
        return group

    @staticmethod
    def wrap(argv: list[str], group: Path | None) -> list[str]:
        """`argv`, made to join `group` first (the join is best effort: a failure never stops the process)."""
        if group is None:
            return argv
        return ["/bin/sh", "-c", 'echo $$ > "$0" 2>/dev/null; exec "$@"', str(group / "cgroup.procs"), *argv]

    def remove(self, name: str) -> None:
        if self.base is not None:
            with contextlib.suppress(OSError):
                (self.base / name).rmdir()

    def remove_all(self) -> None:
        """Remove every cgroup of this server (those still holding processes stay)."""
        if self.base is None or not self.base.is_dir():
            return
        for group in self.base.iterdir():
            if group.is_dir():
                with contextlib.suppress(OSError):
                    group.rmdir()
        with contextlib.suppress(OSError):
            self.base.rmdir()
