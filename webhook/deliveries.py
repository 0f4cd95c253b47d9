"""What the queue and delivery log hold, and the interface every store implements (SQLite today, PostgreSQL later).

The rules live behind these methods, not in callers: `accept` deduplicates (delivery id, and a hash of the signed
body) and keeps one queued job per key (a newer delivery replaces the queued one, the log keeps both); `claim` hands
out one job per key at a time; `finish` records the commit a branch is now deployed at, which the next job of that
branch diffs from and compares history with.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Protocol

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


class Store(Protocol):
    """The queue and delivery log. Every method is one transaction."""

    def accept(
        self, delivery_id: str, provider: str, event: str, decision: Decision, queue_size: int, body_hash: str | None = None
    ) -> Accepted:
        """Record a verified delivery. `duplicate` for a known delivery id or body hash; a job replaces the queued
        job of its key; `full` (nothing recorded) only when `queue_size` other keys are already queued."""
        ...

    def recover(self) -> list[str]: ...

    def claim(self, now: float | None = None) -> Claim | None: ...

    def note(self, delivery_id: str, message: str) -> None: ...

    def add_deployment(self, delivery_id: str, function_id: str, deployment_id: str) -> None: ...

    def finish(
        self, delivery_id: str, status: Status, reason: str, error: str = "", *, deployed: str | None = None,
        superseded_by: str | None = None,
    ) -> None:
        """Final state; `deployed` records the commit the delivery's key is now deployed at."""
        ...

    def retry_later(self, delivery_id: str, delay: float, error: str) -> None: ...

    def queued_count(self) -> int: ...

    def next_retry_at(self) -> float | None: ...

    def get(self, delivery_id: str, history: bool = True) -> DeliveryRecord | None: ...

    def list(self, limit: int = 50, status: Status | None = None) -> list[DeliveryRecord]: ...

    def pr_comment(self, repo: str, number: int) -> int | None: ...

    def set_pr_comment(self, repo: str, number: int, comment_id: int) -> None: ...

    def close(self) -> None: ...
