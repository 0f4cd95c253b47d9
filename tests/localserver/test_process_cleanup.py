"""Child processes never outlive the task that started them: cancelled or shut down, they are killed and reaped.

A child that is left running (or exited but never awaited) keeps its asyncio transport open; when the
app's loop stops first, the transport's `__del__` fails with "Event loop is closed".
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from localserver import builder
from localserver.runtime.executor import Executor
from localserver.runtime.protocol import Invocation, WorkerSpec
from localserver.server import ensure_api_key
from tests.helpers import async_wait_until, wait_until
from tests.localserver.sandboxing import modes, survivors
from tests.localserver.support import api_client, deployment_status, post_deployment, post_function, running_server


def _gone(pid: int) -> bool:
    """True once the process is dead *and reaped* (a zombie still answers signal 0)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _hanging_interpreter(tmp_path: Path) -> tuple[WorkerSpec, Path]:
    """A worker "interpreter" that records its pid and never says ready: the worker hangs in `start()`."""
    pidfile = tmp_path / "pid"
    script = tmp_path / "hang"
    script.write_text(f'#!/bin/sh\necho $$ > "{pidfile}"\nexec sleep 60\n')
    script.chmod(0o755)
    spec = WorkerSpec(function_id="f", deployment_id="d", family="python", build_dir=str(tmp_path),
                      entrypoint="main.py", interpreter=str(script), env=(("PATH", os.defpath),))
    return spec, pidfile


async def _pid_of(pidfile: Path) -> int:
    async def written() -> str:
        return pidfile.read_text().strip() if pidfile.exists() else ""

    return int(await async_wait_until(written, timeout=10, what="the child's pid file"))


async def test_cancelling_a_starting_worker_reaps_it(tmp_path: Path) -> None:
    spec, pidfile = _hanging_interpreter(tmp_path)
    executor = Executor()
    run = asyncio.create_task(executor.run(spec, Invocation(), timeout=30))
    pid = await _pid_of(pidfile)
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    assert _gone(pid)
    await executor.close()


async def test_executor_close_kills_a_starting_worker(tmp_path: Path) -> None:
    spec, pidfile = _hanging_interpreter(tmp_path)
    executor = Executor()
    run = asyncio.create_task(executor.run(spec, Invocation(), timeout=30))
    pid = await _pid_of(pidfile)
    await executor.close()
    outcome = await asyncio.wait_for(run, 10)
    assert outcome.status_code == 500
    assert "did not start" in outcome.errors
    assert _gone(pid)


async def test_cancelled_build_tool_is_reaped(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    task = asyncio.create_task(builder._run_quiet("sh", "-c", f'echo $$ > "{pidfile}"; exec sleep 60'))
    pid = await _pid_of(pidfile)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert _gone(pid)


async def test_start_failure_reports_the_stderr_tail(tmp_path: Path) -> None:
    script = tmp_path / "crash"
    script.write_text('#!/bin/sh\necho "boom before ready" >&2\nexit 3\n')
    script.chmod(0o755)
    spec = WorkerSpec(function_id="f", deployment_id="d", family="python", build_dir=str(tmp_path),
                      entrypoint="main.py", interpreter=str(script), env=(("PATH", os.defpath),))
    executor = Executor()
    outcome = await executor.run(spec, Invocation(), timeout=30)
    await executor.close()
    assert outcome.status_code == 500
    assert "did not start" in outcome.errors
    assert "boom before ready" in outcome.errors


@pytest.mark.slow
@pytest.mark.parametrize("mode", modes())
def test_build_orphaned_by_a_crash_is_killed_on_restart(tmp_path: Path, mode: str) -> None:
    """SIGKILL the server (a real process) mid-build: the build dies with it (bwrap) or runs on until the next
    start kills it (user: found through the pids the server recorded in DATA/children)."""
    data = tmp_path / "data"
    key = ensure_api_key(data, None)
    marker = f"{700 + secrets.randbelow(99)}.{secrets.randbelow(10**6):06d}"
    server = subprocess.Popen([sys.executable, "-m", "localserver", "--port", "0", "--data", str(data), "--sandbox", mode],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        endpoint = next(line.split()[-1] for line in server.stdout if line.strip().startswith("Endpoint:"))
        with httpx.Client(base_url=endpoint, headers={"X-Appwrite-Project": "local", "X-Appwrite-Key": key}, timeout=30) as client:
            post_function(client)
            building = post_deployment(client, commands=f"sleep {marker}")
            wait_until(lambda: survivors(marker), timeout=30, what="the build command to run")
            assert deployment_status(client, building["$id"]) == "building"
    finally:
        server.kill()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
    if mode == "bwrap":  # bubblewrap's --die-with-parent already takes the sandbox down with the server
        wait_until(lambda: survivors(marker) == [], timeout=10, what="the sandboxed build to die with the server")
    else:
        assert survivors(marker), "the orphaned build should still run until a restart finds it"

    with running_server(data, project_id="local", api_key=key, sandbox=mode) as (restarted, _), api_client(restarted) as client:
        assert survivors(marker) == []
        after = client.get(f"/functions/fn/deployments/{building['$id']}").json()
        assert after["status"] == "failed" and "interrupted" in after["buildLogs"]
    assert not list((data / "children").glob("*.json"))
