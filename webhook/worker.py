"""Lifespan-managed workers: claim a job, run it with a deadline, record the final state or schedule a retry.

Handlers only wake workers (`WorkerPool.wake`); the queue itself is the store, so nothing is lost
when the process dies (SQLite or PostgreSQL, awaited: see `deliveries.Store`). A job cancelled by shutdown stays `deploying` and is resumed on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import time

from webhook.config import WebhookConfig, scrub, scrubbed_traceback
from webhook.deploy import JobRunner
from webhook.errors import JobError
from webhook.links import LinkIndex
from webhook.deliveries import Claim, Status, Store
from webhook.logs import fields

log = logging.getLogger("fnsync.webhook")
IDLE_POLL = 1.0  # seconds; wake-ups (this receiver's, or another's through the database) normally come sooner


def backoff(attempt: int, base: float, cap: float) -> float:
    """Capped exponential delay before retry number `attempt` (1-based)."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


class WorkerPool:
    def __init__(self, config: WebhookConfig, store: Store, runner: JobRunner, links: LinkIndex | None = None) -> None:
        self.config = config
        self.store = store
        self.runner = runner
        self.links = links
        self._wake = asyncio.Event()
        self.busy = 0
        store.on_new_jobs(self._wake.set)  # jobs queued by other receivers on a shared database

    async def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Run `config.workers` workers until cancelled."""
        async with asyncio.TaskGroup() as group:
            for number in range(self.config.workers):
                group.create_task(self._worker(number), name=f"fnsync-webhook-worker-{number}")

    async def _worker(self, number: int) -> None:
        while True:
            claim = await self.store.claim()
            if claim is None:
                await self._idle()
                continue
            self.busy += 1
            try:
                await self.process(claim)
            finally:
                self.busy -= 1
            await self.wake()  # the key is free again; another queued job of it may be ready

    async def _idle(self) -> None:
        timeout = IDLE_POLL
        retry_at = await self.store.next_retry_at()
        if retry_at is not None:
            timeout = max(0.01, min(timeout, retry_at - time.time()))
        # asyncio.timeout, not wait_for + Condition: on 3.11 that pair can swallow a cancellation and hang shutdown.
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()  # a wake-up lost to this race costs at most IDLE_POLL

    async def process(self, claim: Claim) -> None:
        """Run one claimed job to a final state (or a scheduled retry)."""
        delivery = claim.delivery_id
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.config.job_timeout):
                outcome = await self.runner.run(claim)
        except JobError as exc:
            await self._failed(claim, str(exc), exc.transient, started)
        except TimeoutError:
            await self._failed(claim, f"the job did not finish within {self.config.job_timeout:.0f}s", True, started)
        except asyncio.CancelledError:
            raise  # shutdown: stays `deploying`, resumed by `recover()` on the next start
        except Exception as exc:  # noqa: BLE001 - a bug must end the delivery, not the worker
            secrets = self.config.secrets()
            log.error("delivery %s crashed\n%s", delivery, scrubbed_traceback(exc, secrets))
            await self.store.finish(delivery, Status.FAILED, "internal error", scrub(f"{type(exc).__name__}: {exc}", secrets))
            await self._log_outcome(claim, Status.FAILED, "internal error", started)
        else:
            await self.store.finish(delivery, outcome.status, outcome.reason, deployed=outcome.deployed, superseded_by=outcome.superseded_by)
            await self._log_outcome(claim, outcome.status, outcome.reason, started, outcome.deployments)
            if self.links is not None:
                await self.links.refresh()

    async def _failed(self, claim: Claim, error: str, transient: bool, started: float) -> None:
        error = scrub(error, self.config.secrets())
        if transient and claim.attempts < self.config.max_attempts:
            delay = backoff(claim.attempts, self.config.retry_base, self.config.retry_cap)
            await self.store.retry_later(claim.delivery_id, delay, error)
            log.warning("delivery %s: %s (retry in %.1fs)", claim.delivery_id, error, delay)
            return
        reason = f"failed after {claim.attempts} attempts" if transient else "failed"
        await self.store.finish(claim.delivery_id, Status.FAILED, reason, error)
        log.error("delivery %s failed: %s", claim.delivery_id, error)
        await self._log_outcome(claim, Status.FAILED, reason, started)

    async def _log_outcome(
        self, claim: Claim, status: Status, reason: str, started: float, deployments: dict[str, str] | None = None
    ) -> None:
        """The operator's lines for a delivery that reached its final state: one for the delivery (provider,
        repository, ref, short commit, outcome), then one per deployment it made (function, deployment id,
        its own build's duration: from its creation until ready or failed, as the runner saw it; the delivery line
        has the whole job's). A failed delivery's deployments are those the store recorded before it failed."""
        job, seconds = claim.job, round(time.monotonic() - started, 3)
        if deployments is None:
            record = await self.store.get(claim.delivery_id, history=False)
            deployments = dict(record.deployments) if record is not None else {}
        log.info(
            "delivery %s: %s %s %s %s -> %s",
            claim.delivery_id, job.provider.value, job.repo_name, job.fetch_ref, job.sha[:12], status.value,
            extra=fields(event="delivery", delivery=claim.delivery_id, provider=job.provider.value, repo=job.repo_name,
                         ref=job.fetch_ref, sha=job.sha[:12], outcome=status.value, attempts=claim.attempts,
                         duration=seconds, reason=reason),
        )
        log.debug("delivery %s: %s (attempt %d, %.1fs)", claim.delivery_id, reason, claim.attempts, seconds)
        state = "failed" if status is Status.FAILED else ("active" if job.kind == "push" else "ready")
        builds = self.runner.build_seconds(claim.delivery_id)
        for function_id, deployment_id in sorted(deployments.items()):
            built = builds.get(function_id)
            if built is None:  # made by an earlier, interrupted attempt, or its build was never seen to end
                log.info(
                    "deployment %s %s: %s (build time not observed)", function_id, deployment_id, state,
                    extra=fields(event="deployment", delivery=claim.delivery_id, function=function_id,
                                 deployment=deployment_id, status=state),
                )
                continue
            log.info(
                "deployment %s %s: %s in %.1fs",
                function_id, deployment_id, state, built,
                extra=fields(event="deployment", delivery=claim.delivery_id, function=function_id,
                             deployment=deployment_id, status=state, duration=round(built, 3)),
            )
