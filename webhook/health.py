"""GET /healthz (the process answers), GET /readyz (database, queue and Appwrite usable), GET /metrics (Prometheus)."""

from __future__ import annotations

import asyncio

from litestar import Request, Response, get
from litestar.di import NamedDependency
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webhook.config import scrub
from webhook.context import WebhookContext
from webhook.metrics import Metrics


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz")
async def readyz(ctx: NamedDependency[WebhookContext]) -> Response[dict[str, object]]:
    problems: list[str] = []
    queued: int | None = None
    try:  # awaited: an unreachable database does not stall the event loop for its connect timeout
        async with asyncio.timeout(5):
            await ctx.store.ping()
            queued = await ctx.store.queued_count()
    except Exception as exc:  # noqa: BLE001 - any failure means "do not send me deliveries"
        detail = (str(exc).strip().splitlines() or [""])[0]
        problems.append(scrub(f"database unreachable: {type(exc).__name__}: {detail}", ctx.config.secrets()))
    if queued is not None and queued >= ctx.config.queue_size:
        problems.append(f"queue full ({queued}/{ctx.config.queue_size})")
    try:
        reachable = await asyncio.wait_for(ctx.links.refresh(), timeout=3)
    except TimeoutError:
        reachable = False
    if not reachable:
        problems.append(f"Appwrite unreachable: {ctx.links.error or 'timeout'}")
    body: dict[str, object] = {
        "status": "ok" if not problems else "unavailable",
        "queued": queued,
        "queue_size": ctx.config.queue_size,
        "deploying": ctx.pool.busy,
        "problems": problems,
    }
    return Response(body, status_code=200 if not problems else 503)


@get("/metrics")
async def metrics(request: Request) -> Response[bytes]:
    """Prometheus text format; queue gauges are read from the database at each scrape."""
    registry = request.app.state["metrics"]
    assert isinstance(registry, Metrics)
    await registry.refresh_queue()
    payload = generate_latest(registry.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)


ROUTES = [healthz, readyz, metrics]
