"""One function process: start it, send it one request at a time, kill it when it overstays.

The process talks to us over a socket pair (its end is passed as an inherited file descriptor);
its stdout is discarded and the tail of its stderr kept for crash reports. It is started through the
server's sandbox (`localserver.sandbox`): in its own session, in the deployment's private copy, and
killed as a whole tree.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from localserver.sandbox import Sandbox
from localserver.runtime.protocol import BODY_LIMIT, LOG_LIMIT, Invocation, Outcome, WorkerSpec

HERE = Path(__file__).resolve().parent
# A reply carries the body (base64) plus logs and errors; anything longer is a broken worker.
LINE_LIMIT = BODY_LIMIT * 2 + LOG_LIMIT * 8 + 65536
STDERR_TAIL = 4096
START_TIMEOUT = 20.0


class WorkerError(Exception):
    """The worker could not be started (missing interpreter, crash before ready)."""


def python_interpreter() -> str | None:
    """The machine's Python: `FNSYNC_PYTHON`, else the base interpreter behind our venv, else `python3` on PATH.

    The base interpreter (not the venv's) keeps the server's own packages out of functions' reach.
    """
    override = os.environ.get("FNSYNC_PYTHON")
    if override:
        return override
    base = getattr(sys, "_base_executable", "") or sys.executable
    if base and os.path.exists(base):
        return base
    return shutil.which("python3")


def node_interpreter() -> str | None:
    return os.environ.get("FNSYNC_NODE") or shutil.which("node")


def command_for(spec: WorkerSpec, fd: int, scripts: Path = HERE) -> list[str]:
    limits = ["--fd", str(fd), "--entrypoint", spec.entrypoint, "--log-cap", str(LOG_LIMIT), "--body-cap", str(BODY_LIMIT)]
    usable = spec.interpreter if spec.interpreter and os.path.exists(spec.interpreter) else None
    if spec.family == "python":
        interpreter = usable or python_interpreter()
        if not interpreter:
            raise WorkerError("No Python interpreter was found on this machine (looked for python3 on PATH).")
        return [interpreter, "-I", "-u", str(scripts / "worker_python.py"), *limits, "--line-limit", str(LINE_LIMIT)]
    interpreter = usable or node_interpreter()
    if not interpreter:
        raise WorkerError("Node.js was not found on this machine (looked for node on PATH).")
    return [interpreter, str(scripts / "worker_node.mjs"), *limits]


class Worker:
    """A warm function process serving one invocation at a time."""

    def __init__(self, spec: WorkerSpec, sandbox: Sandbox | None = None) -> None:
        self.spec = spec
        self.sandbox = sandbox or Sandbox()
        self.process: asyncio.subprocess.Process | None = None
        self.pid: int | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = time.monotonic()
        self.broken = False
        self._stderr = bytearray()
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        sandbox = self.sandbox
        build_dir = Path(self.spec.build_dir)
        try:
            argv = command_for(self.spec, child.fileno(), sandbox.lib_dir)
            self.process = await sandbox.spawn(
                sandbox.wrap(argv, workdir=build_dir.parent, cwd=build_dir, executables=[argv[0]], memory_mb=self.spec.memory_mb,
                             cpus=self.spec.cpus, cpu_group=f"{self.spec.function_id}.{self.spec.deployment_id}",
                             function_id=self.spec.function_id),
                function_id=self.spec.function_id,
                cwd=build_dir,
                env=dict(self.spec.env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(child.fileno(),),
            )
        except BaseException as exc:
            parent.close()
            if isinstance(exc, OSError):
                raise WorkerError(f"Could not start the function process: {exc.strerror or exc}") from exc
            raise
        finally:
            child.close()
        self.pid = self.process.pid
        self._drain = asyncio.create_task(self._drain_stderr())
        try:
            self.reader, self.writer = await asyncio.open_unix_connection(sock=parent, limit=LINE_LIMIT)
            line = await asyncio.wait_for(self.reader.readline(), START_TIMEOUT)
        except (TimeoutError, ValueError, OSError):
            line = b""
        except BaseException:  # cancelled while starting (server stopping): the process must not outlive us
            await self.kill()
            raise
        if not line:
            await self.kill()
            raise WorkerError(f"The function process did not start.{self._stderr_note()}")

    async def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self._stderr += chunk
            del self._stderr[:-STDERR_TAIL]

    def _stderr_note(self) -> str:
        text = self._stderr.decode("utf-8", "replace").strip()
        return f"\n{text}" if text else ""

    @property
    def alive(self) -> bool:
        return not self.broken and self.process is not None and self.process.returncode is None

    async def invoke(self, invocation: Invocation, logging: bool, timeout: float) -> Outcome:
        """Run one request. A timeout or a crash kills the process and becomes a failed Outcome."""
        assert self.reader is not None and self.writer is not None
        started = time.monotonic()
        message = {
            "method": invocation.method,
            "path": invocation.path,
            "headers": invocation.headers,
            "body": base64.b64encode(invocation.body).decode("ascii"),
            "logging": logging,
        }
        try:
            self.writer.write(json.dumps(message).encode() + b"\n")
            await self.writer.drain()
            line = await asyncio.wait_for(self.reader.readline(), timeout)
        except TimeoutError:
            await self.kill()
            return Outcome.failure("Execution timed out.", time.monotonic() - started, timed_out=True)
        except ValueError:  # a reply longer than LINE_LIMIT
            await self.kill()
            return Outcome.failure("The function's output exceeded the executor's limits.", time.monotonic() - started)
        except (ConnectionError, OSError):
            line = b""
        finally:
            self.last_used = time.monotonic()
        duration = time.monotonic() - started
        if not line:
            code = await self._exit_code()
            await self.kill()
            return Outcome.failure(f"The function process exited unexpectedly (exit code {code}).{self._stderr_note()}", duration)
        try:
            reply = json.loads(line)
            return Outcome(
                status_code=int(reply["statusCode"]),
                headers={str(k): str(v) for k, v in reply.get("headers", {}).items()},
                body=base64.b64decode(reply.get("body", "")),
                logs=reply.get("logs", ""),
                errors=reply.get("errors", ""),
                duration=duration,
                worker_pid=self.pid,
            )
        except (ValueError, KeyError, TypeError):
            await self.kill()
            return Outcome.failure("The function process sent a malformed reply.", duration)

    async def _exit_code(self) -> int | None:
        if self.process is None:
            return None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.process.wait(), 1.0)
        return None

    async def kill(self) -> None:
        """Kill the process group (the function and anything it spawned) and reap it."""
        self.broken = True
        if self.writer is not None:
            self.writer.close()
        if self.process is None:
            return
        await self.sandbox.kill(self.process)
        if self._drain is not None:  # the pipe is at EOF once reaped: let it take the stderr tail for reports
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain, 1.0)
