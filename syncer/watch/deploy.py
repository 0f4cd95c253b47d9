"""One lane run: reconcile one function through `syncer.apply.reconcile` and sum it up as a `Cycle`.

No planning or deploying happens here: the reconciler reads the server, packages the tree as it is
now, and deploys only when the code hash differs. This module only watches it work (a reporter) and
turns the result into one line's worth of data, then runs `--invoke` after a successful deploy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from syncer.apply import ApplyResult, BuildPolling, FunctionResult, Reporter, reconcile, scrub_text
from syncer.client import AppwriteClient, AppwriteError
from syncer.manifest import ManifestError
from syncer.manifest.models import Manifest
from syncer.packaging import PackagingError
from syncer.plan import PlanError
from syncer.watch.events import Cycle, Invocation, Outcome
from syncer.watch.lanes import Note

CODE_ACTIONS = frozenset({"deploy", "rebuild"})


@dataclass(frozen=True)
class InvokeSpec:
    """`--invoke "GET /path"`: executed after each successful deploy."""

    method: str
    path: str

    @classmethod
    def parse(cls, text: str) -> InvokeSpec:
        """`"GET /"`, `"post /api?x=1"`, or just `"/path"` (GET). Raises ValueError for anything else."""
        parts = text.split()
        if len(parts) == 1 and parts[0].startswith("/"):
            parts = ["GET", parts[0]]
        if len(parts) != 2 or not parts[1].startswith("/"):
            raise ValueError(f'expected "METHOD /path", e.g. "GET /", got {text!r}')
        method = parts[0].upper()
        if method not in {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}:
            raise ValueError(f"unsupported method {parts[0]!r} (GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD)")
        return cls(method=method, path=parts[1])


@dataclass(frozen=True)
class DeploySettings:
    invoke: InvokeSpec | None = None
    build_poll_interval: float = 0.05  # seconds before the first build status poll
    build_poll_max: float = 0.25  # the longest wait between polls, so a short build is seen promptly


class _Collect(Reporter):
    """Remembers the deployment a run created and when its build started and ended."""

    def __init__(self) -> None:
        self.deployment_id = ""
        self.build_started: float | None = None
        self.build_ended: float | None = None

    def build_status(self, function_id: str, deployment_id: str, status: str) -> None:
        now = time.monotonic()
        self.deployment_id = deployment_id
        if self.build_started is None:
            self.build_started = now
        if status in ("ready", "failed", "canceled"):
            self.build_ended = now


async def sync_function(
    manifest: Manifest, client: AppwriteClient, function_id: str, note: Note, settings: DeploySettings
) -> Cycle:
    """Reconcile one function and describe what happened. Never raises for server, manifest or plan trouble."""
    collect = _Collect()
    changed = note.describe()
    polling = BuildPolling(interval=settings.build_poll_interval, max_interval=settings.build_poll_max)
    try:
        result = await reconcile(manifest, client, targets=[function_id], prune=False, reporter=collect, polling=polling)
    except ManifestError as exc:  # the manifest does not fit this server (runtime, specification)
        return Cycle(function_id=function_id, changed=changed, outcome=Outcome.ERROR, detail=str(exc))
    except (AppwriteError, PackagingError, PlanError, OSError, ValueError) as exc:
        detail = scrub_text(f"{type(exc).__name__}: {exc}", manifest)
        return Cycle(function_id=function_id, changed=changed, outcome=Outcome.ERROR, detail=detail)
    live_at = time.time()
    return await _summarise(manifest, client, function_id, note, result, collect, live_at, settings)


async def _summarise(
    manifest: Manifest,
    client: AppwriteClient,
    function_id: str,
    note: Note,
    result: ApplyResult,
    collect: _Collect,
    live_at: float,
    settings: DeploySettings,
) -> Cycle:
    changed = note.describe()
    mine: FunctionResult | None = next((r for r in result.functions if r.function_id == function_id), None)
    if mine is None:
        return Cycle(function_id=function_id, changed=changed, outcome=Outcome.UNCHANGED)
    other = [o.detail for o in mine.outcomes if o.kind != "code" and o.status == "done"]
    deployed = any(o.kind == "code" and o.action in CODE_ACTIONS and o.status == "done" for o in mine.outcomes)
    if not mine.ok:
        if mine.build_logs is not None and collect.deployment_id:
            return Cycle(
                function_id=function_id,
                changed=changed,
                outcome=Outcome.FAILED,
                deployment_id=collect.deployment_id,
                build_seconds=await _build_seconds(client, function_id, collect),
                build_logs=mine.build_logs,
                detail=mine.error or "",
            )
        return Cycle(function_id=function_id, changed=changed, outcome=Outcome.ERROR, detail=mine.error or "failed")
    if not deployed:
        return Cycle(function_id=function_id, changed=changed, outcome=Outcome.UPDATED, detail="; ".join(other))
    saved = note.last_saved or note.first_seen
    invocation = await invoke(client, function_id, settings.invoke, manifest) if settings.invoke else None
    return Cycle(
        function_id=function_id,
        changed=changed,
        outcome=Outcome.DEPLOYED,
        deployment_id=collect.deployment_id,
        build_seconds=await _build_seconds(client, function_id, collect),
        total_seconds=max(0.0, live_at - saved) if saved else None,
        detail="; ".join(other),
        invocation=invocation,
    )


async def _build_seconds(client: AppwriteClient, function_id: str, collect: _Collect) -> float | None:
    """The server's build time when it reports one (whole seconds in 1.6), else what the status polls saw."""
    seen = None
    if collect.build_started is not None and collect.build_ended is not None:
        seen = collect.build_ended - collect.build_started
    if collect.deployment_id and (seen is None or seen >= 1.0):
        try:
            deployment = await client.get_deployment(function_id, collect.deployment_id)
        except AppwriteError:
            return seen
        if deployment.build_time > 0:
            return float(deployment.build_time)
    return seen


async def invoke(client: AppwriteClient, function_id: str, spec: InvokeSpec, manifest: Manifest) -> Invocation:
    """Execute the function synchronously and keep status and body (secrets scrubbed)."""
    try:
        execution = await client.create_execution(function_id, method=spec.method, path=spec.path)
    except AppwriteError as exc:
        return Invocation(method=spec.method, path=spec.path, error=scrub_text(exc, manifest))
    body = execution.response_body
    if execution.status == "failed" and not body:
        body = execution.errors
    return Invocation(
        method=spec.method,
        path=spec.path,
        status_code=execution.response_status_code,
        status=execution.status,
        body=scrub_text(body, manifest),
    )
