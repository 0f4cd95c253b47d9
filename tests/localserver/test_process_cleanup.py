"""Child processes never outlive the task that started them: cancelled or shut down, they are killed and reaped.

A child that is left running (or exited but never awaited) keeps its asyncio transport open; when the
app's loop stops first, the transport's `__del__` fails with "Event loop is closed".
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from localserver import builder
from localserver.runtime.executor import Executor
from localserver.runtime.protocol import Invocation, WorkerSpec
from tests.helpers import async_wait_until


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
