"""The build worker: unpack a deployment's archive, run its build commands, record the outcome.

Appwrite builds in a runtime container; here a build is a private copy and a sandboxed subprocess
(`localserver.sandbox`). The copy lives outside the data dir, so build commands never see the key or the
database:

    <run root>/functions/<functionId>/<deploymentId>/code   the unpacked archive, the commands' working dir
                                                    /venv   (python-* runtimes) a venv of this machine's Python
                                                    /bin    shims so `python`, `pip` mean that venv
                                                    /home, /tmp   HOME and TMPDIR of the commands

A finished build is copied to `<builds_dir>/<functionId>/<deploymentId>` (same layout, without home and
tmp), from which executions get their own copy back after a restart.

Status lives on a "builds" record, as in 1.6: no record -> `waiting`; record created -> `processing`
-> `building` -> `ready` | `failed` | `canceled`. Workers run as asyncio tasks inside the app's
lifespan (`running(ctx)`); on startup, builds a crash left half-done are marked failed and uploaded
deployments without a build record are queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from localserver.archive import ArchiveError, extract_archive, folder_size
from localserver.clock import now_iso, seconds_since, unique_id
from localserver.config import ServerConfig
from localserver.context import ServerContext
from localserver.files import private_dir
from localserver.processes import PASSED_ENV, kill_and_reap, kill_group
from localserver.sandbox import Sandbox
from localserver.runtime.environment import appwrite_variables, clean
from localserver.runtimes import runtime_family, split_runtime

logger = logging.getLogger("localserver.builder")

WORKERS = 2
OUTPUT_DRAIN = 5.0  # after the build commands exit, wait this long for the rest of their output
LOG_LIMIT = 1_000_000  # keep at most this many characters of command output in buildLogs
PENDING = ("processing", "building")
TERMINAL = ("ready", "failed", "canceled")
# Besides processes.PASSED_ENV, a build sees the package managers' settings.
_PASSED_PREFIXES = ("PIP_", "npm_config_", "NPM_CONFIG_")


def archive_path(config: ServerConfig, function_id: str, deployment_id: str) -> Path:
    """Where a deployment's uploaded archive is kept."""
    return config.code_dir / function_id / f"{deployment_id}.tar.gz"


def deployment_dir(config: ServerConfig, function_id: str, deployment_id: str) -> Path:
    return config.builds_dir / function_id / deployment_id


def code_dir(config: ServerConfig, function_id: str, deployment_id: str) -> Path:
    """The unpacked, built code: the working directory of build commands (and of executions)."""
    return deployment_dir(config, function_id, deployment_id) / "code"


def _python_shims(bin_dir: Path, venv: Path, host_python: str) -> None:
    """`python`/`python3` run the venv; `pip`/`pip3`/`python -m pip` use the host's pip on the venv."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    pip = f'#!/bin/sh\nexec "{host_python}" -m pip --python "{venv}/bin/python" "$@"\n'
    python = (
        "#!/bin/sh\n"
        f'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then shift 2; exec "{bin_dir}/pip" "$@"; fi\n'
        f'exec "{venv}/bin/python" "$@"\n'
    )
    for name, text in (("pip", pip), ("pip3", pip), ("python", python), ("python3", python)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(0o755)


async def _run_quiet(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, _ = await proc.communicate()
    except BaseException:  # cancelled (server stopping): never leave the child running or unreaped
        await kill_and_reap(proc)
        raise
    return proc.returncode or 0, out.decode("utf-8", "replace").strip()


class BuildFailed(Exception):
    """A build ended in `failed`; the message goes to the build log."""


class Builder:
    """Queue and workers; `enqueue`, `cancel` and `forget_function` are what route handlers call."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._procs: dict[str, tuple[str, asyncio.subprocess.Process]] = {}  # deployment -> (function, process)
        self._versions: dict[str, str] = {}

    # --- API for route handlers -----------------------------------------------------------------

    def enqueue(self, deployment_id: str) -> None:
        self.queue.put_nowait(deployment_id)

    def cancel(self, deployment_id: str) -> None:
        """Kill the build commands of a deployment if they are running (the caller set the status)."""
        entry = self._procs.get(deployment_id)
        if entry is not None:
            kill_group(entry[1])

    def forget_function(self, function_id: str) -> None:
        """Stop the function's builds and delete its archives and build folders."""
        for deployment_id, (owner, proc) in list(self._procs.items()):
            if owner == function_id:
                kill_group(proc)
        config = self.ctx.config
        shutil.rmtree(config.code_dir / function_id, ignore_errors=True)
        shutil.rmtree(config.builds_dir / function_id, ignore_errors=True)
        if self.sandbox.root is not None:
            shutil.rmtree(self.sandbox.function_dir(function_id), ignore_errors=True)

    def forget_deployment(self, function_id: str, deployment_id: str) -> None:
        """Stop a deployment's build and delete its archive and build folder."""
        self.cancel(deployment_id)
        archive_path(self.ctx.config, function_id, deployment_id).unlink(missing_ok=True)
        shutil.rmtree(deployment_dir(self.ctx.config, function_id, deployment_id), ignore_errors=True)
        if self.sandbox.root is not None:
            shutil.rmtree(self.sandbox.workdir(function_id, deployment_id), ignore_errors=True)

    # --- startup recovery -----------------------------------------------------------------------

    def recover(self) -> None:
        """Fail builds a crash interrupted; queue uploaded deployments that never got a build record."""
        store = self.ctx.store
        for build in store.all("builds"):
            if build.get("status") in PENDING:
                logs = build.get("logs", "")
                build.update(
                    status="failed",
                    logs=(logs + "\n" if logs else "") + "Build interrupted by a server restart.",
                    endTime=now_iso(),
                    duration=seconds_since(build.get("startTime")),
                )
                build["$updatedAt"] = build["endTime"]
                store.put("builds", build)
        for deployment in store.all("deployments"):
            if deployment.get("_uploaded") and not _build_of(store, deployment):
                self.enqueue(deployment["$id"])

    # --- the worker -----------------------------------------------------------------------------

    async def work(self) -> None:
        while True:
            deployment_id = await self.queue.get()
            try:
                await self.build(deployment_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("build of deployment %s crashed", deployment_id)
            finally:
                self.queue.task_done()

    async def build(self, deployment_id: str) -> None:
        store = self.ctx.store
        deployment = store.get("deployments", deployment_id)
        if deployment is None or not deployment.get("_uploaded") or _build_of(store, deployment):
            return  # deleted, still uploading, or already built/being built (or canceled before start)
        function_id = deployment["resourceId"]
        function = store.get("functions", function_id)
        build: dict[str, Any] = {
            "$id": unique_id(),
            "$createdAt": now_iso(),
            "$updatedAt": now_iso(),
            "deploymentId": deployment_id,
            "status": "processing",
            "stdout": "",
            "stderr": "",
            "startTime": now_iso(),
            "endTime": "",
            "duration": 0,
            "size": 0,
            "logs": "",
            "_functionId": function_id,
            "_runtime": (function or {}).get("runtime", ""),
        }
        with store.transaction():
            store.insert("builds", build, parent=function_id)
            deployment["buildId"] = build["$id"]
            store.put("deployments", deployment)
        log: list[str] = []
        started = time.monotonic()
        try:
            if function is None:
                raise BuildFailed("The function of this deployment no longer exists.")
            if not self._set_status(build, "building"):
                return
            await self._run(build, deployment, function, log)
        except BuildFailed as failure:
            log.append(str(failure))
            self._finish(build, deployment, "failed", log, started)
            return
        except asyncio.CancelledError:  # its subprocesses were reaped on the way out
            log.append("Build interrupted: the server stopped.")
            self._finish(build, deployment, "failed", log, started)
            raise
        except Exception as exc:  # a bug of ours must still end the build
            logger.exception("build of deployment %s crashed", deployment_id)
            log.append(f"Internal build error: {type(exc).__name__}: {exc}")
            self._finish(build, deployment, "failed", log, started)
            return
        self._finish(build, deployment, "ready", log, started)

    @property
    def sandbox(self) -> Sandbox:
        return self.ctx.services.get("sandbox") or Sandbox()

    async def _run(self, build: dict[str, Any], deployment: dict[str, Any], function: dict[str, Any], log: list[str]) -> None:
        """Build in the deployment's private copy outside the data dir, then keep the result in the data dir."""
        config = self.ctx.config
        sandbox = self.sandbox
        function_id, deployment_id = function["$id"], deployment["$id"]
        runtime = function.get("runtime", "")
        workdir = sandbox.workdir(function_id, deployment_id)
        code = workdir / "code"
        log.append(f"Preparing build of deployment {deployment_id} ({runtime}).")
        archive = archive_path(config, function_id, deployment_id)
        if not archive.is_file():
            raise BuildFailed("The deployment's code archive is missing.")
        try:
            shutil.rmtree(workdir, ignore_errors=True)
            shutil.rmtree(deployment_dir(config, function_id, deployment_id), ignore_errors=True)
            for part in ("home", "tmp"):
                (workdir / part).mkdir(parents=True)
            count = await asyncio.to_thread(extract_archive, archive, code)
        except ArchiveError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            raise BuildFailed(f"Could not unpack the code: {exc}") from exc
        log.append(f"Unpacked {count} archive entries.")
        entrypoint = deployment.get("entrypoint", "")
        target = (code / entrypoint).resolve()
        if not entrypoint or not target.is_relative_to(code.resolve()) or not target.is_file():
            raise BuildFailed(f'Entrypoint "{entrypoint}" was not found in the deployment\'s code.')

        family = runtime_family(runtime)
        env = self._base_env(function, deployment, workdir)
        build["_folder"] = str(code)
        build["_family"] = family or ""
        commands = (deployment.get("commands", "") or "") if family else ""
        if family == "python":
            build["_interpreter"] = await self._prepare_python(runtime, function_id, workdir, env, log)
        elif family == "node":
            build["_interpreter"] = await self._prepare_node(runtime, function_id, env, log)
        else:
            log.append(f"Runtime {runtime} cannot run on this machine: configuration-only build; executions are unavailable for this runtime locally.")
        sandbox.hand_over(workdir, function_id)
        if family and not commands.strip():
            log.append("No build commands.")
        elif commands.strip():
            await self._run_commands(deployment_id, function_id, commands, workdir, env, log, build.get("_interpreter"))
        await asyncio.to_thread(_persist, workdir, deployment_dir(config, function_id, deployment_id))

    def _base_env(self, function: dict[str, Any], deployment: dict[str, Any], workdir: Path) -> dict[str, str]:
        """Safe server settings, the function's variables, then APPWRITE_* as Appwrite's build worker sets them
        (with a dynamic API key limited to the function's scopes, valid for the build timeout)."""
        config = self.ctx.config
        env = {k: v for k, v in os.environ.items() if k in PASSED_ENV or k.startswith(_PASSED_PREFIXES)}
        env.update(self.sandbox.environment(workdir))
        for variable in self.ctx.store.all("variables", parent=function["$id"]):
            if variable.get("key"):
                env[str(variable["key"])] = str(variable.get("value", ""))
        key = self.ctx.keys.mint(config.project_id, function["$id"], function.get("scopes") or [], ttl=config.build_timeout)
        env.update(appwrite_variables(function, deployment, endpoint=config.public_endpoint, project_id=config.project_id,
                                      version=config.version, api_key=key))
        return clean(env)

    async def _version(self, executable: str, argv: tuple[str, ...]) -> str:
        if executable not in self._versions:
            code, out = await _run_quiet(executable, *argv)
            self._versions[executable] = out.removeprefix("v") if code == 0 else "unknown"
        return self._versions[executable]

    async def _pick_python(self, wanted: str, function_id: str) -> tuple[str, str]:
        """`python<X.Y>` from PATH when it really runs (pyenv shims may not) for the function's user, else the
        server's base interpreter, else the system's Python (the only one an unprivileged uid can reach when
        the others live under /root)."""
        probe = ("-c", "import platform; print(platform.python_version())")
        base = getattr(sys, "_base_executable", "") or sys.executable
        candidates = [shutil.which(f"python{wanted}"), base, f"/usr/bin/python{wanted}", "/usr/bin/python3", sys.executable]
        for candidate in candidates:
            if not candidate or not os.path.exists(candidate):
                continue
            if not await asyncio.to_thread(self.sandbox.can_run, candidate, function_id):
                continue
            version = await self._version(candidate, probe)
            if version != "unknown":
                return candidate, version
        raise BuildFailed("No Python interpreter on this machine can run the function's code (looked for "
                          f"python{wanted}, the server's Python and /usr/bin/python3).")

    async def _prepare_python(self, runtime: str, function_id: str, workdir: Path, env: dict[str, str], log: list[str]) -> str:
        _, wanted = split_runtime(runtime)
        interpreter, version = await self._pick_python(wanted, function_id)
        if not version.startswith(wanted + ".") and version != wanted:
            log.append(f"Runtime {runtime}: using this machine's Python {version} ({interpreter}) instead of Python {wanted}.")
        else:
            log.append(f"Runtime {runtime}: using Python {version} ({interpreter}).")
        venv = workdir / "venv"
        code, out = await _run_quiet(interpreter, "-m", "venv", "--without-pip", str(venv))
        if code != 0:
            raise BuildFailed(f"Could not create a Python environment: {out}")
        bin_dir = workdir / "bin"
        _python_shims(bin_dir, venv, os.path.realpath(venv / "bin" / "python"))
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = os.pathsep.join([str(bin_dir), str(venv / "bin"), env.get("PATH", os.defpath)])
        return str(venv / "bin" / "python")

    async def _prepare_node(self, runtime: str, function_id: str, env: dict[str, str], log: list[str]) -> str:
        _, wanted = split_runtime(runtime)
        node = shutil.which("node", path=env.get("PATH"))
        if node is None or not await asyncio.to_thread(self.sandbox.can_run, node, function_id):
            raise BuildFailed(f"Runtime {runtime} needs Node.js, but `node` was not found on this machine's PATH.")
        version = await self._version(node, ("--version",))
        major = wanted.split(".")[0]
        if version.split(".")[0] != major:
            log.append(f"Runtime {runtime}: using this machine's Node.js {version} ({node}) instead of Node.js {wanted}.")
        else:
            log.append(f"Runtime {runtime}: using Node.js {version} ({node}).")
        return node

    async def _run_commands(self, deployment_id: str, function_id: str, commands: str, workdir: Path, env: dict[str, str],
                            log: list[str], interpreter: str | None) -> None:
        log.append(f"Running build commands: {commands}")
        sandbox = self.sandbox
        code = workdir / "code"
        executables = [interpreter] if interpreter else []
        memory = int(env.get("APPWRITE_FUNCTION_MEMORY", "0") or 0) or None  # the spec's, at least 1024 MB
        cpus = float(env.get("APPWRITE_FUNCTION_CPUS", "0") or 0) or None
        argv = sandbox.wrap(["sh", "-c", commands], workdir=workdir, cwd=code, executables=executables, memory_mb=memory,
                            cpus=cpus, cpu_group=f"{function_id}.{deployment_id}.build", function_id=function_id)
        proc = await sandbox.spawn(argv, function_id=function_id, cwd=code, env=env, stdin=asyncio.subprocess.DEVNULL,
                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._procs[deployment_id] = (function_id, proc)
        output: list[str] = []
        kept = 0

        async def read_output() -> None:
            nonlocal kept
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                if kept < LOG_LIMIT:
                    text = chunk.decode("utf-8", "replace")[: LOG_LIMIT - kept]
                    output.append(text)
                    kept += len(text)

        reader = asyncio.create_task(read_output())
        timed_out = False
        try:
            async with asyncio.timeout(self.ctx.config.build_timeout):
                await proc.wait()
            # The commands are done: what they left running dies now (which also closes the output pipe).
            await sandbox.kill(proc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), OUTPUT_DRAIN)
        except TimeoutError:
            timed_out = True
        finally:
            await sandbox.kill(proc)  # also on timeout, cancel or shutdown: the children go too
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            self._procs.pop(deployment_id, None)
        text = _scrub("".join(output).rstrip("\n"), [*self._secrets(), env.get("APPWRITE_FUNCTION_API_KEY", "")])
        if text:
            log.append(text)
        if kept >= LOG_LIMIT:
            log.append(f"(build output truncated to {LOG_LIMIT} characters)")
        if timed_out:
            raise BuildFailed(f"Build timed out after {self.ctx.config.build_timeout} seconds.")
        if proc.returncode != 0:
            raise BuildFailed(f"Build commands failed with exit code {proc.returncode}.")

    def _secrets(self) -> list[str]:
        """Keys that must never reach a build log, even if a build command prints its environment."""
        return [self.ctx.config.api_key]

    # --- store updates --------------------------------------------------------------------------

    def _set_status(self, build: dict[str, Any], status: str) -> bool:
        """Move a build on unless someone canceled it meanwhile; False means stop."""
        store = self.ctx.store
        with store.transaction():
            current = store.get("builds", build["$id"])
            if current is None or current.get("status") not in PENDING:
                return False
            build.update(status=status, **{"$updatedAt": now_iso()})
            store.put("builds", {**current, **build})
        return True

    def _finish(self, build: dict[str, Any], deployment: dict[str, Any], status: str, log: list[str], started: float) -> None:
        """Record the outcome; on success activate the deployment if it is still flagged to be."""
        store = self.ctx.store
        config = self.ctx.config
        function_id, deployment_id = deployment["resourceId"], deployment["$id"]
        root = deployment_dir(config, function_id, deployment_id)
        with store.transaction():
            current = store.get("builds", build["$id"])
            current_deployment = store.get("deployments", deployment_id)
            if current is None or current_deployment is None:
                shutil.rmtree(root, ignore_errors=True)  # deleted while building
                return
            if current.get("status") not in PENDING:
                return  # canceled meanwhile: keep that outcome
            end = now_iso()
            build.update(
                status=status,
                logs="\n".join(log),
                endTime=end,
                duration=math.ceil(time.monotonic() - started),  # Appwrite: intval(ceil(end - start))
                size=folder_size(root / "code") if status == "ready" else 0,
                **{"$updatedAt": end},
            )
            store.put("builds", {**current, **build})
            if status == "ready" and current_deployment.get("activate"):
                function = store.get("functions", function_id)
                if function is not None:
                    function.update(deployment=deployment_id, live=True, **{"$updatedAt": end})
                    store.put("functions", function)


def _persist(workdir: Path, target: Path) -> None:
    """Keep a finished build in the data dir (the private copy outside it may vanish: /tmp, restarts)."""
    shutil.rmtree(target, ignore_errors=True)
    private_dir(target)
    for part in ("code", "venv", "bin"):
        if (workdir / part).exists():
            shutil.copytree(workdir / part, target / part, symlinks=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def _build_of(store: Any, deployment: dict[str, Any]) -> dict[str, Any] | None:
    build_id = deployment.get("buildId")
    return store.get("builds", build_id) if build_id else None


@asynccontextmanager
async def running(ctx: ServerContext) -> AsyncIterator[None]:
    """Start the build workers for the app's lifetime; cancel and await them on exit."""
    builder = Builder(ctx)
    ctx.services["builder"] = builder
    for folder in (ctx.config.data_dir, ctx.config.code_dir, ctx.config.builds_dir, ctx.config.uploads_dir):
        private_dir(folder)
    builder.recover()
    tasks = [asyncio.create_task(builder.work(), name=f"builder-{n}") for n in range(WORKERS)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        ctx.services.pop("builder", None)
