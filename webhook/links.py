"""A cached index of which (repository id, branch) pairs have linked functions.

It lets the receiver answer "unrelated repository" within milliseconds instead of queueing work that
would find nothing. A positive answer is only a hint (the worker decides from a fresh read), but a
negative one drops the delivery, so `check` never trusts a stale miss: it re-reads the functions once
(misses arriving together share that read), and only a read that started after the delivery arrived may
say "not linked". A pair that such a read did not find is remembered for `miss_ttl` seconds, so a burst
of deliveries for an unrelated repository costs one read, not one per delivery. When Appwrite cannot be
read, the answer is "unknown" and the delivery is queued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from syncer.client import AppwriteClient
from syncer.client.errors import AppwriteError

log = logging.getLogger("fnsync.webhook")

RECHECK_TIMEOUT = 2.0  # seconds a delivery may wait for the re-read; GitHub gives up after 10


class LinkIndex:
    def __init__(self, client: AppwriteClient, *, miss_ttl: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self.miss_ttl = miss_ttl
        self._links: set[tuple[str, str]] | None = None
        self._misses: dict[tuple[str, str], float] = {}  # pair -> when a fresh read last failed to find it
        self._reading = asyncio.Lock()
        self.refreshed_at: float | None = None  # when the last successful read started
        self.error: str = ""

    async def refresh(self) -> bool:
        """Re-read the functions; True when Appwrite answered."""
        started = self._clock()
        try:
            functions = await self._client.list_functions()
        except AppwriteError as exc:
            self.error = str(exc)
            return False
        if self.refreshed_at is not None and started < self.refreshed_at:
            return True  # a read that started later has landed already; keep its newer answer
        self._links = {(f.provider_repository_id, f.provider_branch) for f in functions if f.provider_repository_id}
        self.refreshed_at = started
        self.error = ""
        self._misses = {pair: at for pair, at in self._misses.items() if started - at < self.miss_ttl and pair not in self._links}
        return True

    def linked(self, repo_id: str, branch: str) -> bool | None:
        """True/False from the last read; None when it was never read."""
        if self._links is None:
            return None
        return (repo_id, branch) in self._links

    async def check(self, repo_id: str, branch: str) -> bool | None:
        """Whether a delivery for this pair has functions to deploy: False only when a fresh read says so.

        None means "unknown" (Appwrite could not be read in time): the caller queues, the worker decides."""
        pair = (repo_id, branch)
        arrived = self._clock()
        if self.linked(repo_id, branch):
            return True
        missed_at = self._misses.get(pair)
        if missed_at is not None and arrived - missed_at < self.miss_ttl:
            return False
        try:
            fresh = await asyncio.wait_for(self._read_since(arrived), timeout=RECHECK_TIMEOUT)
        except TimeoutError:
            fresh = False
        if not fresh:
            log.warning("cannot re-read the functions for %s@%s: %s", repo_id, branch, self.error or "timeout")
            return None
        found = self.linked(repo_id, branch)
        if found is False:
            self._misses[pair] = arrived
        return found

    async def _read_since(self, moment: float) -> bool:
        """Make sure the index reflects a read that started at or after `moment` (one read serves all waiters)."""
        async with self._reading:
            if self.refreshed_at is not None and self.refreshed_at >= moment:
                return True
            return await self.refresh()

    async def run(self, interval: float) -> None:
        """Refresh forever (the lifespan cancels it)."""
        while True:
            await asyncio.sleep(interval)
            if not await self.refresh():
                log.warning("cannot list functions: %s", self.error)
