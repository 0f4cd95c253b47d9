"""The queue and delivery log in PostgreSQL (`deliveries.Store` over psycopg 3 async and its pool), shared by replicas.

Same rules as the SQLite store, made safe for several receivers on one database:
- one row per key in `job_keys` is the key's mutex: `accept` locks it (so coalescing and the one-queued-job rule
  hold whatever replica receives), and `claim` takes a job with `FOR UPDATE ... SKIP LOCKED` only where the key's
  `holder` is empty, so a branch is deployed by one worker of one replica at a time, in history order;
- a claimed job carries a lease (`lease_owner`, `lease_until`, on the database's clock) that a task renews
  while the receiver lives; a job whose lease ran out (the holder was killed or lost the database) is queued
  again by whichever replica claims next, and the late holder's `finish` is refused (fencing);
- dedup is the unique delivery id and the unique body hash, so two replicas receiving one body race safely;
- a queued job or a freed key is `NOTIFY`ed on one channel that every replica `LISTEN`s to, so an idle worker of
  any replica starts at once; workers still poll every second, in case the listening connection is down.
The schema is versioned and migrated under an advisory lock, so replicas may start together (`store_pg_schema`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg import pq
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from webhook.deliveries import FINAL, Accepted, Claim, DeliveryRecord, HistoryEntry, QueueStats, Status, to_claim, to_record
from webhook.events import Decision, Ignored, JobRequest
from webhook.store_pg_schema import ACCEPT_IGNORED, ACCEPT_JOB, LOCK_KEY_UNLESS_KNOWN, MIGRATIONS, migrate

__all__ = ["MIGRATIONS", "PostgresStore", "migrate"]

log = logging.getLogger("fnsync.webhook")
NOTIFY_CHANNEL = "fnsync_webhook_jobs"  # NOTIFYed when a job is queued or a key freed; every replica LISTENs

P = ParamSpec("P")
T = TypeVar("T")
RETRY_FOR = 10.0  # seconds a write is retried through a failover or a deadlock before it is given up


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _retried(default: Any = ..., *, swallow: bool = False) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Retry a transaction that failed for a passing reason (connection lost, deadlock, pool exhausted) for up to
    `RETRY_FOR` seconds. Then: re-raise, or (`swallow`, for bookkeeping a worker must survive) log and return
    `default`: the job's lease runs out and it is resumed, and resuming is idempotent."""

    def wrap(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            deadline = time.monotonic() + RETRY_FOR
            delay = 0.05
            while True:
                try:
                    return await method(*args, **kwargs)
                except psycopg.OperationalError as exc:
                    if time.monotonic() + delay > deadline:
                        if not swallow:
                            raise
                        log.error("database unavailable for %s: %s", method.__name__, exc)
                        return default  # type: ignore[no-any-return]
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)

        run.__name__ = method.__name__
        run.__doc__ = method.__doc__
        return run

    return wrap


class PostgresStore:
    """`deliveries.Store` over psycopg's async connection pool; every method is one transaction.

    Nothing here blocks the event loop: each round trip is awaited, so the receiver keeps answering deliveries
    while a worker's transaction waits on the database. `owner` names this receiver in leases; a receiver
    restarted with the same owner (same host and data dir) queues its own interrupted jobs at once (`recover`),
    others wait for the lease to run out. The schema is migrated when the store is made (one short synchronous
    connection, before the server starts: a database that cannot be reached stops the start); the pool and the
    lease renewal start with `open`, in the running event loop."""

    def __init__(self, conninfo: str, *, owner: str, lease: float = 30.0, pool_size: int = 8) -> None:
        self.owner = owner
        self.lease = lease
        self._conninfo = conninfo
        self._pool_size = pool_size
        migrate(conninfo)
        self._pool: AsyncConnectionPool[Any] | None = None
        self._holding: set[str] = set()  # jobs this receiver's workers run now: only their leases are renewed
        self._renewer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._wakers: list[Callable[[], None]] = []
        self.listening = asyncio.Event()  # set while the listener's LISTEN stands (tests wait for it)

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self._conninfo, min_size=1, max_size=self._pool_size, kwargs={"row_factory": dict_row}, open=False,
            name="fnsync-webhook",
        )
        await pool.open()
        self._pool = pool
        self._renewer = asyncio.create_task(self._renew_leases(), name="fnsync-webhook-leases")
        self._listener = asyncio.create_task(self._listen(), name="fnsync-webhook-listen")

    def on_new_jobs(self, wake: Callable[[], None]) -> None:
        """Call `wake` when any replica queues a job or frees a key (PostgreSQL `NOTIFY`), so idle workers here
        start at once instead of at their next poll; polling stays the fallback when the listener is down."""
        self._wakers.append(wake)

    async def _listen(self) -> None:
        """One connection outside the pool, `LISTEN`ing; reconnects after a second when it is lost."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    async for notice in conn.notifies():
                        if notice.payload == self.owner:
                            continue
                        for wake in self._wakers:
                            wake()
            except psycopg.Error as exc:
                log.warning("job notifications unavailable (workers poll meanwhile): %s", exc)
            self.listening.clear()
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        for task in (self._renewer, self._listener):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        self._renewer = self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        async with self._pool.connection() as conn:  # commits on a clean exit, rolls back on an error
            yield conn

    @asynccontextmanager
    async def _batch(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        """A transaction in pipeline mode: statements go out without waiting for each other's answers, a round trip
        is paid only where a result is read, and the COMMIT goes with the pipeline's closing Sync, so locks are
        released one round trip after the last read. Results of statements not read inside are read after the
        block. BEGIN is sent as a statement (in autocommit mode): psycopg would send its own with a Sync of its own."""
        async with self._tx() as conn:
            await conn.set_autocommit(True)
            try:
                async with conn.pipeline():
                    await conn.execute("BEGIN")
                    yield conn
                    await conn.execute("COMMIT")
            finally:
                if conn.info.transaction_status != pq.TransactionStatus.IDLE:  # an error: nothing is kept
                    await conn.rollback()
                await conn.set_autocommit(False)

    async def _notify(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Tell the other replicas' idle workers, at commit; the payload names this receiver, whose own workers
        were woken directly (so it does not wake them twice)."""
        await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, self.owner))

    async def _history(self, conn: psycopg.AsyncConnection[Any], seq: int, status: str, message: str) -> None:
        await conn.execute(
            "INSERT INTO history (delivery_seq, at, status, message) VALUES (%s, %s, %s, %s)", (seq, _now(), status, message)
        )

    async def _renew_leases(self) -> None:
        """Every third of the lease, extend the leases of the jobs held here. A job whose outcome could not be
        written (database away for long) is no longer held, so its lease runs out and it is run again."""
        while True:
            await asyncio.sleep(self.lease / 3)
            holding = sorted(self._holding)
            if not holding:
                continue
            try:
                async with asyncio.timeout(self.lease / 3), self._tx() as conn:
                    await conn.execute(
                        "UPDATE deliveries SET lease_until = now() + make_interval(secs => %s)"
                        " WHERE status = %s AND lease_owner = %s AND id = ANY(%s)",
                        (self.lease, Status.DEPLOYING, self.owner, holding),
                    )
            except (psycopg.Error, TimeoutError) as exc:  # the next round tries again before the lease runs out
                log.warning("could not renew job leases: %s", exc)

    # --- receiving ---

    @_retried()
    async def accept(
        self, delivery_id: str, provider: str, event: str, decision: Decision, queue_size: int, body_hash: str | None = None
    ) -> Accepted:
        """Two round trips for a job (one for an ignored delivery), the key's row locked only for the second:
        a duplicate is found by the statement that would lock, so it never waits on the key."""
        now = _now()
        args: dict[str, Any] = {"id": delivery_id, "provider": provider, "event": event, "now": now, "hash": body_hash}
        if isinstance(decision, Ignored):
            async with self._batch() as conn:
                ignored = await conn.execute(ACCEPT_IGNORED, {**args, "status": Status.IGNORED, "reason": decision.reason})
            return "ignored" if await ignored.fetchone() else "duplicate"  # answered with the commit: one round trip
        async with self._batch() as conn:
            # the key's row is its mutex: replicas accepting for one branch take turns; a duplicate does not take it
            locked = await conn.execute(LOCK_KEY_UNLESS_KNOWN, {**args, "key": decision.key})
            queued_now = await conn.execute(
                "SELECT seq, job FROM deliveries WHERE status = %s AND key = %s ORDER BY seq", (Status.QUEUED, decision.key)
            )
            keys_queued = await conn.execute("SELECT count(DISTINCT key) AS n FROM deliveries WHERE status = %s", (Status.QUEUED,))
            if await locked.fetchone() is None:  # sent together, answered together: one round trip
                return "duplicate"
            queued: list[dict[str, Any]] = await queued_now.fetchall()
            row = await keys_queued.fetchone()
            if not queued and row is not None and row["n"] >= queue_size:
                return "full"
            job = decision
            for old in queued:
                job = job.replacing(JobRequest.model_validate_json(old["job"]))
            inserted = await conn.execute(ACCEPT_JOB, {
                **args, "key": decision.key, "job": job.model_dump_json(), "queued": Status.QUEUED, "waiting": "waiting for a worker",
                "message": f"queued {decision.kind} of {decision.sha[:12]} on {decision.key}",
                "older": [old["seq"] for old in queued], "superseded": Status.SUPERSEDED,
                "why": f"replaced in the queue by delivery {delivery_id} ({decision.sha[:12]}); the newest commit by history is deployed",
                "channel": NOTIFY_CHANNEL, "owner": self.owner,
            })
        # committed with the insert, in the same round trip: the key's row was held for one round trip.
        # No row: the same id or body was committed by another replica meanwhile, and nothing was changed
        return "queued" if await inserted.fetchone() else "duplicate"

    # --- working ---

    @_retried()
    async def recover(self) -> list[str]:
        """On start: this receiver's own jobs from before a restart, and any job whose lease ran out, are queued."""
        async with self._tx() as conn:
            return await self._requeue(conn, mine=True)

    async def _requeue(self, conn: psycopg.AsyncConnection[Any], mine: bool) -> list[str]:
        rows = await _all(
            conn,
            "SELECT seq, id, key, lease_owner FROM deliveries WHERE status = %s"
            " AND (lease_until IS NULL OR lease_until < now() OR (%s AND lease_owner = %s)) ORDER BY seq FOR UPDATE SKIP LOCKED",
            (Status.DEPLOYING, mine, self.owner),
        )
        for row in rows:
            if row["lease_owner"] == self.owner:
                reason = "receiver restarted during deployment; resuming"
            else:
                reason = f"receiver {row['lease_owner']} stopped renewing its lease during deployment; resuming"
            await conn.execute(
                "UPDATE deliveries SET status = %s, reason = %s, next_attempt_at = 0, lease_owner = NULL, lease_until = NULL,"
                " updated_at = %s WHERE seq = %s",
                (Status.QUEUED, reason, _now(), row["seq"]),
            )
            await conn.execute("UPDATE job_keys SET holder = NULL WHERE key = %s AND holder = %s", (row["key"], row["id"]))
            await self._history(conn, row["seq"], Status.QUEUED, reason)
            log.warning("delivery %s: %s", row["id"], reason)
        return [row["id"] for row in rows]

    @_retried(None, swallow=True)
    async def claim(self, now: float | None = None) -> Claim | None:
        """The oldest ready job whose key no worker of any replica holds; jobs of dead holders are taken over."""
        async with self._batch() as conn:
            await self._requeue(conn, mine=False)
            row = await _one(
                conn,
                "SELECT d.* FROM deliveries d JOIN job_keys k ON k.key = d.key"
                " WHERE d.status = %s AND d.next_attempt_at <= COALESCE(%s, extract(epoch FROM clock_timestamp()))"
                " AND k.holder IS NULL ORDER BY d.seq LIMIT 1 FOR UPDATE OF d, k SKIP LOCKED",
                (Status.QUEUED, now),
            )
            if row is None:
                return None
            attempts = row["attempts"] + 1
            await conn.execute(
                "UPDATE deliveries SET status = %s, reason = %s, attempts = %s, updated_at = %s, lease_owner = %s,"
                " lease_until = now() + make_interval(secs => %s) WHERE seq = %s",
                (Status.DEPLOYING, f"deploying (attempt {attempts})", attempts, _now(), self.owner, self.lease, row["seq"]),
            )
            await conn.execute("UPDATE job_keys SET holder = %s WHERE key = %s", (row["id"], row["key"]))
            await self._history(conn, row["seq"], Status.DEPLOYING, f"attempt {attempts} by {self.owner}")
            heads = await conn.execute("SELECT sha, delivery_id FROM heads WHERE key = %s", (row["key"],))
            replaced = await conn.execute("SELECT id, attempts FROM deliveries WHERE superseded_by = %s ORDER BY seq", (row["id"],))
        head: dict[str, Any] | None = await heads.fetchone()  # answered with the commit
        superseded: list[dict[str, Any]] = await replaced.fetchall()
        # held from the commit on (a claim whose commit failed was never ours)
        self._holding.add(row["id"])
        return to_claim(row, attempts, head, superseded)

    async def _row(self, conn: psycopg.AsyncConnection[Any], delivery_id: str, lock: bool = False) -> dict[str, Any] | None:
        return await _one(conn, "SELECT * FROM deliveries WHERE id = %s" + (" FOR UPDATE" if lock else ""), (delivery_id,))

    def _held(self, row: dict[str, Any]) -> bool:
        """Whether this receiver still holds the job (fencing: a late holder must not overwrite a takeover)."""
        if row["status"] == Status.DEPLOYING and row["lease_owner"] not in (None, self.owner):
            log.warning("delivery %s was taken over by %s after this receiver's lease ran out; dropping its result",
                        row["id"], row["lease_owner"])
            return False
        if row["status"] != Status.DEPLOYING:
            log.warning("delivery %s is %s, no longer deploying here; dropping this receiver's result", row["id"], row["status"])
            return False
        return True

    @_retried(None, swallow=True)
    async def note(self, delivery_id: str, message: str) -> None:
        async with self._batch() as conn:
            row = await self._row(conn, delivery_id)
            if row is not None:
                await self._history(conn, row["seq"], row["status"], message)

    @_retried(None, swallow=True)
    async def add_deployment(self, delivery_id: str, function_id: str, deployment_id: str) -> None:
        async with self._batch() as conn:
            row = await self._row(conn, delivery_id, lock=True)
            if row is None:
                return
            deployments = json.loads(row["deployments"])
            deployments[function_id] = deployment_id
            await conn.execute(
                "UPDATE deliveries SET deployments = %s, updated_at = %s WHERE seq = %s",
                (json.dumps(deployments, sort_keys=True), _now(), row["seq"]),
            )
            await self._history(conn, row["seq"], row["status"], f"deployment {deployment_id} created for {function_id}")

    async def finish(
        self, delivery_id: str, status: Status, reason: str, error: str = "", *, deployed: str | None = None,
        superseded_by: str | None = None,
    ) -> None:
        try:
            await self._finish(delivery_id, status, reason, error, deployed=deployed, superseded_by=superseded_by)
        finally:
            self._holding.discard(delivery_id)

    async def retry_later(self, delivery_id: str, delay: float, error: str) -> None:
        try:
            await self._retry_later(delivery_id, delay, error)
        finally:
            self._holding.discard(delivery_id)

    @_retried(None, swallow=True)
    async def _finish(
        self, delivery_id: str, status: Status, reason: str, error: str = "", *, deployed: str | None = None,
        superseded_by: str | None = None,
    ) -> None:
        assert status in FINAL
        async with self._batch() as conn:
            row = await self._row(conn, delivery_id, lock=True)
            if row is None or (row["status"] not in FINAL and row["key"] and not self._held(row)):
                return
            await conn.execute(
                "UPDATE deliveries SET status = %s, reason = %s, error = %s, superseded_by = COALESCE(%s, superseded_by),"
                " updated_at = %s, lease_owner = NULL, lease_until = NULL WHERE seq = %s",
                (status, reason, error, superseded_by, _now(), row["seq"]),
            )
            await self._history(conn, row["seq"], status, error or reason)
            if row["key"]:
                await conn.execute("UPDATE job_keys SET holder = NULL WHERE key = %s AND holder = %s", (row["key"], delivery_id))
                await self._notify(conn)  # the key is free: a job queued for it meanwhile may run
            if deployed is not None and row["key"]:
                await conn.execute(
                    "INSERT INTO heads (key, sha, delivery_id, at) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET sha = EXCLUDED.sha, delivery_id = EXCLUDED.delivery_id, at = EXCLUDED.at",
                    (row["key"], deployed, delivery_id, _now()),
                )

    @_retried(None, swallow=True)
    async def _retry_later(self, delivery_id: str, delay: float, error: str) -> None:
        async with self._batch() as conn:
            row = await self._row(conn, delivery_id, lock=True)
            if row is None or not self._held(row):
                return
            reason = f"transient failure; retrying in {delay:.1f}s"
            await conn.execute(
                "UPDATE deliveries SET status = %s, reason = %s, error = %s,"
                " next_attempt_at = extract(epoch FROM clock_timestamp()) + %s, updated_at = %s,"
                " lease_owner = NULL, lease_until = NULL WHERE seq = %s",
                (Status.QUEUED, reason, error, delay, _now(), row["seq"]),
            )
            await conn.execute("UPDATE job_keys SET holder = NULL WHERE key = %s AND holder = %s", (row["key"], delivery_id))
            await self._history(conn, row["seq"], Status.QUEUED, f"{reason}: {error}")
            await self._notify(conn)

    # --- reading ---

    async def queued_count(self) -> int:
        async with self._tx() as conn:
            row = await _one(conn, "SELECT count(*) AS n FROM deliveries WHERE status = %s", (Status.QUEUED,))
        return int(row["n"]) if row else 0

    async def queue_stats(self) -> QueueStats:
        async with self._tx() as conn:
            row = await _one(
                conn,
                "SELECT count(*) FILTER (WHERE status = %s) AS queued, count(*) FILTER (WHERE status = %s) AS deploying,"
                " COALESCE(extract(epoch FROM now() - min(queued_at) FILTER (WHERE status = %s)), 0) AS oldest"
                " FROM deliveries WHERE status IN (%s, %s)",
                (Status.QUEUED, Status.DEPLOYING, Status.QUEUED, Status.QUEUED, Status.DEPLOYING),
            )
        assert row is not None
        return QueueStats(queued=int(row["queued"]), deploying=int(row["deploying"]), oldest_age=float(row["oldest"]))

    async def ping(self) -> None:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        async with self._pool.connection(timeout=3) as conn:
            await conn.execute("SELECT 1")

    @_retried(None, swallow=True)
    async def next_retry_at(self) -> float | None:
        async with self._tx() as conn:
            row = await _one(
                conn, "SELECT min(next_attempt_at) AS at FROM deliveries WHERE status = %s AND next_attempt_at > 0", (Status.QUEUED,)
            )
        return None if row is None or row["at"] is None else float(row["at"])

    async def get(self, delivery_id: str, history: bool = True) -> DeliveryRecord | None:
        async with self._tx() as conn:
            row = await self._row(conn, delivery_id)
            if row is None:
                return None
            entries = None
            if history:
                entries = [
                    HistoryEntry(at=h["at"], status=h["status"], message=h["message"])
                    for h in await _all(conn, "SELECT at, status, message FROM history WHERE delivery_seq = %s ORDER BY id", (row["seq"],))
                ]
        return to_record(row, entries)

    async def list(self, limit: int = 50, status: Status | None = None) -> list[DeliveryRecord]:
        async with self._tx() as conn:
            if status is None:
                rows = await _all(conn, "SELECT * FROM deliveries ORDER BY seq DESC LIMIT %s", (limit,))
            else:
                rows = await _all(conn, "SELECT * FROM deliveries WHERE status = %s ORDER BY seq DESC LIMIT %s", (status, limit))
        return [to_record(row, None) for row in rows]

    async def pr_comment(self, repo: str, number: int) -> int | None:
        async with self._tx() as conn:
            row = await _one(conn, "SELECT comment_id FROM pr_comments WHERE repo = %s AND number = %s", (repo, number))
        return None if row is None else int(row["comment_id"])

    async def set_pr_comment(self, repo: str, number: int, comment_id: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO pr_comments (repo, number, comment_id) VALUES (%s, %s, %s)"
                " ON CONFLICT (repo, number) DO UPDATE SET comment_id = EXCLUDED.comment_id",
                (repo, number, comment_id),
            )


async def _one(conn: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
    cursor = await conn.execute(query, params)  # type: ignore[arg-type]
    row: dict[str, Any] | None = await cursor.fetchone()
    return row


async def _all(conn: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cursor = await conn.execute(query, params)  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = await cursor.fetchall()
    return rows
