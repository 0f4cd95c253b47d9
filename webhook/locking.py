"""The project lock (`syncer.lock`) around a delivery's reconcile, so it never interleaves with `fnsync apply`.

The receiver uses the same holder as the CLI (`syncer.lock_holder.holding`: refreshed by a task in the event
loop, released on every exit; a dead holder on this machine is taken over at once). A lock still held after `wait`
seconds is a transient failure: the worker retries the delivery with its usual backoff, and the delivery log names
the holder.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from syncer.client import AppwriteClient
from syncer.client.errors import AppwriteError
from syncer.lock import Lease, LockError, LockHeld, LockInfo, current_owner
from syncer.lock_holder import holding
from webhook.errors import TransientError

log = logging.getLogger("fnsync.webhook")
COMMAND = "fnsync webhook"


def holder_text(holder: LockInfo | None, lock_id: str = "") -> str:
    """Who holds the lock, for the delivery log (no CLI flag hints: they mean nothing to a webhook)."""
    if holder is None:
        who = "another fnsync (its lock record is unreadable)"
    else:
        who = f"{holder.owner.describe()}, expires {holder.expires_at:%H:%M:%S} UTC"
    return f"{who}, lock id {lock_id}" if lock_id else who


@contextlib.asynccontextmanager
async def project_lock(
    client: AppwriteClient,
    command: str,
    *,
    wait: float,
    ttl: float,
    on_wait: Callable[[str], None] | None = None,
) -> AsyncIterator[Lease]:
    """Hold the project lock for the body; `TransientError` when it stays held past `wait`.

    Raises `TransientError` too when the lock cannot be taken for another reason (Appwrite unreachable):
    the reconcile must not run unlocked."""
    entered = False  # the body's own errors pass through untouched
    try:
        async with holding(client, current_owner(command), ttl=ttl, timeout=wait, on_wait=on_wait, warn=log.warning) as lease:
            entered = True
            yield lease
    except LockHeld as exc:
        if entered:
            raise
        raise TransientError(f"the project is locked by {holder_text(exc.holder, exc.lock_id)} (waited {exc.waited:.0f}s)") from exc
    except (LockError, AppwriteError) as exc:
        if entered:
            raise
        raise TransientError(f"cannot take the project lock: {exc}") from exc
