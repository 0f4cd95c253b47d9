"""A cached index of which (repository id, branch) pairs have linked functions.

It lets the receiver answer "unrelated repository" within milliseconds instead of queueing work that
would find nothing. It is only a hint: before it has been read once, every delivery is queued and the
worker decides from a fresh read.
"""

from __future__ import annotations

import asyncio
import logging
import time

from syncer.client import AppwriteClient
from syncer.client.errors import AppwriteError

log = logging.getLogger("fnsync.webhook")


class LinkIndex:
    def __init__(self, client: AppwriteClient) -> None:
        self._client = client
        self._links: set[tuple[str, str]] | None = None
        self.refreshed_at: float | None = None
        self.error: str = ""

    async def refresh(self) -> bool:
        """Re-read the functions; True when Appwrite answered."""
        try:
            functions = await self._client.list_functions()
        except AppwriteError as exc:
            self.error = str(exc)
            return False
        self._links = {(f.provider_repository_id, f.provider_branch) for f in functions if f.provider_repository_id}
        self.refreshed_at = time.monotonic()
        self.error = ""
        return True

    def linked(self, repo_id: str, branch: str) -> bool | None:
        """True/False from the last read; None when it was never read."""
        if self._links is None:
            return None
        return (repo_id, branch) in self._links

    async def run(self, interval: float) -> None:
        """Refresh forever (the lifespan cancels it)."""
        while True:
            await asyncio.sleep(interval)
            if not await self.refresh():
                log.warning("cannot list functions: %s", self.error)
