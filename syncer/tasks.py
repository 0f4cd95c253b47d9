"""Running requests side by side without leaving any behind.

`asyncio.gather` keeps the other awaitables running when one fails. The caller then leaves its
`async with client:` block and closes the connection pool under them, and they fail with a confusing
`ReadError` that the retrier even retries (what a wrong API key used to show first: `ReadError; retry 1/4`).
`gather_or_cancel` cancels the others, and waits for them, before the first failure is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def gather_or_cancel(*awaitables: Awaitable[Any]) -> list[Any]:
    """The results in order, like `asyncio.gather`; on the first failure the rest are cancelled first."""
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
