"""The project lock (`syncer.lock`) around a delivery's reconcile, so it never interleaves with `fnsync apply`.

`syncer.lock.holding_lock` is for the synchronous CLI (a refresh thread, `asyncio.run`); a worker lives in the
receiver's event loop, so it holds the lease here with a refresh *task* instead. A lock still held after
`wait` seconds is a transient failure: the worker retries the delivery with its usual backoff, and the delivery
log names the holder. The lease is released on every exit (errors, timeouts, shutdown cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable

from syncer.client import AppwriteClient
from syncer.client.errors import AppwriteError, is_not_found
from syncer.lock import LOCK_FUNCTION_ID, Lease, LockError, LockHeld, LockInfo, LockOwner, acquire, current_owner, read_lock
from webhook.errors import TransientError

log = logging.getLogger("fnsync.webhook")
COMMAND = "fnsync webhook"
_held_here: set[str] = set()  # tokens of the leases this process holds now (its workers share one project)


def holder_text(holder: LockInfo | None) -> str:
    """Who holds the lock, for the delivery log (no CLI flag hints: they mean nothing to a webhook)."""
    if holder is None:
        return "another fnsync (its lock record is unreadable)"
    return f"{holder.owner.describe()}, expires {holder.expires_at:%H:%M:%S} UTC"


@contextlib.asynccontextmanager
async def project_lock(
    client: AppwriteClient,
    command: str,
    *,
    wait: float,
    ttl: float,
    on_wait: Callable[[str], None] | None = None,
) -> AsyncIterator[Lease]:
    """Hold the project lock for the body, refreshed every third of `ttl`; `TransientError` when it stays held.

    Raises `TransientError` too when the lock cannot be taken for another reason (Appwrite unreachable):
    the reconcile must not run unlocked."""
    try:
        await _clear_dead_receiver(client)
        lease = await acquire(client, current_owner(command), ttl=ttl, timeout=wait, on_wait=on_wait)
    except LockHeld as exc:
        raise TransientError(f"the project is locked by {holder_text(exc.holder)} (waited {exc.waited:.0f}s)") from exc
    except (LockError, AppwriteError) as exc:
        raise TransientError(f"cannot take the project lock: {exc}") from exc
    _held_here.add(lease.info.token)
    refresher = asyncio.create_task(_refresh(client, lease), name="fnsync-webhook-lock-refresh")
    try:
        yield lease
    finally:
        _held_here.discard(lease.info.token)
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        try:
            # Shielded: a shutdown cancelling the worker must not leave the lock behind for a whole TTL.
            await asyncio.shield(lease.release(client))
        except AppwriteError as exc:  # never hide the body's own error; the lock expires by itself
            log.warning("could not release the project lock (%s); it expires at %s", exc, f"{lease.info.expires_at:%H:%M:%S} UTC")


async def _refresh(client: AppwriteClient, lease: Lease) -> None:
    while True:
        await asyncio.sleep(max(lease.ttl / 3, 0.05))
        try:
            if not await lease.refresh(client):
                log.warning("the project lock expired and was taken over by another fnsync during a reconcile")
                return
        except AppwriteError as exc:  # transient: the next round tries again before expiry
            log.warning("could not refresh the project lock: %s", exc)


async def _clear_dead_receiver(client: AppwriteClient) -> None:
    """Drop the lock of a receiver on this host that died holding it (killed, OOM), instead of waiting out its TTL:
    a restarted receiver resumes the very delivery that lock was taken for."""
    current = await read_lock(client)
    if current is None or current[1] is None or not _dead_receiver_here(current[1]):
        return
    log.warning("taking over the project lock of a receiver that is gone: %s", current[1].owner.describe())
    try:
        await client.delete_variable(LOCK_FUNCTION_ID, current[0].id)  # by id: only that generation
    except AppwriteError as exc:
        if not is_not_found(exc):
            raise


def _dead_receiver_here(holder: LockInfo) -> bool:
    owner: LockOwner = holder.owner
    if owner.host != socket.gethostname() or not owner.command.startswith(f"{COMMAND} "):
        return False
    if owner.pid == os.getpid():  # our pid, not our lease: an earlier process with our pid (pid 1 in a container)
        return holder.token not in _held_here
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
