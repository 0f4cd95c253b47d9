"""What the queue and delivery log hold, and the interface every store implements (SQLite, PostgreSQL).

The rules live behind these methods, not in callers: `accept` deduplicates (delivery id, and a hash of the signed
body) and keeps one queued job per key (a newer delivery replaces the queued one, the log keeps both); `claim` hands
out one job per key at a time; `finish` records the commit a branch is now deployed at, which the next job of that
branch diffs from and compares history with.
"""

from __future__ import annotations

import hashlib
import json
import socket
from enum import StrEnum
from pathlib import Path
from collections.abc import Callable
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from webhook.events import Decision, JobRequest


class Status(StrEnum):
    IGNORED = "ignored"
    QUEUED = "queued"
    DEPLOYING = "deploying"
    DONE = "done"
    FAILED = "failed"
    SUPERSEDED = "superseded"


FINAL = frozenset({Status.IGNORED, Status.DONE, Status.FAILED, Status.SUPERSEDED})
Accepted = Literal["queued", "ignored", "duplicate", "full"]


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)
    at: str
    status: str
    message: str


class DeliveryRecord(BaseModel):
    """One delivery as `/deliveries` shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    event: str
    status: Status
    reason: str
    error: str
    received_at: str
    updated_at: str
    attempts: int
    repository: str | None = None
    branch: str | None = None
    commit: str | None = None
    pull_request: int | None = None
    superseded_by: str | None = None
    deployments: dict[str, str] = {}
    history: list[HistoryEntry] | None = None


class Claim(BaseModel):
    """A job handed to a worker, with what the store knows about its key."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str
    job: JobRequest
    attempts: int  # including this one
    interrupted: bool = False  # an earlier attempt of this job, or of a job it replaced, ran: its builds may still run
    superseded: tuple[str, ...] = ()
    deployments: dict[str, str] = {}  # recorded by an earlier, interrupted attempt
    deployed: Head | None = None  # the commit this key was last deployed at (pushes), if any


class Head(BaseModel):
    """The commit a branch was last deployed at, and by which delivery."""

    model_config = ConfigDict(frozen=True)

    sha: str
    delivery_id: str


Claim.model_rebuild()


class QueueStats(BaseModel):
    """What /metrics reports about the shared queue."""

    model_config = ConfigDict(frozen=True)
    queued: int
    deploying: int
    oldest_age: float  # seconds the oldest queued job has waited (0 when none)


class Store(Protocol):
    """The queue and delivery log. Every method is one transaction, awaited: no store blocks the event loop on a
    database round trip (PostgreSQL: psycopg's async pool; SQLite: inline, see `webhook.store.DeliveryStore`)."""

    async def accept(
        self, delivery_id: str, provider: str, event: str, decision: Decision, queue_size: int, body_hash: str | None = None
    ) -> Accepted:
        """Record a verified delivery. `duplicate` for a known delivery id or body hash; a job replaces the queued
        job of its key; `full` (nothing recorded) only when `queue_size` other keys are already queued."""
        ...

    async def recover(self) -> list[str]: ...

    async def claim(self, now: float | None = None) -> Claim | None: ...

    async def note(self, delivery_id: str, message: str) -> None: ...

    async def add_deployment(self, delivery_id: str, function_id: str, deployment_id: str) -> None: ...

    async def finish(
        self, delivery_id: str, status: Status, reason: str, error: str = "", *, deployed: str | None = None,
        superseded_by: str | None = None,
    ) -> None:
        """Final state; `deployed` records the commit the delivery's key is now deployed at."""
        ...

    async def retry_later(self, delivery_id: str, delay: float, error: str) -> None: ...

    async def queued_count(self) -> int: ...

    async def queue_stats(self) -> QueueStats: ...

    async def ping(self) -> None:
        """Raise when the database cannot be reached (for /readyz)."""
        ...

    async def next_retry_at(self) -> float | None: ...

    async def get(self, delivery_id: str, history: bool = True) -> DeliveryRecord | None: ...

    async def list(self, limit: int = 50, status: Status | None = None) -> list[DeliveryRecord]: ...

    async def pr_comment(self, repo: str, number: int) -> int | None: ...

    async def set_pr_comment(self, repo: str, number: int, comment_id: int) -> None: ...

    def on_new_jobs(self, wake: Callable[[], None]) -> None:
        """Call `wake` (on the event loop) when another receiver on the same database queues a job or frees a key;
        a store with one receiver (SQLite) never calls it: the receiver wakes its own workers."""
        ...

    async def open(self) -> None:
        """Start what needs the running event loop (PostgreSQL: the connection pool, lease renewal)."""
        ...

    async def close(self) -> None: ...


def to_record(row: Any, history: list[HistoryEntry] | None) -> DeliveryRecord:
    """A delivery row (sqlite3.Row or a psycopg dict row: same columns) as `/deliveries` shows it."""
    job = JobRequest.model_validate_json(row["job"]) if row["job"] else None
    return DeliveryRecord(
        id=row["id"],
        provider=row["provider"],
        event=row["event"],
        status=Status(row["status"]),
        reason=row["reason"],
        error=row["error"],
        received_at=row["received_at"],
        updated_at=row["updated_at"],
        attempts=row["attempts"],
        repository=job.repo_name if job else None,
        branch=job.branch if job else None,
        commit=job.sha if job else None,
        pull_request=job.pr_number if job else None,
        superseded_by=row["superseded_by"],
        deployments=json.loads(row["deployments"]),
        history=history,
    )


def to_claim(row: Any, attempts: int, head: Any | None, superseded: list[Any]) -> Claim:
    """A claimed delivery row as the worker gets it, with its key's head row and the rows it replaced."""
    return Claim(
        delivery_id=row["id"],
        job=JobRequest.model_validate_json(row["job"]),
        attempts=attempts,
        interrupted=attempts > 1 or any(r["attempts"] > 0 for r in superseded),
        superseded=tuple(r["id"] for r in superseded),
        deployments=json.loads(row["deployments"]),
        deployed=None if head is None else Head(sha=head["sha"], delivery_id=head["delivery_id"]),
    )


def replica_name(data_dir: Path) -> str:
    """This receiver's name in job leases: stable across restarts (host and data dir), so a restarted receiver
    resumes its own interrupted jobs at once; two receivers never share a data dir."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]
    return f"{socket.gethostname()}:{digest}"


def open_store(database: str | None, data_dir: Path, *, fsync: bool = False, lease: float = 30.0, pool_size: int = 8) -> Store:
    """The store a `--database` URL names: `postgresql://…` (shared by replicas), `sqlite:///path`, or None for the
    SQLite file in the data dir. ValueError for any other scheme."""
    if database is None or not database.strip():
        from webhook.store import DeliveryStore

        return DeliveryStore(data_dir / "deliveries.sqlite3", fsync=fsync)
    scheme = database.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        from webhook.store_pg import PostgresStore

        return PostgresStore(database, owner=replica_name(data_dir), lease=lease, pool_size=pool_size)
    if scheme == "sqlite" and database.startswith("sqlite:///") and len(database) > len("sqlite:///"):
        from webhook.store import DeliveryStore

        return DeliveryStore(Path(database[len("sqlite:///") :]), fsync=fsync)
    raise ValueError(f"--database {scheme_hint(database)}: expected sqlite:///PATH or postgresql://[USER@]HOST[:PORT]/DBNAME")


def scheme_hint(database: str) -> str:
    """The URL without credentials, for error messages."""
    scheme, sep, rest = database.partition("://")
    if not sep:
        return repr(database[:20])
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"
