"""Who holds the project lock (`syncer.lock`), and whether that holder is a process on this machine that is gone.

A lock records its holder's user, host, pid and command for people, and two facts for machines:

- `host_id`: this machine's boot and pid namespace (`/proc/sys/kernel/random/boot_id` + `/proc/self/ns/pid`).
  Two holders with the same `host_id` see the same processes, so one can tell whether the other's pid is alive.
  Hostnames alone are not enough: containers with the host's network share its hostname but not its processes.
- `started`: the holder process's start time (clock ticks since boot, `/proc/<pid>/stat` field 22), so a pid that
  was reused by another process after the holder died does not pass for the holder.

Where `/proc` is missing (macOS), `host_id` is empty and only the hostname and `kill(pid, 0)` decide.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

PROC = Path("/proc")


class LockOwner(BaseModel):
    """Who holds the lock, in enough detail to find them: user@host, pid, CI job, command."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user: str
    host: str
    pid: int
    ci: str = ""  # e.g. "GitHub run 456"
    command: str = ""
    host_id: str = ""  # boot id + pid namespace (see the module doc); "" = unknown (records from older fnsync)
    started: int = 0  # the process's start time in clock ticks since boot; 0 = unknown

    def describe(self) -> str:
        details = [f"pid {self.pid}"]
        if self.ci:
            details.append(self.ci)
        if self.command:
            details.append(f"`{self.command}`")
        return f"{self.user}@{self.host} ({', '.join(details)})"


def ci_job(environ: Mapping[str, str] | None = None) -> str:
    """The CI job running us, when a known CI says so (GitHub Actions, GitLab CI, Buildkite, Jenkins)."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_RUN_ID"):
        attempt = env.get("GITHUB_RUN_ATTEMPT", "")
        return f"GitHub run {env['GITHUB_RUN_ID']}" + (f" attempt {attempt}" if attempt and attempt != "1" else "")
    if env.get("GITLAB_CI") and env.get("CI_JOB_ID"):
        return f"GitLab job {env['CI_JOB_ID']}"
    if env.get("BUILDKITE_BUILD_NUMBER"):
        return f"Buildkite build {env['BUILDKITE_BUILD_NUMBER']}"
    if env.get("BUILD_TAG"):
        return f"Jenkins {env['BUILD_TAG']}"
    return ""


def host_id() -> str:
    """This machine's boot and pid namespace, or "" where /proc does not say."""
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink(PROC / "self/ns/pid")
    except OSError:
        return ""
    return f"{boot}/{namespace}"


def process_start(pid: int) -> int | None:
    """The start time of process `pid` in clock ticks since boot; None when /proc does not show it."""
    stat = _proc_stat(pid)
    return stat[1] if stat is not None else None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time) from /proc/<pid>/stat; None when absent or hidden (`hidepid`, no /proc)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # Field 2 (the command name) may hold spaces and parentheses: count fields after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])  # fields 3 and 22 overall
    except (IndexError, ValueError):
        return None


def current_owner(command: str, environ: Mapping[str, str] | None = None) -> LockOwner:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    pid = os.getpid()
    return LockOwner(
        user=user,
        host=socket.gethostname(),
        pid=pid,
        ci=ci_job(environ),
        command=command,
        host_id=host_id(),
        started=process_start(pid) or 0,
    )


def same_machine(owner: LockOwner) -> bool:
    """True when `owner`'s processes are ours to see: same hostname, and same boot and pid namespace if known."""
    here = host_id()
    return owner.host == socket.gethostname() and owner.host_id == here


def process_gone(owner: LockOwner) -> bool:
    """True only when `owner` is certainly not running: on this machine (`same_machine`), and its pid names no
    process, a zombie, or another process (started at another time). Anything uncertain counts as alive."""
    if not same_machine(owner):
        return False
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user: alive, unless /proc shows it is another one
        pass
    stat = _proc_stat(owner.pid) if owner.host_id else None
    if stat is None:  # /proc hides it or is missing: kill() said it exists
        return False
    state, started = stat
    return state == "Z" or (owner.started != 0 and started != owner.started)
