"""Housekeeping: chunked uploads abandoned for a day are removed, with the deployment they never completed.

A chunked upload keeps its slices in `<uploads_dir>/<deploymentId>/` until the last one arrives. A client
that gives up half way would leave them (and a deployment stuck before `waiting`) forever. The janitor
looks at start and then every `INTERVAL`: an upload whose newest slice is older than `ABANDONED_AFTER` is
deleted. Time comes from `ctx.services["clock"]` when a test injects one (see localserver.scheduler).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from localserver.background import background
from localserver.context import ServerContext

logger = logging.getLogger("localserver.janitor")

ABANDONED_AFTER = timedelta(days=1)
INTERVAL = 3600.0  # seconds of the clock between sweeps


def _last_activity(path: Path) -> datetime | None:
    """When an upload folder (or a stray temporary upload file) was last written to."""
    try:
        stamps = [path.stat().st_mtime, *(child.stat().st_mtime for child in path.iterdir())] if path.is_dir() \
            else [path.stat().st_mtime]
    except OSError:
        return None
    return datetime.fromtimestamp(max(stamps), timezone.utc)


class Janitor:
    def __init__(self, ctx: ServerContext, clock: Any = None) -> None:
        self.ctx = ctx
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(timezone.utc)

    def sweep(self) -> list[str]:
        """Remove uploads idle for longer than ABANDONED_AFTER; returns the deployment ids removed."""
        uploads = self.ctx.config.uploads_dir
        if not uploads.is_dir():
            return []
        cutoff = self.now() - ABANDONED_AFTER
        removed: list[str] = []
        for entry in uploads.iterdir():
            last = _last_activity(entry)
            if last is None or last > cutoff:
                continue
            if entry.is_dir():
                removed.append(entry.name)
                self._forget_deployment(entry.name)
                shutil.rmtree(entry, ignore_errors=True)
            else:  # a request's temporary file left by a crash
                entry.unlink(missing_ok=True)
        if removed:
            logger.info("removed %d abandoned upload(s): %s", len(removed), ", ".join(removed))
        return removed

    def _forget_deployment(self, deployment_id: str) -> None:
        store = self.ctx.store
        with store.transaction():
            deployment = store.get("deployments", deployment_id)
            if deployment is not None and not deployment.get("_uploaded"):
                store.delete("deployments", deployment_id)

    async def run(self) -> None:
        wake = asyncio.Event()  # never set: the janitor only runs on time
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # noqa: BLE001 - housekeeping must never stop the server
                logger.exception("upload cleanup failed")
            if self.clock is not None:
                started = self.clock.now()
                while (self.clock.now() - started).total_seconds() < INTERVAL:
                    await self.clock.sleep(INTERVAL, wake)
            else:
                await asyncio.sleep(INTERVAL)


@asynccontextmanager
async def running(ctx: ServerContext) -> AsyncIterator[Janitor]:
    """Sweep at start and every INTERVAL for the app's lifetime (`ctx.services["janitor"]`)."""
    janitor = Janitor(ctx, ctx.services.get("clock"))
    ctx.services["janitor"] = janitor
    try:
        async with background(janitor.run(), "janitor"):
            yield janitor
    finally:
        ctx.services.pop("janitor", None)
