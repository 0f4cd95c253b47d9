"""A project-wide apply lock, built from what Appwrite has: one reserved function and the uniqueness of variable keys.

Appwrite has no lock primitive, and function creation is rate limited (50 per project per day), so fnsync never
creates a function per apply. Instead one reserved, disabled function (`LOCK_FUNCTION_ID`, created once, never
deployed) carries at most one variable, `LOCK`, whose value is the holder's JSON (`LockInfo`):

- acquire: `POST .../variables {key: LOCK}`. The key is unique per function, so exactly one of two racing applies
  gets 201; the other gets 409 `variable_already_exists`, reads the holder and reports it.
- expiry: the holder refreshes `expires_at` (every third of the TTL) while it works; a killed job stops refreshing,
  so its lock expires and the next apply takes it over.
- takeover: delete the expired variable *by its id*, then create again. Every acquisition has a new variable id,
  so two takers cannot both win: the second delete meets 404 (the id is gone) and its create meets 409.
- release: delete our variable by id (a 404 means it was already taken over: nothing of ours is left).

Expiry compares the holder's wall clock (written in UTC) with the reader's, so hosts need roughly synced clocks.
`syncer.state` hides the reserved function from plans, prune and unmanaged lists (`syncer.reserved.is_reserved`).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from syncer.client.errors import AppwriteError, is_already_exists, is_not_found
from syncer.client.models import Variable
# Re-exported: defined apart so the manifest layer can refuse the id without importing the client.
from syncer.reserved import LOCK_FUNCTION_ID

if TYPE_CHECKING:
    from syncer.client import AppwriteClient

logger = logging.getLogger("syncer.lock")

LOCK_FUNCTION_NAME = "fnsync apply lock (do not delete)"
LOCK_KEY = "LOCK"
DEFAULT_TTL = 15 * 60.0
POLL_INTERVAL = 2.0  # while waiting for a held lock (--lock-timeout)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class LockError(Exception):
    """The lock could not be taken or kept (besides being held by someone else)."""


class LockOwner(BaseModel):
    """Who holds the lock, in enough detail to find them: user@host, pid, CI job, command."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user: str
    host: str
    pid: int
    ci: str = ""  # e.g. "GitHub run 456"
    command: str = ""

    def describe(self) -> str:
        details = [f"pid {self.pid}"]
        if self.ci:
            details.append(self.ci)
        if self.command:
            details.append(f"`{self.command}`")
        return f"{self.user}@{self.host} ({', '.join(details)})"


class LockInfo(BaseModel):
    """The lock variable's value."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    owner: LockOwner
    token: str  # random per acquisition: tells our own lock from another holder's
    acquired_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class LockHeld(LockError):
    """Someone else holds the lock; the message names them and says until when."""

    def __init__(self, holder: LockInfo | None, waited: float = 0.0) -> None:
        self.holder = holder
        self.waited = waited
        super().__init__(held_message(holder, waited))


def held_message(holder: LockInfo | None, waited: float = 0.0) -> str:
    if holder is None:
        who = "another fnsync (its lock record is unreadable or kept changing hands; it expires a TTL after its last update)"
    else:
        who = f"{holder.owner.describe()} since {_clock_time(holder.acquired_at)}, expires {_clock_time(holder.expires_at)}"
    after = f" (waited {waited:.0f}s)" if waited else ""
    return f"the project is locked by {who}{after}; use --lock-timeout SECONDS to wait for it, or wait and retry"


def _clock_time(moment: datetime) -> str:
    """12:01 UTC today, else with the date."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%H:%M UTC" if moment.date() == utc_now().date() else "%Y-%m-%d %H:%M UTC")


def ci_job(environ: Mapping[str, str] | None = None) -> str:
    """The CI job running us, when a known CI says so (GitHub Actions, GitLab CI, Buildkite, Jenkins)."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_RUN_ID"):
        attempt = env.get("GITHUB_RUN_ATTEMPT", "")
        return f"GitHub run {env['GITHUB_RUN_ID']}" + (f" attempt {attempt}" if attempt and attempt != "1" else "")
    if env.get("GITLAB_CI") and env.get("CI_JOB_ID"):
        return f"GitLab job {env['CI_JOB_ID']}"
    if env.get("BUILDKITE_BUILD_NUMBER"):
        return f"Buildkite build {env['BUILDKITE_BUILD_NUMBER']}"
    if env.get("BUILD_TAG"):
        return f"Jenkins {env['BUILD_TAG']}"
    return ""


def current_owner(command: str, environ: Mapping[str, str] | None = None) -> LockOwner:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    return LockOwner(user=user, host=socket.gethostname(), pid=os.getpid(), ci=ci_job(environ), command=command)


def parse_lock(variable: Variable) -> LockInfo | None:
    try:
        info = LockInfo.model_validate_json(variable.value)
    except (ValidationError, ValueError):
        return None
    aware = info.acquired_at.tzinfo is not None and info.expires_at.tzinfo is not None
    return info if aware else None  # times without a zone cannot be compared safely: unreadable


class Lease:
    """A held lock: the variable that proves it, and what it says."""

    def __init__(self, variable_id: str, info: LockInfo, ttl: float) -> None:
        self.variable_id = variable_id
        self.info = info
        self.ttl = ttl

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
        try:
            await client.delete_variable(LOCK_FUNCTION_ID, self.variable_id)
        except AppwriteError as exc:
            if not is_not_found(exc):
                raise


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


async def try_acquire(
    client: AppwriteClient, owner: LockOwner, *, ttl: float = DEFAULT_TTL, now: Clock = utc_now
) -> Lease | LockInfo | None:
    """One attempt: a `Lease` when we got the lock, else the holder's `LockInfo` (None if unreadable)."""
    await ensure_lock_function(client)
    for _ in range(3):  # a takeover (or a release) between our reads may need another round
        start = now()
        info = LockInfo(owner=owner, token=secrets.token_hex(8), acquired_at=start, expires_at=start + timedelta(seconds=ttl))
        try:
            variable = await client.create_variable(LOCK_FUNCTION_ID, LOCK_KEY, info.model_dump_json())
            return Lease(variable.id, info, ttl)
        except AppwriteError as exc:
            if not is_already_exists(exc):
                raise
        current = await read_lock(client)
        if current is None:
            continue  # released between our create and our read: try again
        variable, holder = current
        if holder is not None and holder.token == info.token:
            return Lease(variable.id, info, ttl)  # our own create, answered 409 on a retry
        if holder is not None and not holder.expired(now()):
            return holder
        if holder is None and not _stale(variable, ttl, now()):
            return None  # unreadable but recent: treat as held, it expires by its update time
        logger.info("taking over the expired lock of %s", holder.owner.describe() if holder else "an unreadable record")
        try:
            await client.delete_variable(LOCK_FUNCTION_ID, variable.id)  # by id: only the expired generation
        except AppwriteError as exc:
            if not is_not_found(exc):
                raise
    current = await read_lock(client)
    return current[1] if current is not None else None


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
    now: Clock = utc_now,
) -> Lease:
    """Take the lock, waiting up to `timeout` seconds for a holder to finish. Raises `LockHeld` when it stays held."""
    if ttl <= 0:
        raise ValueError("the lock TTL must be positive")
    start = time.monotonic()
    told = False
    while True:
        got = await try_acquire(client, owner, ttl=ttl, now=now)
        if isinstance(got, Lease):
            return got
        waited = time.monotonic() - start
        remaining = timeout - waited
        if on_wait is not None and not told and timeout > 0:
            # Said as soon as the lock is found held, however slow that first look was.
            on_wait(f"waiting up to {timeout:g}s: {held_message(got).split(';')[0]}")
            told = True
        if remaining <= 0:
            raise LockHeld(got, waited)
        await asyncio.sleep(min(poll_interval, remaining))


class _Refresher(threading.Thread):
    """Refreshes the lease every third of its TTL, in its own thread and event loop, until stopped.

    A thread (not a task) because the CLI runs several `asyncio.run` calls and waits for confirmation in between;
    the lock must stay fresh through all of it.
    """

    def __init__(self, lease: Lease, client_factory: Callable[[], AppwriteClient], on_lost: Callable[[str], None]) -> None:
        super().__init__(name="fnsync-lock-refresh", daemon=True)
        self.lease = lease
        self.client_factory = client_factory
        self.on_lost = on_lost
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        interval = max(self.lease.ttl / 3, 0.05)
        while not self.stopped.wait(interval):
            try:
                kept = asyncio.run(self._refresh())
            except Exception as exc:  # noqa: BLE001 - transient: the next round tries again before expiry
                logger.warning("could not refresh the apply lock: %s", exc)
                continue
            if not kept:
                self.lost = True
                self.on_lost("the apply lock expired and was taken over by another fnsync; stop and re-run")
                return

    async def _refresh(self) -> bool:
        async with self.client_factory() as client:
            return await self.lease.refresh(client)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


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
    """Hold the project lock for the body of a `with`, refreshed meanwhile, always released (errors, Ctrl-C).

    For synchronous callers (the CLI); raises `LockHeld` when another apply holds it past `timeout`.
    """
    owner = current_owner(command)

    async def take() -> Lease:
        async with client_factory() as client:
            return await acquire(client, owner, ttl=ttl, timeout=timeout, on_wait=on_wait)

    async def give_back(lease: Lease) -> None:
        async with client_factory() as client:
            await lease.release(client)

    lease = asyncio.run(take())
    refresher = _Refresher(lease, client_factory, warn)
    refresher.start()
    try:
        yield lease
    finally:
        refresher.stop()
        try:
            asyncio.run(give_back(lease))
        except Exception as exc:  # noqa: BLE001 - never hide the body's own error; the lock expires by itself
            until = _clock_time(lease.info.expires_at)
            warn(f"could not release the apply lock ({type(exc).__name__}: {exc}); it expires at {until}")

