"""GET /v1/health/version: the one public route, used by the Appwrite CLI to accept an endpoint."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from localserver.context import ServerContext


@get("/health/version", sync_to_thread=False)
def health_version(ctx: NamedDependency[ServerContext]) -> dict[str, str]:
    return {"version": ctx.config.version}


ROUTES = [health_version]
