"""Carry out a plan, and `reconcile`: read state, plan, apply, the one path of `apply`, `watch` and the webhook.

`apply_plan` reads only the plan's changes (never `reason`). Functions run concurrently under a semaphore; each
one's changes run in plan order (settings, variables, code, build, activation) and stop at its first failure,
without touching the other functions. Every change ends with an outcome, so the result says exactly what was and
was not done. Creates that meet "already exists" and deletes that meet "not found" count as done, and a deploy
first looks for a deployment already carrying the same code, so a re-run converges and never creates twice.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from syncer.client import (
    AppwriteClient,
    AppwriteConnectionError,
    AppwriteError,
    AppwriteResponseError,
    RateLimit,
    is_already_exists,
    is_not_found,
    is_transient,
)
from syncer.client.errors import BuildWaitTimeout, scrub
from syncer.creation_limit import CreationDeferred, CreationGate, creation_note
from syncer.client.models import Deployment
from syncer.manifest import ManifestError, check_against_server
from syncer.manifest.models import Manifest
from syncer.history import header_hash
from syncer.packaging import CodePackage, PackagingError, archive_header_hash, package_function
from syncer.plan import Action, Change, ChangeKind, Plan, PlanOptions, compute_plan, unchanged_settings
from syncer.state import HashCache, ServerState, read_state

Status = Literal["done", "started", "failed", "skipped"]
BUILD_TIMEOUT = 900.0
POLL_INTERVAL = 0.2  # first build poll; the client grows it to 5 s for long builds


class BuildPolling(BaseModel):
    """How often to ask whether a build is done: CI is patient, watch mode wants to see a short build at once."""

    model_config = ConfigDict(frozen=True)

    interval: float = POLL_INTERVAL
    max_interval: float | None = None  # None: the client's default ceiling (5 s)


class ApplyFailure(Exception):
    """One change could not be carried out; `build_logs` is set when a build failed."""

    def __init__(self, message: str, build_logs: str = "") -> None:
        super().__init__(message)
        self.build_logs = build_logs


class Outcome(BaseModel):
    """What happened to one change: done, started (build not waited for), failed, or skipped."""

    model_config = ConfigDict(frozen=True)

    address: str
    kind: str
    action: str
    status: Status
    detail: str


class FunctionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    function_id: str
    outcomes: tuple[Outcome, ...]
    error: str | None = None
    build_logs: str | None = None
    transient: bool = False  # the failure was the network, a 5xx or a 429: running again later may succeed
    deferred: bool = False  # not created because the server's creation limit was reached: re-run after the reset

    @property
    def ok(self) -> bool:
        return self.error is None


class ApplyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan: Plan
    functions: tuple[FunctionResult, ...] = ()
    reads: int = 0
    writes: int = 0
    creation_limit: RateLimit | None = None  # set when creates were deferred by the server's creation limit

    @property
    def ok(self) -> bool:
        return all(fr.ok for fr in self.functions)

    @property
    def deferred(self) -> list[str]:
        """Functions left uncreated by the server's creation limit (a re-run after its reset creates them)."""
        return [fr.function_id for fr in self.functions if fr.deferred]

    @property
    def failed(self) -> list[str]:
        return [fr.function_id for fr in self.functions if not fr.ok]


class Reporter:
    """Progress hooks for a display; the default does nothing. Called from the event loop, never concurrently."""

    def function_started(self, function_id: str, changes: int) -> None: ...

    def step(self, function_id: str, text: str) -> None: ...

    def build_status(self, function_id: str, deployment_id: str, status: str) -> None: ...

    def function_finished(self, result: FunctionResult) -> None: ...


def describe(change: Change) -> str:
    """A short phrase for a change, used for outcomes that were not carried out."""
    if change.kind is ChangeKind.VARIABLE:
        return f"{change.action.value} variable {change.key}"
    if change.kind is ChangeKind.CODE:
        return "deploy code" if change.action is Action.DEPLOY else "rebuild"
    return f"{change.action.value} function"


class _FunctionRun:
    """Applies one function's changes in order; stops at the first failure and records the rest as skipped."""

    def __init__(
        self,
        function_id: str,
        changes: list[Change],
        manifest: Manifest,
        client: AppwriteClient,
        *,
        wait: bool,
        reporter: Reporter,
        work_dir: Path,
        secrets: tuple[str, ...],
        polling: BuildPolling,
        creations: CreationGate,
    ) -> None:
        self.fid = function_id
        self.creations = creations
        self.polling = polling
        self.changes = changes
        self.manifest = manifest
        self.client = client
        self.wait = wait
        self.reporter = reporter
        self.work_dir = work_dir
        self.secrets = secrets
        self.outcomes: list[Outcome] = []

    def _record(self, change: Change, status: Status, detail: str) -> None:
        self.outcomes.append(
            Outcome(address=change.address, kind=change.kind.value, action=change.action.value, status=status, detail=detail)
        )

    async def run(self) -> FunctionResult:
        self.reporter.function_started(self.fid, len(self.changes))
        error: str | None = None
        build_logs: str | None = None
        transient = deferred = False
        for index, change in enumerate(self.changes):
            try:
                status, detail = await self._apply(change)
            except CreationDeferred as exc:
                error, deferred, transient = str(exc), True, True
                self._record(change, "skipped", f"{describe(change)} deferred (creation limit)")
                for rest in self.changes[index + 1 :]:
                    self._record(rest, "skipped", f"{describe(rest)} (not attempted)")
                break
            except Exception as exc:  # noqa: BLE001 - even a bug must end as an outcome, or what was applied goes unsaid
                known = isinstance(exc, (AppwriteError, ApplyFailure, PackagingError, OSError, ValueError))
                text = str(exc) or type(exc).__name__
                error = scrub(text if known else f"unexpected {type(exc).__name__}: {text}", self.secrets)
                transient = is_transient(exc)
                if isinstance(exc, ApplyFailure) and exc.build_logs:
                    build_logs = scrub(exc.build_logs, self.secrets)
                self._record(change, "failed", f"{describe(change)} failed")
                for rest in self.changes[index + 1 :]:
                    self._record(rest, "skipped", f"{describe(rest)} (not attempted)")
                break
            self._record(change, status, detail)
            self.reporter.step(self.fid, detail)
        result = FunctionResult(
            function_id=self.fid,
            outcomes=tuple(self.outcomes),
            error=error,
            build_logs=build_logs,
            transient=transient,
            deferred=deferred,
        )
        self.reporter.function_finished(result)
        return result

    async def _apply(self, change: Change) -> tuple[Status, str]:
        if change.kind is ChangeKind.FUNCTION:
            return await self._function(change)
        if change.kind is ChangeKind.VARIABLE:
            return await self._variable(change)
        if change.action is Action.DEPLOY:
            return await self._deploy(change)
        return await self._rebuild(change)

    # -- settings ---------------------------------------------------------------------------------------------

    async def _function(self, change: Change) -> tuple[Status, str]:
        if change.action is Action.DELETE:
            try:
                await self.client.delete_function(self.fid)
            except AppwriteError as exc:
                if not is_not_found(exc):
                    raise
            return "done", "deleted"
        assert change.after is not None
        if change.action is Action.CREATE:
            if self.creations.reached:
                raise CreationDeferred(self.creations.limit)
            try:
                await self.client.create_function(self.fid, change.after)
                return "done", "created"
            except AppwriteResponseError as exc:
                if exc.rate_limited:
                    self.creations.reach(exc.rate_limit)
                    raise CreationDeferred(exc.rate_limit) from None
                if not is_already_exists(exc):
                    raise
            # It exists (our own retried create, or someone else's): converge its settings instead, keeping
            # what the create body leaves to the server (a PUT resets what it is not sent).
            existing = await self.client.get_function(self.fid)
            if existing is not None:
                kept = unchanged_settings(existing, await self.client.capabilities())
                await self.client.update_function(self.fid, {**kept, **change.after})
                return "done", "updated settings (it existed already)"
        await self.client.update_function(self.fid, change.after)
        fields = change.changed_fields()
        return "done", "updated " + ", ".join(fields) if fields else "updated settings"

    async def _variable(self, change: Change) -> tuple[Status, str]:
        key = change.key
        if change.action is Action.DELETE:
            assert change.before is not None
            try:
                await self.client.delete_variable(self.fid, change.before["id"])
            except AppwriteError as exc:
                if not is_not_found(exc):
                    raise
            return "done", f"variable {key} removed"
        assert change.after is not None
        value = change.after["value"]
        secret: bool | None = change.after.get("secret")  # only planned against servers with secret variables
        description: str | None = change.after.get("description")  # only planned where variables have one
        if change.action is Action.UPDATE:
            assert change.before is not None
            try:
                await self.client.update_variable(
                    self.fid, change.before["id"], key, value, secret=secret, description=description
                )
                return "done", f"variable {key} changed"
            except AppwriteError as exc:
                if not is_not_found(exc):
                    raise
        try:
            await self.client.create_variable(self.fid, key, value, secret=secret, description=description)
        except AppwriteError as exc:
            if not is_already_exists(exc):
                raise
            existing = next((v for v in await self.client.list_variables(self.fid) if v.key == key), None)
            if existing is None:
                raise
            if existing.value != value or existing.secret:
                await self.client.update_variable(
                    self.fid, existing.id, key, value, secret=secret, description=description
                )
        return "done", f"variable {key} set"

    # -- code -------------------------------------------------------------------------------------------------

    async def _archive(self, change: Change) -> Path:
        """The archive the plan describes: the planned file if it still has that hash, else packaged afresh."""
        assert change.after is not None
        wanted = change.after["code_hash"]
        planned = change.after.get("archive")
        if planned and Path(planned).is_file() and archive_header_hash(Path(planned)) == wanted:
            return Path(planned)
        spec = self.manifest.functions.get(self.fid)
        if spec is None:
            raise ApplyFailure(f"{self.fid} is not in the manifest any more")
        package: CodePackage = await asyncio.to_thread(
            package_function, spec, self.work_dir / self.fid, root=self.manifest.root
        )
        if package.code_hash != wanted:
            raise ApplyFailure(f"the code of {self.fid} changed since the plan was made; plan again")
        return Path(package.archive)

    async def _existing_with_hash(self, code_hash: str | None, exclude: str = "") -> Deployment | None:
        """The newest deployment, when it already holds this code and has not failed: ours from an earlier run."""
        latest = await self.client.latest_deployment(self.fid)
        if latest is None or latest.id == exclude or latest.status in ("failed", "canceled"):
            return None
        if code_hash is None:
            return latest
        return latest if await header_hash(self.client, self.fid, latest.id) == code_hash else None

    async def _deploy(self, change: Change) -> tuple[Status, str]:
        assert change.after is not None
        after = change.after
        code_hash: str = after["code_hash"]
        activate = bool(after.get("activate", True))
        archive = await self._archive(change)
        deployment = await self._existing_with_hash(code_hash, exclude=(change.before or {}).get("deployment", ""))
        if deployment is None:
            self.reporter.step(self.fid, f"uploading {after['file_count']} files")
            try:
                deployment = await self.client.create_deployment(
                    self.fid,
                    archive,
                    activate=activate,
                    entrypoint=after.get("entrypoint") or None,
                    commands=after.get("commands") or None,
                )
            except AppwriteConnectionError as exc:
                # The upload may have landed although the answer was lost: adopt it rather than upload twice.
                deployment = await self._existing_with_hash(code_hash) if exc.maybe_applied else None
                if deployment is None:
                    raise
        label = f"deployed {deployment.id} (hash {code_hash[:12]})"
        return await self._finish(deployment.id, label, activate)

    async def _rebuild(self, change: Change) -> tuple[Status, str]:
        assert change.after is not None
        source = change.after["deployment"]
        activate = bool(change.after.get("activate", True))
        try:
            deployment = await self.client.rebuild_deployment(self.fid, source)
        except AppwriteConnectionError as exc:
            deployment = await self._existing_with_hash(None, exclude=source) if exc.maybe_applied else None
            if deployment is None:
                raise
        return await self._finish(deployment.id, f"rebuilt {source} as {deployment.id}", activate)

    async def _finish(self, deployment_id: str, label: str, activate: bool) -> tuple[Status, str]:
        """Wait for the build, then make sure it is active and the function `live`."""
        if not self.wait:
            return "started", f"{label}, build not waited for"
        self.reporter.build_status(self.fid, deployment_id, "waiting")
        try:
            built = await self.client.wait_for_build(
                self.fid,
                deployment_id,
                timeout=BUILD_TIMEOUT,
                poll_interval=self.polling.interval,
                max_interval=self.polling.max_interval,
                on_status=lambda d: self.reporter.build_status(self.fid, d.id, d.status or "waiting"),
            )
        except BuildWaitTimeout as exc:
            raise ApplyFailure(str(exc), exc.deployment.build_logs) from None
        if built.status != "ready":
            raise ApplyFailure(f"build of {deployment_id} {built.status or 'failed'}", built.build_logs or "(no build log)")
        if not activate:
            return "done", f"{label}, build ready (not activated)"
        function = await self.client.get_function(self.fid)
        if function is None:
            raise ApplyFailure(f"{self.fid} disappeared during the build")
        if function.deployment != deployment_id:
            function = await self.client.activate_deployment(self.fid, deployment_id)
        if not function.live:
            # Manual activation does not touch `live`; a PUT of the unchanged settings recomputes it to true.
            await self.client.update_function(self.fid, unchanged_settings(function, await self.client.capabilities()))
        return "done", f"{label}, build ready, activated"


async def apply_plan(
    plan: Plan,
    manifest: Manifest,
    client: AppwriteClient,
    *,
    concurrency: int = 8,
    wait: bool = True,
    reporter: Reporter | None = None,
    polling: BuildPolling = BuildPolling(),
) -> ApplyResult:
    """Apply every change of `plan`; functions run concurrently, each in order, independent of the others."""
    reporter = reporter or Reporter()
    reads, writes = client.stats.reads, client.stats.writes
    limit = asyncio.Semaphore(max(1, concurrency))
    secrets = tuple(manifest.sensitive_values())
    creations = CreationGate()

    with tempfile.TemporaryDirectory(prefix="fnsync-apply-") as tmp:

        async def one(function_id: str) -> FunctionResult:
            async with limit:
                run = _FunctionRun(
                    function_id,
                    plan.for_function(function_id),
                    manifest,
                    client,
                    wait=wait,
                    reporter=reporter,
                    work_dir=Path(tmp),
                    secrets=secrets,
                    polling=polling,
                    creations=creations,
                )
                return await run.run()

        results = await asyncio.gather(*(one(fid) for fid in plan.function_ids()))
    return ApplyResult(
        plan=plan,
        functions=tuple(results),
        reads=client.stats.reads - reads,
        writes=client.stats.writes - writes,
        creation_limit=creations.limit if creations.reached else None,
    )


# --- plan + apply ------------------------------------------------------------------------------------------------


async def gather_settled(*awaitables: Awaitable[Any]) -> list[Any]:
    """Like `asyncio.gather`, but every awaitable finishes before the first failure is re-raised.

    Packaging runs in threads that write into a temporary folder; a plain gather would raise while they still
    write, and the caller would remove the folder under them.
    """
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def package_all(manifest: Manifest, out_dir: Path, targets: Iterable[str] = ()) -> dict[str, CodePackage]:
    """Package every selected function that has code (in threads: it is disk and CPU work)."""
    wanted = set(targets)
    specs = [s for s in manifest.functions.values() if s.path is not None and (not wanted or s.id in wanted)]
    packages = await gather_settled(
        *(asyncio.to_thread(package_function, s, out_dir / s.id, root=manifest.root) for s in specs)
    )
    return {spec.id: package for spec, package in zip(specs, packages)}


async def make_plan(
    manifest: Manifest,
    client: AppwriteClient,
    options: PlanOptions,
    *,
    work_dir: Path,
    concurrency: int = 8,
    cache: HashCache | None = None,
    probe_creations: bool = False,
) -> tuple[Plan, ServerState, dict[str, CodePackage]]:
    """Package, read the server, check the manifest against what the server offers, and plan. No writes.

    `probe_creations`: when the plan creates functions, learn the server's creation allowance (one probe, see
    `creation_note`) so the plan can say it will not all fit.
    """
    state, packages = await gather_settled(
        read_state(client, manifest, targets=options.targets, concurrency=concurrency, cache=cache),
        package_all(manifest, work_dir, options.targets),
    )
    issues = check_against_server(
        manifest, [r.id for r in state.runtimes], [s.slug for s in state.specifications], state.capabilities
    )
    if issues:
        raise ManifestError(issues)
    plan = compute_plan(manifest, state, options, packages)
    note = await creation_note(plan, state, client) if probe_creations else ""
    if note:
        plan = plan.model_copy(update={"notes": (*plan.notes, note)})
    return plan, state, packages


async def reconcile(
    manifest: Manifest,
    client: AppwriteClient,
    *,
    targets: Iterable[str] | None = None,
    prune: bool = False,
    activate: bool = True,
    wait: bool = True,
    concurrency: int = 8,
    reporter: Reporter | None = None,
    cache: HashCache | None = None,
    polling: BuildPolling = BuildPolling(),
) -> ApplyResult:
    """Make the server match `manifest`: the single path used by `fnsync apply`, `watch` and the webhook.

    Level-based: it always re-reads the server, so it is safe to call again after any failure.
    Raises `ManifestError` (nothing written) when the manifest does not fit the server, `PlanError` when the
    plan cannot be made.
    """
    options = PlanOptions(targets=tuple(targets or ()), prune=prune, activate=activate)
    reads, writes = client.stats.reads, client.stats.writes
    with tempfile.TemporaryDirectory(prefix="fnsync-plan-") as tmp:
        plan, _, _ = await make_plan(manifest, client, options, work_dir=Path(tmp), concurrency=concurrency, cache=cache)
        result = await apply_plan(
            plan, manifest, client, concurrency=concurrency, wait=wait, reporter=reporter, polling=polling
        )
    return result.model_copy(update={"reads": client.stats.reads - reads, "writes": client.stats.writes - writes})


def scrub_text(text: Any, manifest: Manifest, extra: Iterable[str] = ()) -> str:
    """Remove sensitive manifest values (and e.g. the API key) from any text about to be shown."""
    return scrub(str(text), (*manifest.sensitive_values(), *extra))
