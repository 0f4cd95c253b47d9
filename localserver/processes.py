"""Child processes of the server (builds, function workers): kill whole trees, always reap.

Every child runs in its own session. Killing one kills its descendants first (found by walking the
process table's parent links), then its process group, then the child itself, so a function that
forked helpers leaves nothing behind. Descendants that escaped the tree (a daemon re-parented to
init) are the sandbox's job: `localserver.sandbox.Sandbox.sweep`. Killing is idempotent.

Reaping matters as much as killing: an asyncio subprocess whose exit was never awaited keeps its
transport open, and when the app's event loop stops first, the transport's `__del__` fails with
"Event loop is closed".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

# Environment a build or a function may see from the server's own: tools, locale and network settings, never secrets.
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
              "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
              "http_proxy", "https_proxy", "no_proxy")

REAP_TIMEOUT = 5.0
# After its descendants die, give the child this long to notice and exit by itself (bubblewrap then
# reaps its own init, instead of leaving it as a zombie of PID 1).
GRACE = 0.5


@dataclass(frozen=True)
class ProcInfo:
    """One row of the process table: what the sweeps need to decide."""

    pid: int
    ppid: int
    uid: int
    start: int  # clock ticks since boot: (pid, start) names a process even after its pid is reused
    zombie: bool


def read_proc(pid: int) -> ProcInfo | None:
    """The process table entry of `pid`, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, ValueError):
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    uid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")), -1)
    return ProcInfo(pid=pid, ppid=int(fields[1]), uid=uid, start=int(fields[19]), zombie=fields[0] in ("Z", "X"))


def process_table() -> dict[int, ProcInfo]:
    """Every process this server can see (Linux /proc)."""
    table: dict[int, ProcInfo] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (info := read_proc(int(entry))) is not None:
                table[info.pid] = info
    return table


def descendants(pid: int, table: dict[int, ProcInfo] | None = None) -> list[int]:
    """Children, grandchildren ... of `pid` (parents before children)."""
    table = process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: list[int] = []
    queue = list(children.get(pid, []))
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def has_ancestor(pid: int, ancestors: set[int], table: dict[int, ProcInfo]) -> bool:
    """True when one of `ancestors` is `pid` itself or on its chain of parents."""
    seen: set[int] = set()
    while pid > 1 and pid not in seen:
        if pid in ancestors:
            return True
        seen.add(pid)
        info = table.get(pid)
        if info is None:
            return False
        pid = info.ppid
    return False


def signal_pids(pids: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_tree(pid: int) -> None:
    """SIGKILL `pid`'s descendants, its process group (it leads its own session) and `pid`. Idempotent."""
    signal_pids(descendants(pid)[::-1])
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    signal_pids([pid])


def kill_group(proc: asyncio.subprocess.Process) -> None:
    """Kill the process and everything under it now (synchronous; reaping is left to whoever awaits it)."""
    if proc.returncode is None:
        kill_tree(proc.pid)


async def kill_and_reap(proc: asyncio.subprocess.Process) -> None:
    """Kill the tree and wait for the exit, even when the calling task is being cancelled. Idempotent."""
    if proc.returncode is None:
        below = descendants(proc.pid)
        if below:
            signal_pids(below[::-1])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), GRACE)
        kill_group(proc)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), REAP_TIMEOUT)
