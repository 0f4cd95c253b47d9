"""Holding the project lock (`syncer.lock`) while work runs: one holder for the receiver and the CLI.

`holding` takes the lock, refreshes it every third of its TTL from a task, and releases it on every exit (errors,
cancellation: the release is shielded). `holding_lock` runs that same holder in a thread with its own event loop
for the synchronous CLI, which runs several `asyncio.run` calls while it holds the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from syncer.client.errors import AppwriteError
from syncer.lock import DEFAULT_TTL, POLL_INTERVAL, Lease, acquire, clock_time, held_here
from syncer.lock_owner import LockOwner, current_owner

if TYPE_CHECKING:
    from syncer.client import AppwriteClient

logger = logging.getLogger("syncer.lock")


@contextlib.asynccontextmanager
async def holding(
    client: AppwriteClient,
    owner: LockOwner,
    *,
    ttl: float = DEFAULT_TTL,
    timeout: float = 0.0,
    poll_interval: float = POLL_INTERVAL,
    on_wait: Callable[[str], None] | None = None,
    warn: Callable[[str], None] = logger.warning,
) -> AsyncIterator[Lease]:
    """Hold the project lock for the body, refreshed every third of `ttl` by a task, released on every exit
    (errors, cancellation). Raises `LockHeld` when another holder keeps it past `timeout`. `warn` hears of a
    takeover (an expired lock, a dead holder's), a lost lock and a failed release."""
    lease = await acquire(
        client, owner, ttl=ttl, timeout=timeout, poll_interval=poll_interval, on_wait=on_wait, on_takeover=warn
    )
    refresher = asyncio.create_task(_keep_fresh(client, lease, warn), name="fnsync-lock-refresh")
    try:
        yield lease
    finally:
        held_here.discard(lease.info.token)
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        try:
            # Shielded: a shutdown cancelling the body must not leave the lock behind for a whole TTL.
            await asyncio.shield(lease.release(client))
        except Exception as exc:  # noqa: BLE001 - never hide the body's own error; the lock expires by itself
            warn(f"could not release the project lock ({type(exc).__name__}: {exc}); it expires at {clock_time(lease.info.expires_at)}")


async def _keep_fresh(client: AppwriteClient, lease: Lease, warn: Callable[[str], None]) -> None:
    while True:
        await asyncio.sleep(max(lease.ttl / 3, 0.05))
        try:
            if not await lease.refresh(client):
                warn("the project lock expired and was taken over by another fnsync; stop and re-run")
                return
        except AppwriteError as exc:  # transient: the next round tries again before expiry
            logger.warning("could not refresh the project lock: %s", exc)


@contextmanager
def holding_lock(
    client_factory: Callable[[], AppwriteClient],
    *,
    command: str,
    timeout: float = 0.0,
    ttl: float = DEFAULT_TTL,
    on_wait: Callable[[str], None] | None = None,
    warn: Callable[[str], None] = logger.warning,
) -> Iterator[Lease]:
    """`holding` for synchronous callers (the CLI): the same holder, run in a thread with its own event loop.

    A thread because the CLI runs several `asyncio.run` calls (and may wait on a person) while it holds the lock,
    and the lock must stay fresh through all of it. Raises `LockHeld` when another holder keeps it past `timeout`.
    """
    keeper = _Keeper(client_factory, current_owner(command), ttl=ttl, timeout=timeout, on_wait=on_wait, warn=warn)
    lease = keeper.start_holding()
    try:
        yield lease
    finally:
        keeper.stop_holding()


class _Keeper(threading.Thread):
    """Runs `holding` in its own event loop until told to stop; hands the lease (or the failure) to the caller."""

    def __init__(
        self,
        client_factory: Callable[[], AppwriteClient],
        owner: LockOwner,
        *,
        ttl: float,
        timeout: float,
        on_wait: Callable[[str], None] | None,
        warn: Callable[[str], None],
    ) -> None:
        super().__init__(name="fnsync-lock", daemon=True)
        self.client_factory = client_factory
        self.owner = owner
        self.ttl, self.timeout, self.on_wait, self.warn = ttl, timeout, on_wait, warn
        self.ready = threading.Event()
        self.cancelled = threading.Event()  # the caller gave up (Ctrl-C) before or while the lock was taken
        self.lease: Lease | None = None
        self.failure: BaseException | None = None
        self._keeper_loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None

    def start_holding(self) -> Lease:
        self.start()
        try:
            self.ready.wait()
        except BaseException:  # Ctrl-C while waiting for the lock: never leave it held behind us
            self.stop_holding()
            raise
        if self.failure is not None:
            self.join()
            raise self.failure
        assert self.lease is not None
        return self.lease

    def stop_holding(self) -> None:
        self.cancelled.set()
        loop, stop = self._keeper_loop, self._stop_event
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed already: the thread has ended
                loop.call_soon_threadsafe(stop.set)
        self.join(timeout=60)

    def run(self) -> None:
        try:
            asyncio.run(self._hold())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self.failure = exc
        finally:
            self.ready.set()

    async def _hold(self) -> None:
        self._keeper_loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        async with self.client_factory() as client, holding(
            client, self.owner, ttl=self.ttl, timeout=self.timeout, on_wait=self.on_wait, warn=self.warn
        ) as lease:
            self.lease = lease
            self.ready.set()
            if not self.cancelled.is_set():
                await self._stop_event.wait()
