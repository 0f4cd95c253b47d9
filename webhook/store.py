"""The durable queue and delivery log in one SQLite file in the data dir (`deliveries.Store` over sqlite3).

A delivery row is both the log entry (what happened and why) and, while `queued`/`deploying`, the job.
Every state change is one transaction, so a receiver killed at any point restarts from a consistent
state: `deploying` rows go back to `queued` (`recover`), and reconciling again is idempotent because the
planner compares code hashes. Coalescing happens when a delivery arrives: it replaces the queued job of its
key (that row becomes `superseded`, its commit a candidate of the new job), so the queue holds one job per key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread

from webhook.deliveries import FINAL, Accepted, Claim, DeliveryRecord, Head, HistoryEntry, QueueStats, Status, to_claim, to_record
from webhook.events import Decision, Ignored, JobRequest

__all__ = ["FINAL", "Accepted", "Claim", "DeliveryRecord", "DeliveryStore", "Head", "HistoryEntry", "SqliteQueue", "Status"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    key TEXT,
    job TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    superseded_by TEXT,
    deployments TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries(status, key);
CREATE TABLE IF NOT EXISTS history (
    delivery_seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_seq ON history(delivery_seq);
CREATE TABLE IF NOT EXISTS pr_comments (
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    comment_id INTEGER NOT NULL,
    PRIMARY KEY (repo, number)
);
CREATE TABLE IF NOT EXISTS heads (
    key TEXT PRIMARY KEY,
    sha TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    at TEXT NOT NULL
);
"""
# Columns added after the first release; `_migrate` adds them to an older database.
ADDED_COLUMNS = {"body_hash": "TEXT"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SqliteQueue:
    """The synchronous work of `DeliveryStore`: thread-safe wrapper over one sqlite3 connection.

    WAL with synchronous=NORMAL: a committed transaction survives the process being killed (the WAL is in the
    OS page cache); only an OS crash or power loss can lose the last commits. `fsync=True` (synchronous=FULL)
    closes that gap at about 8 ms per commit on a typical virtual disk instead of well under 1 ms."""

    def __init__(self, path: Path, fsync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(deliveries)")}
        for name, kind in ADDED_COLUMNS.items():
            if name not in present:
                self._db.execute(f"ALTER TABLE deliveries ADD COLUMN {name} {kind}")
        self._db.execute("CREATE INDEX IF NOT EXISTS deliveries_body ON deliveries(body_hash)")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- transactions ---

    def _tx(self) -> _Tx:
        return _Tx(self)

    def _history(self, seq: int, status: str, message: str) -> None:
        self._db.execute(
            "INSERT INTO history (delivery_seq, at, status, message) VALUES (?, ?, ?, ?)", (seq, _now(), status, message)
        )

    # --- receiving ---

    def accept(
        self, delivery_id: str, provider: str, event: str, decision: Decision, queue_size: int, body_hash: str | None = None
    ) -> Accepted:
        """Record a verified delivery; the caller answers from the result.

        A known delivery id, or the body of a queued job, is a `duplicate` (a replayed body under a new id changes
        nothing). A job
        replaces its key's queued job, so a burst on one branch holds one slot; `full` only when `queue_size`
        other keys are queued, and then nothing is recorded, so the sender's retry is not taken for a duplicate."""
        now = _now()
        with self._tx():
            known = self._db.execute(
                "SELECT 1 FROM deliveries WHERE id = ? OR (? IS NOT NULL AND body_hash = ?)", (delivery_id, body_hash, body_hash)
            ).fetchone()
            if known:
                return "duplicate"
            if isinstance(decision, Ignored):
                cur = self._db.execute(  # no body hash: an ignored body may be sent again once a function is linked
                    "INSERT INTO deliveries (id, provider, event, status, reason, received_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (delivery_id, provider, event, Status.IGNORED, decision.reason, now, now),
                )
                self._history(cur.lastrowid or 0, Status.IGNORED, decision.reason)
                return "ignored"
            queued = self._db.execute(
                "SELECT seq, id, job FROM deliveries WHERE status = ? AND key = ? ORDER BY seq", (Status.QUEUED, decision.key)
            ).fetchall()
            if not queued:
                (keys,) = self._db.execute("SELECT COUNT(DISTINCT key) FROM deliveries WHERE status = ?", (Status.QUEUED,)).fetchone()
                if keys >= queue_size:
                    return "full"
            job = decision
            for row in queued:
                job = job.replacing(JobRequest.model_validate_json(row["job"]))
            cur = self._db.execute(
                "INSERT INTO deliveries (id, provider, event, status, reason, received_at, updated_at, key, job, body_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (delivery_id, provider, event, Status.QUEUED, "waiting for a worker", now, now, decision.key,
                 job.model_dump_json(), body_hash),
            )
            self._history(cur.lastrowid or 0, Status.QUEUED, f"queued {decision.kind} of {decision.sha[:12]} on {decision.key}")
            for row in queued:
                reason = f"replaced in the queue by delivery {delivery_id} ({decision.sha[:12]}); the newest commit by history is deployed"
                self._db.execute(
                    "UPDATE deliveries SET status = ?, reason = ?, superseded_by = ?, updated_at = ? WHERE seq = ?",
                    (Status.SUPERSEDED, reason, delivery_id, now, row["seq"]),
                )
                self._history(row["seq"], Status.SUPERSEDED, reason)
            return "queued"

    # --- working ---

    def recover(self) -> list[str]:
        """After a restart: jobs that were deploying when the process died are queued again (same attempt count)."""
        with self._tx():
            rows = self._db.execute("SELECT seq, id FROM deliveries WHERE status = ?", (Status.DEPLOYING,)).fetchall()
            for row in rows:
                self._db.execute(
                    "UPDATE deliveries SET status = ?, reason = ?, next_attempt_at = 0, updated_at = ? WHERE seq = ?",
                    (Status.QUEUED, "receiver restarted during deployment; resuming", _now(), row["seq"]),
                )
                self._history(row["seq"], Status.QUEUED, "receiver restarted during deployment; resuming")
        return [row["id"] for row in rows]

    def claim(self, now: float | None = None) -> Claim | None:
        """Take the oldest ready job whose key nobody is deploying (one queued job per key: `accept` replaces)."""
        now = time.time() if now is None else now
        with self._tx():
            row = self._db.execute(
                "SELECT * FROM deliveries WHERE status = ? AND next_attempt_at <= ?"
                " AND key NOT IN (SELECT key FROM deliveries WHERE status = ?) ORDER BY seq LIMIT 1",
                (Status.QUEUED, now, Status.DEPLOYING),
            ).fetchone()
            if row is None:
                return None
            attempts = row["attempts"] + 1
            self._db.execute(
                "UPDATE deliveries SET status = ?, reason = ?, attempts = ?, updated_at = ? WHERE seq = ?",
                (Status.DEPLOYING, f"deploying (attempt {attempts})", attempts, _now(), row["seq"]),
            )
            self._history(row["seq"], Status.DEPLOYING, f"attempt {attempts}")
            head = self._db.execute("SELECT sha, delivery_id FROM heads WHERE key = ?", (row["key"],)).fetchone()
            superseded = self._db.execute(
                "SELECT id, attempts FROM deliveries WHERE superseded_by = ? ORDER BY seq", (row["id"],)
            ).fetchall()
            return to_claim(row, attempts, head, superseded)

    def note(self, delivery_id: str, message: str) -> None:
        """Add a history line (progress) without changing the state."""
        with self._tx():
            row = self._row(delivery_id)
            if row is not None:
                self._history(row["seq"], row["status"], message)

    def add_deployment(self, delivery_id: str, function_id: str, deployment_id: str) -> None:
        """Record a deployment as soon as it exists, so a crash cannot lose which deployment a delivery made."""
        with self._tx():
            row = self._row(delivery_id)
            if row is None:
                return
            deployments = json.loads(row["deployments"])
            deployments[function_id] = deployment_id
            self._db.execute(
                "UPDATE deliveries SET deployments = ?, updated_at = ? WHERE seq = ?",
                (json.dumps(deployments, sort_keys=True), _now(), row["seq"]),
            )
            self._history(row["seq"], row["status"], f"deployment {deployment_id} created for {function_id}")

    def finish(
        self, delivery_id: str, status: Status, reason: str, error: str = "", *, deployed: str | None = None,
        superseded_by: str | None = None,
    ) -> None:
        """Final state; `deployed` records, in the same transaction, the commit the delivery's key is now at."""
        assert status in FINAL
        with self._tx():
            row = self._row(delivery_id)
            if row is None:
                return
            self._db.execute(
                "UPDATE deliveries SET status = ?, reason = ?, error = ?, superseded_by = COALESCE(?, superseded_by),"
                " updated_at = ? WHERE seq = ?",
                (status, reason, error, superseded_by, _now(), row["seq"]),
            )
            self._history(row["seq"], status, error or reason)
            if deployed is not None and row["key"]:
                self._db.execute(
                    "INSERT OR REPLACE INTO heads (key, sha, delivery_id, at) VALUES (?, ?, ?, ?)",
                    (row["key"], deployed, delivery_id, _now()),
                )

    def retry_later(self, delivery_id: str, delay: float, error: str) -> None:
        with self._tx():
            row = self._row(delivery_id)
            if row is None:
                return
            reason = f"transient failure; retrying in {delay:.1f}s"
            self._db.execute(
                "UPDATE deliveries SET status = ?, reason = ?, error = ?, next_attempt_at = ?, updated_at = ? WHERE seq = ?",
                (Status.QUEUED, reason, error, time.time() + delay, _now(), row["seq"]),
            )
            self._history(row["seq"], Status.QUEUED, f"{reason}: {error}")

    # --- reading ---

    def _row(self, delivery_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return row

    def queued_count(self) -> int:
        """Queued jobs, which is queued keys: `accept` keeps one per key."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM deliveries WHERE status = ?", (Status.QUEUED,)).fetchone()
        return int(count)

    def queue_stats(self) -> QueueStats:
        with self._lock:
            row = self._db.execute(
                "SELECT SUM(status = ?) AS queued, SUM(status = ?) AS deploying,"
                " MAX(CASE WHEN status = ? THEN (julianday('now') - julianday(received_at)) * 86400 END) AS oldest"
                " FROM deliveries WHERE status IN (?, ?)",
                (Status.QUEUED, Status.DEPLOYING, Status.QUEUED, Status.QUEUED, Status.DEPLOYING),
            ).fetchone()
        return QueueStats(queued=int(row["queued"] or 0), deploying=int(row["deploying"] or 0), oldest_age=max(0.0, float(row["oldest"] or 0)))

    def ping(self) -> None:
        with self._lock:
            self._db.execute("SELECT 1").fetchone()

    def next_retry_at(self) -> float | None:
        """When the earliest delayed job becomes ready (workers sleep until then or a wake-up)."""
        with self._lock:
            (value,) = self._db.execute(
                "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = ? AND next_attempt_at > 0", (Status.QUEUED,)
            ).fetchone()
        return None if value is None else float(value)

    def get(self, delivery_id: str, history: bool = True) -> DeliveryRecord | None:
        with self._lock:
            row = self._row(delivery_id)
            if row is None:
                return None
            entries = None
            if history:
                entries = [
                    HistoryEntry(at=h["at"], status=h["status"], message=h["message"])
                    for h in self._db.execute("SELECT * FROM history WHERE delivery_seq = ? ORDER BY rowid", (row["seq"],))
                ]
        return to_record(row, entries)

    def list(self, limit: int = 50, status: Status | None = None) -> list[DeliveryRecord]:
        """Newest first."""
        with self._lock:
            if status is None:
                rows = self._db.execute("SELECT * FROM deliveries ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM deliveries WHERE status = ? ORDER BY seq DESC LIMIT ?", (status, limit)
                ).fetchall()
        return [to_record(row, None) for row in rows]

    # --- PR comment ids (so one comment per PR is updated, not repeated) ---

    def pr_comment(self, repo: str, number: int) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT comment_id FROM pr_comments WHERE repo = ? AND number = ?", (repo, number)).fetchone()
        return None if row is None else int(row["comment_id"])

    def set_pr_comment(self, repo: str, number: int, comment_id: int) -> None:
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO pr_comments (repo, number, comment_id) VALUES (?, ?, ?)", (repo, number, comment_id)
            )


class _Tx:
    """`BEGIN IMMEDIATE` … `COMMIT` under the store's lock; rolls back on error."""

    def __init__(self, store: SqliteQueue) -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store._lock.acquire()
        self.store._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            self.store._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._lock.release()



P = ParamSpec("P")
T = TypeVar("T")


class DeliveryStore:
    """`deliveries.Store` over `SqliteQueue`, the interface the PostgreSQL store has.

    The sqlite3 work runs inline on the event loop: with WAL and synchronous=NORMAL a transaction commits without
    waiting for the disk, an accept in 0.08 ms (ignored) to 0.29 ms (queued) p50 (`bench/webhook_bench.py
    --store-ops`), about what handing it to a thread would cost by itself, and the thread pool is shared with git.
    With `fsync=True` every commit waits for the disk (about 8 ms on a virtual disk), which would stall every request
    meanwhile: then each call runs in a worker thread, serialised by the queue's lock."""

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.queue = SqliteQueue(path, fsync=fsync)
        self._threaded = fsync

    async def _call(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if not self._threaded:
            return method(*args, **kwargs)
        return await anyio.to_thread.run_sync(lambda: method(*args, **kwargs))

    async def open(self) -> None:
        """Nothing to open: the file was opened (and migrated) when the store was made."""

    def on_new_jobs(self, wake: Callable[[], None]) -> None:
        """One receiver per SQLite file: its own `accept` wakes its workers."""

    async def close(self) -> None:
        self.queue.close()

    async def accept(
        self, delivery_id: str, provider: str, event: str, decision: Decision, queue_size: int, body_hash: str | None = None
    ) -> Accepted:
        return await self._call(self.queue.accept, delivery_id, provider, event, decision, queue_size, body_hash)

    async def recover(self) -> list[str]:
        return await self._call(self.queue.recover)

    async def claim(self, now: float | None = None) -> Claim | None:
        return await self._call(self.queue.claim, now)

    async def note(self, delivery_id: str, message: str) -> None:
        await self._call(self.queue.note, delivery_id, message)

    async def add_deployment(self, delivery_id: str, function_id: str, deployment_id: str) -> None:
        await self._call(self.queue.add_deployment, delivery_id, function_id, deployment_id)

    async def finish(
        self, delivery_id: str, status: Status, reason: str, error: str = "", *, deployed: str | None = None,
        superseded_by: str | None = None,
    ) -> None:
        await self._call(self.queue.finish, delivery_id, status, reason, error, deployed=deployed, superseded_by=superseded_by)

    async def retry_later(self, delivery_id: str, delay: float, error: str) -> None:
        await self._call(self.queue.retry_later, delivery_id, delay, error)

    async def queued_count(self) -> int:
        return await self._call(self.queue.queued_count)

    async def queue_stats(self) -> QueueStats:
        return await self._call(self.queue.queue_stats)

    async def ping(self) -> None:
        await self._call(self.queue.ping)

    async def next_retry_at(self) -> float | None:
        return await self._call(self.queue.next_retry_at)

    async def get(self, delivery_id: str, history: bool = True) -> DeliveryRecord | None:
        return await self._call(self.queue.get, delivery_id, history)

    async def list(self, limit: int = 50, status: Status | None = None) -> list[DeliveryRecord]:
        return await self._call(self.queue.list, limit, status)

    async def pr_comment(self, repo: str, number: int) -> int | None:
        return await self._call(self.queue.pr_comment, repo, number)

    async def set_pr_comment(self, repo: str, number: int, comment_id: int) -> None:
        await self._call(self.queue.set_pr_comment, repo, number, comment_id)
