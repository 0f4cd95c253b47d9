"""The Litestar application: routes under /v1, one error envelope, background services in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide

from localserver import builder, deployments, downloads, executions, functions, health, proxy, remote_deployments, scheduler, variables
from localserver.auth import project_guard
from localserver.config import ServerConfig
from localserver.context import ServerContext
from localserver.errors import handle_exception
from localserver.runtime import service as runtime_service
from localserver.store import Store
from localserver.versions import chain


def create_app(config: ServerConfig) -> Litestar:
    """Build the app for one project. Background workers start and stop with the app's lifespan."""
    ctx = ServerContext(config=config, store=Store(config.db_path))

    @asynccontextmanager
    async def services(app: Litestar) -> AsyncIterator[None]:
        async with builder.running(ctx), runtime_service.running(ctx), scheduler.running(ctx):
            yield
        ctx.store.close()

    api = Router(
        path="/v1",
        guards=[project_guard],
        route_handlers=[
            *functions.ROUTES,
            *variables.ROUTES,
            *deployments.ROUTES,
            *remote_deployments.ROUTES,
            *downloads.ROUTES,
            *executions.ROUTES,
            *proxy.ROUTES,
        ],
    )
    public = Router(path="/v1", route_handlers=[*health.ROUTES])
    return Litestar(
        route_handlers=[public, api],
        dependencies={"ctx": Provide(lambda: ctx, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: handle_exception},
        state=State({"ctx": ctx}),
        lifespan=[services],
        openapi_config=None,
        logging_config=None,  # leave the host process's logging alone (fnsync's CLI owns it)
        request_max_body_size=12_000_000,
        # Handlers speak the newest models; the chain answers as the emulated version and the client's format.
        middleware=[chain.middleware(config.profile, lambda deployment: deployments.build_of_deployment(ctx, deployment))],
    )
