"""GET /healthz (the process answers) and GET /readyz (queue usable and Appwrite reachable)."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.di import NamedDependency

from webhook.context import WebhookContext


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz")
async def readyz(ctx: NamedDependency[WebhookContext]) -> Response[dict[str, object]]:
    queued = ctx.store.queued_count()
    problems: list[str] = []
    if queued >= ctx.config.queue_size:
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


ROUTES = [healthz, readyz]
