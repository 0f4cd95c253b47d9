"""Child processes of the server (builds, function workers): kill whole groups, always reap.

Every child runs in its own session, so killing its process group also takes whatever it spawned.
Reaping matters as much as killing: an asyncio subprocess whose exit was never awaited keeps its
transport open, and when the app's event loop stops first, the transport's `__del__` fails with
"Event loop is closed".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

# Environment a build or a function may see from the server's own: tools, locale and network settings, never secrets.
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
              "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
              "http_proxy", "https_proxy", "no_proxy")

REAP_TIMEOUT = 5.0


def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process's group (it leads its own session), then the process itself."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


async def kill_and_reap(proc: asyncio.subprocess.Process) -> None:
    """Kill the group and wait for the exit, even when the calling task is being cancelled."""
    kill_group(proc)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), REAP_TIMEOUT)
