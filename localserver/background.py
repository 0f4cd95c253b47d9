"""One background task for the lifetime of a block: the lifespan pattern of the janitor, scheduler and executor.

On exit the task is cancelled and awaited. If it had already died of an error, the error is logged and NOT
raised: shutdown must go on to stop the services entered before it (builds, the sandbox's processes), and the
error belongs to the task's own lifetime, not to the shutdown that found it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

logger = logging.getLogger("localserver.background")


@asynccontextmanager
async def background(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[asyncio.Task[None]]:
    """Run `work` as a task named `name` while the block runs; cancel it and wait for it to end on exit."""
    task = asyncio.create_task(work, name=name)
    try:
        yield task
    finally:
        task.cancel()
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
        if isinstance(outcome, Exception):
            logger.error("background task %s had failed", name, exc_info=outcome)
