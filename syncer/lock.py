"""A project-wide apply lock, built from what Appwrite has: one reserved function and the uniqueness of variable keys.

Appwrite has no lock primitive, and function creation is rate limited (50 per project per day), so fnsync never
creates a function per apply. Instead one reserved, disabled function (`LOCK_FUNCTION_ID`, created once, never
deployed) carries at most one variable, `LOCK`, whose value is the holder's JSON (`LockInfo`):

- acquire: `POST .../variables {key: LOCK}`. The key is unique per function, so exactly one of two racing applies
  gets 201; the other gets 409 `variable_already_exists`, reads the holder and reports it.
- lock id: the variable's id. Every acquisition creates a new variable, so the id names one holding of the lock;
  `fnsync unlock LOCK_ID` deletes exactly that one (`break_lock`), never a later holder's.
- expiry: the holder refreshes `expires_at` (every third of the TTL) while it works; a killed job stops refreshing,
  so its lock expires and the next apply takes it over.
- dead holder: a holder on this machine whose process is gone (`syncer.lock_owner.process_gone`) is taken over at
  once, whether it was a CLI or a receiver, instead of waiting out its TTL.
- takeover: delete the expired variable *by its id*, then create again. Every acquisition has a new variable id,
  so two takers cannot both win: the second delete meets 404 (the id is gone) and its create meets 409.
- release: delete our variable by id (a 404 means it was already taken over: nothing of ours is left).

One holder serves every caller: `syncer.lock_holder.holding` (async, refreshed by a task) is what the receiver
uses, and `holding_lock` there runs that same holder in a thread of its own for the synchronous CLI.

Expiry compares the holder's wall clock (written in UTC) with the reader's, so hosts need roughly synced clocks.
`syncer.state` hides the reserved function from plans, prune and unmanaged lists (`syncer.reserved.is_reserved`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from syncer.client.errors import AppwriteError, is_already_exists, is_not_found
from syncer.client.models import Variable
from syncer.lock_owner import LockOwner, ci_job, current_owner, process_gone, same_machine

# Re-exported: defined apart so the manifest layer can refuse the id without importing the client.
from syncer.reserved import LOCK_FUNCTION_ID

if TYPE_CHECKING:
    from syncer.client import AppwriteClient

__all__ = ["LOCK_FUNCTION_ID", "LockOwner", "ci_job", "current_owner"]

logger = logging.getLogger("syncer.lock")

LOCK_FUNCTION_NAME = "fnsync apply lock (do not delete)"
LOCK_KEY = "LOCK"
DEFAULT_TTL = 15 * 60.0
POLL_INTERVAL = 2.0  # while waiting for a held lock (--lock-timeout)

Clock = Callable[[], datetime]
held_here: set[str] = set()  # tokens of the leases this process holds now (CLI thread or receiver workers)


def utc_now() -> datetime:
    return datetime.now(UTC)


class LockError(Exception):
    """The lock could not be taken or kept (besides being held by someone else)."""


class LockInfo(BaseModel):
    """The lock variable's value."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    owner: LockOwner
    token: str  # random per acquisition: tells our own lock from another holder's
    acquired_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class Held:
    """The lock as someone else holds it: its id (the variable's) and the holder (None when unreadable)."""

    lock_id: str
    holder: LockInfo | None


class LockHeld(LockError):
    """Someone else holds the lock; the message names them, says until when and gives the lock id."""

    def __init__(self, held: Held | None, waited: float = 0.0) -> None:
        self.held = held
        self.holder = held.holder if held else None
        self.lock_id = held.lock_id if held else ""
        self.waited = waited
        super().__init__(held_message(held, waited))


def describe_holder(held: Held | None, *, with_id: bool = True) -> str:
    """Who holds it, since and until when, and the lock id: what people need to find the holder or unlock."""
    if held is None:
        return "another fnsync (its lock record kept changing hands)"
    if held.holder is None:
        who = "another fnsync (its lock record is unreadable; it expires a TTL after its last update)"
    else:
        holder = held.holder
        who = f"{holder.owner.describe()} since {clock_time(holder.acquired_at)}, expires {clock_time(holder.expires_at)}"
    return f"{who}, lock id {held.lock_id}" if with_id else who


def held_message(held: Held | None, waited: float = 0.0) -> str:
    after = f" (waited {waited:.0f}s)" if waited else ""
    return f"the project is locked by {describe_holder(held)}{after}; use --lock-timeout SECONDS to wait for it, or wait and retry"


def clock_time(moment: datetime) -> str:
    """12:01 UTC today, else with the date."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%H:%M UTC" if moment.date() == utc_now().date() else "%Y-%m-%d %H:%M UTC")


def parse_lock(variable: Variable) -> LockInfo | None:
    try:
        info = LockInfo.model_validate_json(variable.value)
    except (ValidationError, ValueError):
        return None
    aware = info.acquired_at.tzinfo is not None and info.expires_at.tzinfo is not None
    return info if aware else None  # times without a zone cannot be compared safely: unreadable


def holder_gone(holder: LockInfo) -> bool:
    """True when the holder is certainly dead: a process on this machine that is gone, or this very process
    holding a lease it no longer knows of (pid reuse by a restarted receiver in a container, a lost release)."""
    owner = holder.owner
    if owner.pid == os.getpid() and same_machine(owner):
        return holder.token not in held_here
    return process_gone(owner)


class Lease:
    """A held lock: the variable that proves it, and what it says."""

    def __init__(self, variable_id: str, info: LockInfo, ttl: float) -> None:
        self.variable_id = variable_id
        self.info = info
        self.ttl = ttl

    @property
    def lock_id(self) -> str:
        return self.variable_id

    async def refresh(self, client: AppwriteClient, now: Clock = utc_now) -> bool:
        """Push the expiry forward. False when the lock was lost (taken over after it expired): nothing to refresh."""
        info = self.info.model_copy(update={"expires_at": now() + timedelta(seconds=self.ttl)})
        try:
            await client.update_variable(LOCK_FUNCTION_ID, self.variable_id, LOCK_KEY, info.model_dump_json())
        except AppwriteError as exc:
            if is_not_found(exc):
                return False
            raise
        self.info = info
        return True

    async def release(self, client: AppwriteClient) -> None:
        """Delete our variable by id; if it is gone already, someone took over an expired lock: nothing to do."""
        await _delete_generation(client, self.variable_id)
        held_here.discard(self.info.token)


async def _delete_generation(client: AppwriteClient, variable_id: str) -> bool:
    """Delete one lock generation by its variable id; False when it was gone already."""
    try:
        await client.delete_variable(LOCK_FUNCTION_ID, variable_id)
    except AppwriteError as exc:
        if is_not_found(exc):
            return False
        raise
    return True


async def ensure_lock_function(client: AppwriteClient) -> None:
    """Create the reserved function the first time (disabled, no execute permissions, no deployment)."""
    if await client.get_function(LOCK_FUNCTION_ID) is not None:
        return
    runtimes = await client.list_runtimes()
    if not runtimes:
        raise LockError("cannot create the lock function: the server offers no runtimes")
    try:
        await client.create_function(
            LOCK_FUNCTION_ID, name=LOCK_FUNCTION_NAME, runtime=runtimes[0].id, enabled=False, execute=[], logging=False
        )
    except AppwriteError as exc:
        if not is_already_exists(exc):  # another apply created it at the same moment: fine
            raise


async def read_lock(client: AppwriteClient) -> tuple[Variable, LockInfo | None] | None:
    """The lock variable and its parsed value (None when unreadable), or None when nobody holds the lock."""
    try:
        variables = await client.list_variables(LOCK_FUNCTION_ID)
    except AppwriteError as exc:
        if is_not_found(exc):
            return None
        raise
    found = next((v for v in variables if v.key == LOCK_KEY), None)
    return (found, parse_lock(found)) if found is not None else None


async def current_lock(client: AppwriteClient) -> Held | None:
    """The lock as it stands (id and holder), or None when nobody holds it."""
    current = await read_lock(client)
    return Held(current[0].id, current[1]) if current is not None else None


async def try_acquire(
    client: AppwriteClient,
    owner: LockOwner,
    *,
    ttl: float = DEFAULT_TTL,
    now: Clock = utc_now,
    on_takeover: Callable[[str], None] = logger.warning,
) -> Lease | Held | None:
    """One attempt: a `Lease` when we got the lock, else who holds it (None if it kept changing hands).

    A lock that expired, or whose holder is gone, is taken over; `on_takeover` is told whose and why."""
    await ensure_lock_function(client)
    for _ in range(3):  # a takeover (or a release) between our reads may need another round
        start = now()
        info = LockInfo(owner=owner, token=secrets.token_hex(8), acquired_at=start, expires_at=start + timedelta(seconds=ttl))
        # Ours from the moment the server may have it: another task of this process reading the lock before our
        # create returns must not take it for a dead holder's.
        held_here.add(info.token)
        try:
            variable = await client.create_variable(LOCK_FUNCTION_ID, LOCK_KEY, info.model_dump_json())
            return Lease(variable.id, info, ttl)
        except AppwriteError as exc:
            if not is_already_exists(exc):
                held_here.discard(info.token)
                raise
        try:
            current = await read_lock(client)
        finally:
            held_here.discard(info.token)
        if current is None:
            continue  # released between our create and our read: try again
        variable, holder = current
        if holder is not None and holder.token == info.token:
            held_here.add(info.token)
            return Lease(variable.id, info, ttl)  # our own create, answered 409 on a retry
        why = _takeover_reason(variable, holder, ttl, now())
        if why is None:
            return Held(variable.id, holder)
        on_takeover(f"taking over the project lock {variable.id} of {holder.owner.describe() if holder else 'an unreadable record'}: {why}")
        await _delete_generation(client, variable.id)  # by id: only that generation
    return await current_lock(client)


def _takeover_reason(variable: Variable, holder: LockInfo | None, ttl: float, now: datetime) -> str | None:
    """Why the current lock may be taken over (expired, holder gone), or None when it must be respected."""
    if holder is None:
        return "its unreadable record is older than the TTL" if _stale(variable, ttl, now) else None
    if holder.expired(now):
        return "it expired"
    if holder_gone(holder):
        return "its process on this machine is gone"
    return None


def _stale(variable: Variable, ttl: float, now: datetime) -> bool:
    try:
        updated = datetime.fromisoformat(variable.updated_at)
    except ValueError:
        return True
    return now >= updated + timedelta(seconds=ttl)


async def acquire(
    client: AppwriteClient,
    owner: LockOwner,
    *,
    ttl: float = DEFAULT_TTL,
    timeout: float = 0.0,
    poll_interval: float = POLL_INTERVAL,
    on_wait: Callable[[str], None] | None = None,
    on_takeover: Callable[[str], None] = logger.warning,
    now: Clock = utc_now,
) -> Lease:
    """Take the lock, waiting up to `timeout` seconds for a holder to finish. Raises `LockHeld` when it stays held."""
    if ttl <= 0:
        raise ValueError("the lock TTL must be positive")
    start = time.monotonic()
    told = False
    while True:
        got = await try_acquire(client, owner, ttl=ttl, now=now, on_takeover=on_takeover)
        if isinstance(got, Lease):
            return got
        waited = time.monotonic() - start
        remaining = timeout - waited
        if on_wait is not None and not told and timeout > 0:
            # Said as soon as the lock is found held, however slow that first look was.
            on_wait(f"waiting up to {timeout:g}s: the project is locked by {describe_holder(got)}")
            told = True
        if remaining <= 0:
            raise LockHeld(got, waited)
        await asyncio.sleep(min(poll_interval, remaining))


async def break_lock(client: AppwriteClient, lock_id: str) -> bool:
    """Release lock `lock_id` whoever holds it (`fnsync unlock`); False when that lock is not held any more.

    Deleting by the variable id removes that one holding only: a lock taken since has another id and stays."""
    return await _delete_generation(client, lock_id)
