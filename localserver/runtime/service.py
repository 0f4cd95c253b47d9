"""Executions as Appwrite runs them: build the request, pick the warm worker, store the outcome.

`ExecutionService` is the one place that turns a function + deployment + request into a stored
Execution document; the HTTP routes (`localserver.executions`) and the scheduler both use it.
Async executions are queued as Appwrite 1.6.2 queues them (its `functions` queue and worker): the
202 shows `waiting`, a fixed pool of `QUEUE_WORKERS` workers takes ids off an in-memory queue, claims
each (`waiting` -> `processing`, in one transaction) and stores the outcome (`completed`/`failed`).
The request waits in an internal `_request` field of the stored document, so the queue itself need
not be durable: on start, executions a crash left `processing` are marked failed (they may have run
already: never run twice) and `waiting` ones are queued again (they never started).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from localserver import builder, processes
from localserver.background import background
from localserver.clock import now_iso, unique_id
from localserver.context import ServerContext
from localserver.errors import SERVER_VERSION
from localserver.runtime.executor import Executor
from localserver.runtime.protocol import LOG_LIMIT, Invocation, Outcome, WorkerSpec, truncate
from localserver.runtime.environment import appwrite_variables, clean, limits
from localserver.runtimes import runtime_family

logger = logging.getLogger("localserver.executions")

Document = dict[str, Any]

REQUEST_HEADERS_KEPT = ("content-type", "agent", "content-length", "host")
RESPONSE_HEADERS_KEPT = ("content-type", "content-length")
SYNC_TIMEOUT = 30.0  # Appwrite's executor request timeout for synchronous executions
QUEUE_WORKERS = 4  # async executions running at once; later ones stay `waiting` in the queue


class SyncTimeout(Exception):
    """A synchronous execution ran past the sync cap (the execution is stored as failed)."""


def headers_list(headers: dict[str, str], keep: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers.items() if keep is None or k.lower() in keep]


def stored_body(body: str | bytes) -> dict[str, str]:
    """A request body as a stored request keeps it: text as is, raw bytes (from a form) in base64."""
    return {"body64": base64.b64encode(body).decode("ascii")} if isinstance(body, bytes) else {"body": body}


def request_body(request: dict[str, Any]) -> bytes:
    """The bytes a stored request hands the function."""
    return base64.b64decode(request["body64"]) if "body64" in request else str(request.get("body", "")).encode("utf-8")


class ExecutionService:
    """Creates, runs and records executions; owns the background tasks of async ones."""

    def __init__(self, ctx: ServerContext, executor: Executor) -> None:
        self.ctx = ctx
        self.executor = executor
        self.sync_timeout = SYNC_TIMEOUT
        self.tasks: set[asyncio.Task[None]] = set()
        self.workers = QUEUE_WORKERS
        self.queue: asyncio.Queue[str] | None = None

    # --- documents ------------------------------------------------------------------------------

    def new_document(
        self,
        function: Document,
        deployment_id: str,
        *,
        trigger: str,
        status: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: str | bytes,
        scheduled_at: str | None = None,
    ) -> Document:
        """A new Execution document (not stored yet); its request waits in `_request`."""
        now = now_iso()
        full_headers = {**headers, **self.appwrite_headers(trigger)}
        return {
            "$id": unique_id(),
            "$createdAt": now,
            "$updatedAt": now,
            "$permissions": [],
            "functionId": function["$id"],
            "deploymentId": deployment_id,
            "trigger": trigger,
            "status": status,
            "requestMethod": method,
            "requestPath": path,
            "requestHeaders": headers_list(full_headers, REQUEST_HEADERS_KEPT),
            "responseStatusCode": 0,
            "responseBody": "",
            "responseHeaders": [],
            "logs": "",
            "errors": "",
            "duration": 0.0,
            "scheduledAt": scheduled_at,
            "_request": {"method": method, "path": path, "headers": full_headers, **stored_body(body)},
        }

    def appwrite_headers(self, trigger: str) -> dict[str, str]:
        """The x-appwrite-* request headers known when an execution is created (the key comes at run time)."""
        return {
            "x-appwrite-trigger": trigger,
            "x-appwrite-user-id": "",
            "x-appwrite-user-jwt": "",
            "x-appwrite-country-code": "",
            "x-appwrite-continent-code": "",
            "x-appwrite-continent-eu": "false",
        }

    # --- running --------------------------------------------------------------------------------

    def worker_spec(self, function: Document, deployment: Document) -> WorkerSpec | str:
        """The spec of the worker that runs this deployment, or why it cannot run here."""
        runtime = function.get("runtime", "")
        family = runtime_family(runtime)
        if family is None:
            return (f'Runtime "{runtime}" cannot run on the local server: it runs python-* functions with this '
                    "machine's Python and node-* functions with its Node.js only.")
        config = self.ctx.config
        persisted = builder.deployment_dir(config, function["$id"], deployment["$id"])
        if not (persisted / "code").is_dir():
            return f"The build of deployment {deployment['$id']} is missing on disk; redeploy the function."
        sandbox = self.executor.sandbox
        # Executions run on the deployment's private copy outside the data dir (made again after a restart).
        workdir = sandbox.materialize(function["$id"], deployment["$id"], persisted) if sandbox.root else persisted
        build = self.ctx.store.get("builds", deployment.get("buildId", "")) or {}
        interpreter = build.get("_interpreter")
        if family == "python":
            venv_python = workdir / "venv" / "bin" / "python"
            interpreter = str(venv_python) if venv_python.exists() else None
        return WorkerSpec(
            function_id=function["$id"],
            deployment_id=deployment["$id"],
            family=family,
            build_dir=str(workdir / "code"),
            entrypoint=deployment.get("entrypoint") or function.get("entrypoint", ""),
            interpreter=interpreter,
            env=tuple(sorted(self.environment(function, deployment, family, workdir).items())),
            cpus=limits(function)[0],
            memory_mb=limits(function)[1],
        )

    def environment(self, function: Document, deployment: Document, family: str, workdir: Path) -> dict[str, str]:
        """Process environment: safe server settings, function variables, then APPWRITE_* (Appwrite's order)."""
        env = {k: v for k, v in os.environ.items() if k in processes.PASSED_ENV}
        env.setdefault("PATH", os.defpath)
        env.update(self.executor.sandbox.environment(workdir))
        if family == "python":
            env["PATH"] = os.pathsep.join([str(workdir / "bin"), str(workdir / "venv" / "bin"), env["PATH"]])
            env["PYTHONUNBUFFERED"] = "1"
        for variable in self.ctx.store.all("variables", parent=function["$id"]):
            env[variable.get("key", "")] = variable.get("value", "")
        env.update(appwrite_variables(function, deployment, endpoint=self.ctx.config.public_endpoint,
                                      project_id=self.ctx.config.project_id, version=SERVER_VERSION))
        return clean(env)

    async def invoke(self, function: Document, deployment: Document, request: Document, timeout: float) -> Outcome:
        try:
            spec = await asyncio.to_thread(self.worker_spec, function, deployment)
        except OSError as exc:
            return Outcome.failure(f"Could not prepare the deployment's copy: {exc.strerror or exc}")
        if isinstance(spec, str):
            return Outcome.failure(spec)
        headers = {str(k): str(v) for k, v in request["headers"].items()}
        headers.setdefault("host", "localhost:3000")  # the runtime sees its own host, as in Appwrite
        # Minted per run, never stored: a waiting execution gets a key that is valid when it runs.
        headers["x-appwrite-key"] = self.ctx.keys.mint(
            self.ctx.config.project_id, function["$id"], function.get("scopes") or [], ttl=timeout
        )
        invocation = Invocation(method=request["method"], path=request["path"], headers=headers, body=request_body(request))
        started = time.monotonic()
        try:
            return await self.executor.run(spec, invocation, timeout=timeout, logging=bool(function.get("logging", True)))
        except Exception as exc:  # noqa: BLE001 - a failed execution with a reason, never a raw 500
            logger.exception("execution of %s crashed the executor", function["$id"])
            return Outcome.failure(f"The executor failed: {type(exc).__name__}: {exc}", time.monotonic() - started)

    async def retire(self, function_id: str, *, force: bool = False) -> None:
        """Drop a function's warm workers: the next execution cold-starts (running ones finish unless `force`)."""
        await self.executor.retire(function_id, force=force)

    def finish(self, doc: Document, function: Document, outcome: Outcome) -> Document:
        """Copy an outcome onto the document (what Appwrite stores; the body is never stored)."""
        logging_on = bool(function.get("logging", True))
        doc.update({
            "$updatedAt": now_iso(),
            "status": "failed" if outcome.status_code >= 500 else "completed",
            "responseStatusCode": outcome.status_code,
            "responseHeaders": headers_list(outcome.headers, RESPONSE_HEADERS_KEPT),
            "logs": truncate(outcome.logs, LOG_LIMIT, "Logs") if logging_on else "",
            "errors": truncate(outcome.errors, LOG_LIMIT, "Errors") if logging_on else "",
            "duration": round(outcome.duration, 6),
        })
        doc.pop("_request", None)
        return doc

    async def run_sync(self, doc: Document, function: Document, deployment: Document) -> tuple[Document, Outcome]:
        """Run now and store the finished execution. Raises `SyncTimeout` past the sync cap."""
        timeout = float(function.get("timeout", 15) or 15)
        capped = timeout > self.sync_timeout
        outcome = await self.invoke(function, deployment, doc["_request"], min(timeout, self.sync_timeout))
        if capped and outcome.timed_out:
            outcome.errors = "Synchronous function execution timed out. Use asynchronous execution instead, or ensure the execution duration doesn't exceed 30 seconds."
        self.finish(doc, function, outcome)
        self.ctx.store.insert("executions", doc, parent=function["$id"])
        if capped and outcome.timed_out:
            raise SyncTimeout
        return doc, outcome

    def start_workers(self) -> None:
        """Start the queue and its workers (inside the server's event loop)."""
        self.queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        for number in range(self.workers):
            task = loop.create_task(self._work(), name=f"execution-worker-{number}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def start(self, execution_id: str) -> None:
        """Queue a stored waiting execution; a free worker runs it (call from the event loop)."""
        if self.queue is None:
            self.start_workers()
        assert self.queue is not None
        self.queue.put_nowait(execution_id)

    async def _work(self) -> None:
        """One worker: take the next queued execution, run it, repeat."""
        assert self.queue is not None
        while True:
            execution_id = await self.queue.get()
            try:
                await self._run_stored(execution_id)
            except Exception:  # noqa: BLE001 - one bad job must not stop the worker
                logger.exception("queued execution %s could not be run", execution_id)
            finally:
                self.queue.task_done()

    async def _run_stored(self, execution_id: str) -> None:
        store = self.ctx.store
        with store.transaction():
            doc = store.get("executions", execution_id)
            if doc is None or doc.get("status") != "waiting":
                return  # deleted meanwhile, or another runner claimed it
            doc.update(status="processing", **{"$updatedAt": now_iso()})
            store.put("executions", doc)
        function = store.get("functions", doc["functionId"])
        started = time.monotonic()
        try:
            outcome = await self._run_current(function, doc)
        except Exception as exc:  # noqa: BLE001 - a failed execution, never a dead server
            logger.exception("execution %s crashed the executor", execution_id)
            outcome = Outcome.failure(f"The executor failed: {type(exc).__name__}", time.monotonic() - started)
        with store.transaction():
            if store.get("executions", execution_id) is None:
                return
            store.put("executions", self.finish(doc, function or {}, outcome))

    async def _run_current(self, function: Document | None, doc: Document) -> Outcome:
        if function is None:
            return Outcome.failure("Function not found.")
        deployment = self.ctx.store.get("deployments", function.get("deployment", ""))
        if deployment is None or deployment.get("resourceId") != function["$id"]:
            return Outcome.failure("Deployment not found. Create a deployment before trying to execute a function")
        doc["deploymentId"] = deployment["$id"]
        timeout = float(function.get("timeout", 15) or 15)
        return await self.invoke(function, deployment, doc.get("_request") or {"method": "POST", "path": "/", "headers": {}, "body": ""}, timeout)

    def recover(self) -> list[str]:
        """After a restart: interrupted executions fail, never-started ones are queued. Returns the queued ids."""
        queued: list[str] = []
        with self.ctx.store.transaction():
            for doc in self.ctx.store.all("executions"):
                if doc.get("status") == "processing":
                    doc.update(status="failed", responseStatusCode=500, errors="The execution was interrupted by a server restart.",
                               **{"$updatedAt": now_iso()})
                    doc.pop("_request", None)
                    self.ctx.store.put("executions", doc)
                elif doc.get("status") == "waiting":
                    queued.append(doc["$id"])
        return queued

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.executor.close()


@asynccontextmanager
async def running(ctx: ServerContext) -> AsyncIterator[ExecutionService]:
    """The executor and execution service for the app's lifetime (`ctx.services["executions"]`)."""
    service = ExecutionService(ctx, Executor(sandbox=ctx.services.get("sandbox")))
    ctx.services["executions"] = service
    try:
        async with background(service.executor.reap_forever(), "worker-reaper"):
            service.start_workers()
            for execution_id in service.recover():
                service.start(execution_id)
            yield service
    finally:
        await service.close()
        ctx.services.pop("executions", None)
