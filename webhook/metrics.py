"""Prometheus metrics for one receiver (`GET /metrics`), counted where the facts are decided: at the store.

`MeteredStore` wraps any store, so deliveries (by provider and outcome), deploys (by outcome, with their
duration) and project-lock waits are counted without the receiving and working code knowing about metrics;
queue depth and the oldest job's age are read from the (shared) database at scrape time: the `/metrics` handler
awaits `refresh_queue` (prometheus collectors are synchronous; the store is async), then renders. Replicas on one
PostgreSQL database all report the same queue: aggregate those gauges with max(), the counters with sum().
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from webhook.deliveries import Accepted, Claim, DeliveryRecord, QueueStats, Status, Store
from webhook.events import Decision

log = logging.getLogger("fnsync.webhook")
# What `syncer.lock.acquire` says through `on_wait` when it finds the project lock held, and what a delivery's
# error starts with when the lock stayed held past --lock-wait (webhook.locking).
LOCK_WAIT_PREFIX = "waiting up to "
LOCK_TIMEOUT_PREFIX = "the project is locked by "
DEPLOY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900)


class Metrics:
    """The receiver's instruments, in a registry of its own (several apps may live in one process: tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._queue: _QueueCollector | None = None
        self.deliveries = Counter(
            "fnsync_webhook_deliveries", "Deliveries answered, by provider and outcome (queued, ignored, duplicate, full, "
            "or the HTTP status of a refusal).", ["provider", "outcome"], registry=self.registry,
        )
        self.deploys = Counter(
            "fnsync_webhook_deploys", "Deploy attempts by outcome (done, failed, superseded, ignored, retry).",
            ["outcome"], registry=self.registry,
        )
        self.deploy_seconds = Histogram(
            "fnsync_webhook_deploy_duration_seconds", "Time from claiming a job to its outcome.", ["outcome"],
            buckets=DEPLOY_BUCKETS, registry=self.registry,
        )
        self.reporting_failures = Counter(
            "fnsync_webhook_reporting_failures", "Commit statuses or PR/MR comments that could not be posted.",
            registry=self.registry,
        )
        self.lock_waits = Counter(
            "fnsync_webhook_lock_waits", "Deploys that found the project lock held by another fnsync (waited), and "
            "those that gave up waiting (timed_out, retried later).", ["result"], registry=self.registry,
        )

    def watch_queue(self, store: Store) -> None:
        self._queue = _QueueCollector(store)
        self.registry.register(self._queue)

    async def refresh_queue(self) -> None:
        """Read the queue's figures for the next render; a database that does not answer is `database_up 0`."""
        if self._queue is None:
            return
        try:
            async with asyncio.timeout(5):
                self._queue.stats = await self._queue.store.queue_stats()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail because the database is away
            log.warning("metrics: cannot read the queue: %s", exc)
            self._queue.stats = None

    def watch_reporting(self, logger: logging.Logger) -> logging.Handler:
        """Count the reporter's failure log lines (it logs and swallows them: reports are best effort)."""
        handler = _ReportingFailures(self)
        logger.addHandler(handler)
        return handler


class _QueueCollector(Collector):
    """Renders the figures `Metrics.refresh_queue` read last (None: the database did not answer)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stats: QueueStats | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.stats
        if stats is None:
            up = GaugeMetricFamily("fnsync_webhook_database_up", "1 when the queue's database answered this scrape.")
            up.add_metric([], 0)
            yield up
            return
        yield from _queue_families(stats)


def _queue_families(stats: QueueStats) -> Iterator[GaugeMetricFamily]:
    up = GaugeMetricFamily("fnsync_webhook_database_up", "1 when the queue's database answered this scrape.")
    up.add_metric([], 1)
    yield up
    depth = GaugeMetricFamily("fnsync_webhook_queue_depth", "Jobs in the (shared) queue, by state.", labels=["state"])
    depth.add_metric(["queued"], stats.queued)
    depth.add_metric(["deploying"], stats.deploying)
    yield depth
    yield GaugeMetricFamily(
        "fnsync_webhook_queue_oldest_age_seconds", "How long the oldest queued job has waited (0 when none).", value=stats.oldest_age
    )


class _ReportingFailures(logging.Handler):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__(level=logging.WARNING)
        self.metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("reporting") and "fail" in record.msg:
            self.metrics.reporting_failures.inc()


class MeteredStore:
    """A store that counts what passes through it; every call goes to the wrapped store unchanged."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.inner = store
        self.metrics = metrics
        self._claimed: dict[str, float] = {}  # delivery id -> monotonic time of its claim here

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def accept(
        self, delivery_id: str, provider: str, event: str, decision: Decision, queue_size: int, body_hash: str | None = None
    ) -> Accepted:
        result = await self.inner.accept(delivery_id, provider, event, decision, queue_size, body_hash)
        self.metrics.deliveries.labels(provider, result).inc()
        return result

    async def claim(self, now: float | None = None) -> Claim | None:
        claim = await self.inner.claim(now)
        if claim is not None:
            self._claimed[claim.delivery_id] = time.monotonic()
        return claim

    async def note(self, delivery_id: str, message: str) -> None:
        if message.startswith(LOCK_WAIT_PREFIX):
            self.metrics.lock_waits.labels("waited").inc()
        await self.inner.note(delivery_id, message)

    async def finish(
        self, delivery_id: str, status: Status, reason: str, error: str = "", *, deployed: str | None = None,
        superseded_by: str | None = None,
    ) -> None:
        await self.inner.finish(delivery_id, status, reason, error, deployed=deployed, superseded_by=superseded_by)
        self._outcome(delivery_id, status.value, error)

    async def retry_later(self, delivery_id: str, delay: float, error: str) -> None:
        await self.inner.retry_later(delivery_id, delay, error)
        self._outcome(delivery_id, "retry", error)

    def _outcome(self, delivery_id: str, outcome: str, error: str) -> None:
        self.metrics.deploys.labels(outcome).inc()
        started = self._claimed.pop(delivery_id, None)
        if started is not None:
            self.metrics.deploy_seconds.labels(outcome).observe(time.monotonic() - started)
        if error.startswith(LOCK_TIMEOUT_PREFIX):
            self.metrics.lock_waits.labels("timed_out").inc()

    async def list(self, limit: int = 50, status: Status | None = None) -> list[DeliveryRecord]:
        return await self.inner.list(limit, status)
