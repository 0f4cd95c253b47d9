"""GET /deliveries and /deliveries/{id}: the delivery log, behind `Authorization: Bearer $FNSYNC_ADMIN_TOKEN`.

Without an admin token configured the log is not served at all (401), never open.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from litestar import Controller, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter

from webhook.context import WebhookContext
from webhook.store import DeliveryRecord, Status


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    ctx: WebhookContext = connection.app.state["ctx"]
    token = ctx.config.admin_token.get_secret_value() if ctx.config.admin_token else ""
    given = connection.headers.get("authorization", "")
    if not token or not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        raise NotAuthorizedException(detail="a valid `Authorization: Bearer <FNSYNC_ADMIN_TOKEN>` header is required")


class DeliveriesController(Controller):
    path = "/deliveries"
    guards = [admin_guard]

    @get("/")
    async def list_deliveries(
        self,
        ctx: NamedDependency[WebhookContext],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 50,
        status: FromQuery[Status | None] = None,
    ) -> dict[str, object]:
        items = await ctx.store.list(limit=limit, status=status)
        return {"total": len(items), "deliveries": [item.model_dump(exclude={"history"}) for item in items]}

    @get("/{delivery_id:str}")
    async def get_delivery(self, ctx: NamedDependency[WebhookContext], delivery_id: FromPath[str]) -> DeliveryRecord:
        record = await ctx.store.get(delivery_id)
        if record is None:
            raise NotFoundException(detail=f"no delivery {delivery_id!r}")
        return record
