"""One job, end to end: match functions, decide and export the commit, reconcile through `syncer.apply`.

The job is identity only (repository, branch, commits); everything else is re-read here (controller-runtime's
level-based habit), so running a job twice converges to the same state: the packager is deterministic and
the planner compares code hashes, so an unchanged tree is never redeployed. VCS reports are queued for the
background reporter and never wait on the deployment's path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from syncer.apply import ApplyResult, Reporter, reconcile
from syncer.plan import PlanError
from syncer.client import AppwriteClient
from syncer.client.errors import AppwriteConnectionError, AppwriteError, AppwriteResponseError
from syncer.client.models import Function
from syncer.manifest import ManifestError
from syncer.manifest.models import FunctionSpec, Manifest
from webhook import prplan, specs
from webhook.checkout import Checkout, check_out
from webhook.config import WebhookConfig, scrub
from webhook.deliveries import Claim, Status, Store
from webhook.errors import JobError, TerminalError, TransientError
from webhook.events import JobRequest
from webhook.gitmanifest import PRIVATE_ENV, check_inside, load_from_tree, manifest_environ
from webhook.locking import COMMAND as LOCK_COMMAND, project_lock
from webhook.mirror import GitError, MirrorCache
from webhook.prplan import PlanSection
from webhook.reporting import Comment, FunctionReport, ReportQueue

__all__ = ["PRIVATE_ENV", "JobRunner", "Outcome", "manifest_environ"]

log = logging.getLogger("fnsync.webhook")
UNFINISHED = ("", "waiting", "processing", "building")
BUILD_ENDED = ("ready", "failed", "canceled")


@dataclass
class Outcome:
    status: Status
    reason: str
    deployments: dict[str, str] = field(default_factory=dict)
    deployed: str | None = None  # the commit the branch is now deployed at (pushes that finished `done`)
    superseded_by: str | None = None  # the delivery that deployed a newer commit (stale pushes)


@dataclass
class JobRunner:
    config: WebhookConfig
    client: AppwriteClient
    store: Store
    mirrors: MirrorCache
    reports: ReportQueue
    settle_timeout: float = 300.0
    builds: dict[str, dict[str, float]] = field(default_factory=dict)  # delivery id -> function id -> build seconds

    def build_seconds(self, delivery_id: str) -> dict[str, float]:
        """How long each deployment of the delivery took to build, from its creation until ready (or failed) as
        observed while waiting for it; forgotten once read (the worker reads it when it logs the outcome)."""
        return self.builds.pop(delivery_id, {})

    async def run(self, claim: Claim) -> Outcome:
        job = claim.job
        try:
            functions = await self.client.list_functions()
        except AppwriteError as exc:
            raise _appwrite(exc, self.config) from exc
        matched = specs.matched_functions(functions, job.repo_id, job.branch)
        if not matched:
            return Outcome(Status.IGNORED, f"no function is linked to repository {job.repo_id} on branch {job.branch}")
        work = self.config.work_dir / claim.delivery_id.replace(":", "_").replace("/", "_")
        shutil.rmtree(work, ignore_errors=True)
        try:
            tree = work / "tree"
            checkout = await anyio.to_thread.run_sync(self._check_out, claim, tree)
            if checkout.stale is not None:
                return Outcome(Status.SUPERSEDED, checkout.stale, superseded_by=claim.deployed.delivery_id if claim.deployed else None)
            if checkout.sha != job.sha:
                await self.store.note(claim.delivery_id, f"deploying {checkout.sha[:12]}, the newest by history of {job.sha[:12]} and the commits it replaced")
                job = job.model_copy(update={"sha": checkout.sha})
                claim = claim.model_copy(update={"job": job})
            loud = [f for f in matched if not f.provider_silent_mode]
            planning = job.kind == "pull_request" and bool(loud)  # silent functions are neither planned nor reported
            pending = [FunctionReport(f.id, "pending", "fnsync: deploying") for f in loud]
            self._report(job, pending + ([prplan.pending()] if planning else []))
            plan: PlanSection | None = None
            try:
                manifest = await self._load_manifest(claim, tree)
                if planning:  # before the previews, from the server as it is: reads only
                    plan = await self._plan(claim, matched, loud, tree, manifest, checkout.changed, pending)
                outcome = await self._deploy(claim, matched, tree, checkout.changed, manifest)
            except JobError as exc:
                if not exc.transient or claim.attempts >= self.config.max_attempts:
                    failures = [FunctionReport(f.id, "failure", _first_line(str(exc))) for f in loud]
                    statuses = list(failures)
                    if planning and plan is None:
                        problems = exc.issues if isinstance(exc, InvalidManifest) else str(exc)
                        plan = prplan.failed(self._plan_title(job), problems, self.config.secrets())
                        statuses.append(plan.status())
                    self._report(job, statuses, Comment(failures, plan))
                raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        reports = [
            FunctionReport(f.id, "success", "deployed" if f.id in outcome.deployments else "unchanged", outcome.deployments.get(f.id, ""))
            for f in loud
        ]
        self._report(job, reports, Comment(reports, plan))
        if job.kind == "push":
            outcome.deployed = job.sha
        return outcome

    async def _plan(
        self, claim: Claim, matched: list[Function], loud: list[Function], tree: Path, manifest: Manifest | None,
        changed: tuple[str, ...] | None, pending: list[FunctionReport],
    ) -> PlanSection:
        """What merging the pull request would change: the head's manifest planned as the push after the merge
        would reconcile it (settings, variables and code of the loud matched functions), written nowhere.
        Posts the `fnsync/plan` status and the comment with the plan while the previews build."""
        job = claim.job
        title, secrets = self._plan_title(job), self.config.secrets()
        env = self.config.environment_for(job.branch)
        try:
            desired, paths = self._desired("push", job, matched, tree, manifest)
        except TerminalError as exc:
            section = prplan.failed(title, str(exc), secrets)
        else:
            files = prplan.manifest_files(self.config.manifest_path, env)
            if not prplan.concerns_plan(changed, files, [paths[f.id] for f in loud]):
                section = PlanSection(title, skipped="the pull request changes neither the manifest nor a planned function's files")
            else:
                hidden: set[str] = set()
                if job.fork and manifest is not None:  # a fork's manifest must not show what the receiver's environment holds
                    environ = manifest_environ(os.environ, secrets)
                    hidden = prplan.environment_values(manifest.source.read_text(encoding="utf-8"), environ)
                try:
                    section = await prplan.plan_pull_request(
                        self.client, desired, [f.id for f in loud], tree, tree.parent / "plan", title, secrets=secrets, hidden=hidden
                    )
                except AppwriteError as exc:
                    raise _appwrite(exc, self.config) from exc
        await self.store.note(claim.delivery_id, f"plan: {section.status().description}")
        self._report(job, [section.status()], Comment(pending, section))
        return section

    def _plan_title(self, job: JobRequest) -> str:
        return prplan.plan_title(job.branch, self.config.environment_for(job.branch))

    async def _deploy(
        self, claim: Claim, matched: list[Function], tree: Path, changed: tuple[str, ...] | None, manifest: Manifest | None
    ) -> Outcome:
        job = claim.job
        desired, paths = self._desired(job.kind, job, matched, tree, manifest)
        if changed is None:
            targets = [f.id for f in matched]
        else:
            manifest_changed = manifest is not None and self.config.manifest_path in changed and job.kind == "push"
            targets = [
                f.id
                for f in matched
                if specs.touches(paths[f.id], changed) or (manifest_changed and f.id in (manifest.functions if manifest else {}))
            ]
        if not targets:
            return Outcome(Status.DONE, f"no linked function's files changed in {job.sha[:12]}")
        await self.store.note(claim.delivery_id, f"reconciling {', '.join(targets)} at {job.sha[:12]}")
        if claim.interrupted:
            await self._settle(targets)  # an interrupted attempt may have left builds running
        return await self._reconcile(claim, desired, targets)

    def _check_out(self, claim: Claim, tree: Path) -> Checkout:
        """Runs in a thread: git is blocking."""
        job = claim.job
        try:
            return check_out(self.mirrors, job, claim.deployed, tree)
        except GitError as exc:
            raise (TransientError if exc.transient else TerminalError)(scrub(str(exc), self.config.secrets())) from exc
        except (OSError, ValueError) as exc:  # tarfile's data filter refusing a link out of the tree, a full disk
            raise TerminalError(f"cannot export {job.sha[:12]}: {exc}") from exc

    async def _load_manifest(self, claim: Claim, tree: Path) -> Manifest | None:
        """The commit's manifest, with the environment the branch maps to (`--branch-env`), if any.

        For a pull request the base branch decides, so a preview packages what a push there would."""
        job = claim.job
        path = tree / self.config.manifest_path
        env = self.config.environment_for(job.branch)
        if not path.is_file():
            if env is not None:
                await self.store.note(claim.delivery_id, f"no {self.config.manifest_path} in {job.sha[:12]}: environment {env} not used")
            return None
        try:
            manifest = load_from_tree(path, tree, manifest_environ(os.environ, self.config.secrets()), env)
        except ManifestError as exc:
            text = scrub(prplan.relative(str(exc), tree), self.config.secrets())  # repository-relative paths
            where = f" with environment {env!r} (branch {job.branch}, --branch-env)" if env is not None else ""
            raise InvalidManifest(f"invalid manifest {self.config.manifest_path}{where}: {text}", text) from exc
        if env is not None:
            note = f"manifest {self.config.manifest_path} loaded with environment {env} (branch {job.branch})"
            if manifest.project and self.config.project and manifest.project != self.config.project:
                # As in the CLI, APPWRITE_PROJECT_ID wins over the manifest's `project`; say so, loudly.
                note += f"; it names project {manifest.project}, but this receiver deploys to {self.config.project}"
                log.warning("delivery %s: %s", claim.delivery_id, note)
            await self.store.note(claim.delivery_id, note)
        return manifest

    def _desired(
        self, kind: str, job: JobRequest, matched: list[Function], tree: Path, manifest: Manifest | None
    ) -> tuple[Manifest, dict[str, list[str]]]:
        """The manifest to reconcile as a `kind` job: matched functions only. Previews (pull requests) never change
        settings or variables (a preview must not touch what runs live), so they use the server's settings with the
        manifest's code path; a pull request's plan asks for `push`, what the merge will reconcile."""
        described = manifest.functions if manifest is not None else {}
        wanted: dict[str, FunctionSpec] = {}
        paths: dict[str, list[str]] = {}
        for function in matched:
            try:
                server_spec = specs.spec_from_server(function, tree)
            except ValueError as exc:
                raise TerminalError(f"function {function.id}: {exc}") from exc
            if function.id in described:
                from_manifest = described[function.id]  # no `git:` block = the server's link is kept
                if kind == "push":
                    spec = from_manifest
                else:
                    spec = server_spec.model_copy(update={"path": from_manifest.path or server_spec.path})
                paths[function.id] = specs.watched_paths(function, from_manifest, tree, manifest)
            else:
                spec = server_spec
                paths[function.id] = specs.watched_paths(function, spec, tree, None)
            check_inside(tree, spec, manifest)
            if spec.path is not None and not spec.path.is_dir():
                raise TerminalError(f"function {function.id}: folder {spec.path.relative_to(tree) if spec.path.is_relative_to(tree) else spec.path} is not in commit {job.sha[:12]}")
            wanted[function.id] = spec
        source = manifest.source if manifest is not None else tree / self.config.manifest_path
        desired = Manifest(source=source, functions=wanted)
        return desired, paths

    async def _settle(self, targets: list[str]) -> None:
        """Wait until no build of `targets` is still running, so the planner sees the result of an interrupted
        attempt (its build may have activated the very code we are about to deploy)."""
        deadline = time.monotonic() + self.settle_timeout
        for function_id in targets:
            while True:
                try:
                    deployments = await self.client.list_deployments(function_id)
                except AppwriteError as exc:
                    raise _appwrite(exc, self.config) from exc
                if not any(d.status in UNFINISHED for d in deployments):
                    break
                if time.monotonic() > deadline:
                    raise TransientError(f"builds of {function_id} still running after {self.settle_timeout:.0f}s")
                await asyncio.sleep(0.2)

    async def _reconcile(self, claim: Claim, desired: Manifest, targets: list[str]) -> Outcome:
        job = claim.job
        recorder = _DeploymentRecorder(self.store, claim.delivery_id)
        self.builds[claim.delivery_id] = recorder.build_seconds
        try:
            async with project_lock(
                self.client,
                f"{LOCK_COMMAND} {claim.delivery_id}",
                wait=self.config.lock_wait,
                ttl=self.config.lock_ttl,
                on_wait=lambda text: recorder.spawn(self.store.note(claim.delivery_id, text)),
            ):
                result = await reconcile(
                    desired,
                    self.client,
                    targets=targets,
                    prune=False,
                    activate=job.kind == "push",
                    wait=True,
                    reporter=recorder,
                )
        except AppwriteError as exc:
            raise _appwrite(exc, self.config) from exc
        except (ManifestError, PlanError) as exc:
            raise TerminalError(scrub(str(exc), self.config.secrets() | desired.sensitive_values())) from exc
        finally:
            await recorder.flush()
        deployments = {**claim.deployments, **recorder.deployments}
        failure = _result_failure(result)
        if failure is not None:
            raise type(failure)(scrub(str(failure), self.config.secrets() | desired.sensitive_values()))
        what = "preview built" if job.kind == "pull_request" else "deployed and activated"
        summary = ", ".join(f"{fid}={dep}" for fid, dep in sorted(deployments.items())) or "nothing to deploy (code unchanged)"
        return Outcome(Status.DONE, f"{what} {job.sha[:12]}: {summary}", deployments)

    def _report(self, job: JobRequest, reports: list[FunctionReport], comment: Comment | None = None) -> None:
        """Queue statuses (and the PR comment) for the background reporter; never waits, never raises.
        `reports` holds only functions not in silent mode (and the plan's status)."""
        if reports:
            self.reports.submit(job, reports, comment)


class InvalidManifest(TerminalError):
    """The commit's manifest does not load; `issues` are its `file:line: field: message` lines."""

    def __init__(self, message: str, issues: str) -> None:
        super().__init__(message)
        self.issues = issues


class _DeploymentRecorder(Reporter):
    """Reporter handed to `reconcile`: records each deployment id in the delivery log the moment it exists,
    so a crash cannot lose which deployment a delivery made, and times each build from its creation until
    ready or failed.

    `reconcile` calls reporters synchronously on the event loop, and the store is async: each write is a task
    started at once (so it lands while the build runs), and `flush` awaits them before the job's outcome."""

    def __init__(self, store: Store, delivery_id: str) -> None:
        self.store = store
        self.delivery_id = delivery_id
        self.deployments: dict[str, str] = {}
        self.build_seconds: dict[str, float] = {}
        self._created: dict[str, float] = {}  # deployment id -> monotonic time it was first reported
        self._writes: set[asyncio.Task[None]] = set()

    def spawn(self, write: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(write)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def build_status(self, function_id: str, deployment_id: str, status: str) -> None:
        now = time.monotonic()
        created = self._created.setdefault(deployment_id, now)
        if status in BUILD_ENDED:
            self.build_seconds[function_id] = now - created
        if self.deployments.get(function_id) != deployment_id:
            self.deployments[function_id] = deployment_id
            self.spawn(self.store.add_deployment(self.delivery_id, function_id, deployment_id))


def _result_failure(result: ApplyResult) -> JobError | None:
    failed = [fr for fr in result.functions if not fr.ok]
    if not failed:
        return None
    text = "; ".join(f"{fr.function_id}: {fr.error}" for fr in failed)
    build = [fr for fr in failed if fr.build_logs]
    if build:
        logs = (build[0].build_logs or "").strip().splitlines()[-5:]
        text += " | build log tail: " + " / ".join(logs)
    transient = not build and all(fr.transient for fr in failed)
    return TransientError(text) if transient else TerminalError(text)


def _appwrite(exc: AppwriteError, config: WebhookConfig) -> JobError:
    text = scrub(str(exc), config.secrets())
    if isinstance(exc, AppwriteConnectionError):
        return TransientError(text)
    if isinstance(exc, AppwriteResponseError) and (exc.status >= 500 or exc.status == 429):
        return TransientError(text)
    return TerminalError(text)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "failed"
