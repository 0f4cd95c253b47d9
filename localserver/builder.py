"""Placeholder: the build worker is being written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from localserver.context import ServerContext


@asynccontextmanager
async def running(ctx: ServerContext) -> AsyncIterator[None]:
    yield
