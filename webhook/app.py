"""The app factory: routes, one error envelope, and the lifespan that owns the store, client and workers."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException

from syncer.client import AppwriteClient
from webhook import admin, health
from webhook.config import WebhookConfig, scrub, scrubbed_traceback
from webhook.context import WebhookContext
from webhook.credentials import CloneCredentials
from webhook.deliveries import Store, open_store
from webhook.deploy import JobRunner
from webhook.links import LinkIndex
from webhook.metrics import Metrics, MeteredStore
from webhook.mirror import MirrorCache
from webhook.receive import WebhookController
from webhook.reporting import ReportQueue, Reporters
from webhook.worker import WorkerPool

log = logging.getLogger("fnsync.webhook")


class _CommentIds:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, repo: str, number: int) -> int | None:
        return await self.store.pr_comment(repo, number)

    async def put(self, repo: str, number: int, comment_id: int) -> None:
        await self.store.set_pr_comment(repo, number, comment_id)


def create_app(config: WebhookConfig, client: AppwriteClient | None = None, *, run_workers: bool = True) -> Litestar:
    """Build the receiver. The lifespan recovers interrupted jobs, then runs workers and the link index.

    `run_workers=False` only receives and queues (tests of the HTTP contract; a receive-only replica)."""
    if not config.endpoint and client is None:
        raise ValueError("an Appwrite endpoint is required (APPWRITE_ENDPOINT)")
    database = config.database.get_secret_value() if config.database else None
    metrics = Metrics()
    store = MeteredStore(open_store(database, config.data_dir, fsync=config.fsync, lease=config.lease,
                                    pool_size=config.workers + config.max_concurrent_bodies + 2), metrics)
    config.data_dir.mkdir(parents=True, exist_ok=True)  # after the store: a database that cannot be opened changes nothing
    metrics.watch_queue(store)
    appwrite = client or AppwriteClient(
        config.endpoint,
        config.project,
        config.api_key.get_secret_value() if config.api_key else "",
        secrets=tuple(config.secrets()),
    )
    vcs_http = httpx.AsyncClient(timeout=config.report_timeout)
    reports = ReportQueue(Reporters(config, vcs_http, _CommentIds(store)), config.secrets())
    mirrors = MirrorCache(config.mirrors_dir, CloneCredentials.from_config(config))
    links = LinkIndex(appwrite, miss_ttl=config.link_miss_ttl)
    runner = JobRunner(config=config, client=appwrite, store=store, mirrors=mirrors, reports=reports)
    pool = WorkerPool(config, store, runner, links)
    ctx = WebhookContext(config=config, store=store, links=links, pool=pool, bodies=asyncio.Semaphore(config.max_concurrent_bodies))

    @asynccontextmanager
    async def services(app: Litestar) -> AsyncIterator[None]:
        shutil.rmtree(config.work_dir, ignore_errors=True)
        await store.open()
        resumed = await store.recover()
        if resumed:
            log.warning("resuming %d interrupted deliveries: %s", len(resumed), ", ".join(resumed))
        try:  # a first read of the function links, so most deliveries are answered without waiting for one
            await asyncio.wait_for(links.refresh(), timeout=2)
        except TimeoutError:
            log.warning("Appwrite did not answer within 2s; starting anyway")
        tasks = [asyncio.create_task(links.run(config.link_refresh), name="fnsync-webhook-links")]
        if run_workers:
            tasks.append(asyncio.create_task(pool.run(), name="fnsync-webhook-workers"))
        reporter = asyncio.create_task(reports.run(), name="fnsync-webhook-reports")
        counting = metrics.watch_reporting(log)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=10)
            for task in stuck:  # e.g. a git command still running in a thread; the next start resumes its job
                log.warning("task %s did not stop within 10s; leaving it", task.get_name())
            await reports.drain(timeout=min(2 * config.report_timeout, 30))
            reporter.cancel()
            await asyncio.wait([reporter], timeout=5)
            await vcs_http.aclose()
            if client is None:
                await appwrite.aclose()
            log.removeHandler(counting)
            await store.close()

    def handle_exception(request: Request, exc: Exception) -> Response[dict[str, object]]:
        """One envelope for every error: {"error", "status"}; internals are logged, not sent."""
        if isinstance(exc, HTTPException):
            status, message = exc.status_code, exc.detail
        else:
            log.error("unhandled error on %s\n%s", request.url.path, scrubbed_traceback(exc, config.secrets()))
            status, message = 500, "internal error"
        provider = request.url.path.removeprefix("/webhooks/")
        if request.url.path.startswith("/webhooks/") and provider in ("github", "gitlab", "gitea"):
            metrics.deliveries.labels(provider, str(status)).inc()  # refused before the store: signature, size, JSON
        return Response({"error": scrub(str(message), config.secrets()), "status": status}, status_code=status)

    return Litestar(
        route_handlers=[WebhookController, admin.DeliveriesController, *health.ROUTES],
        dependencies={"ctx": Provide(lambda: ctx, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: handle_exception},
        state=State({"ctx": ctx, "metrics": metrics}),
        lifespan=[services],
        openapi_config=None,
        logging_config=None,  # the process's logging is `webhook.logs.configure`'s alone: one format for every line
        request_max_body_size=config.max_body_size,
    )
