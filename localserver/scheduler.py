"""Cron schedules and `scheduledAt` executions, run on time and exactly once.

- A function with a non-empty `schedule` (or, on Cloud 2.5, an `interval` in minutes), an active deployment
  and `enabled` is armed: its next cron
  time (croniter, UTC) is kept in the store (`meta` document `scheduler:<functionId>`). When it is
  due, one transaction advances it and inserts a `waiting` execution (trigger `schedule`, POST /), so
  a crash can neither lose the run (a waiting execution is run on restart) nor repeat it (the next
  time moved on). Ticks missed while the server was down are skipped, except one that is at most
  `CATCH_UP` late. Disarming (schedule cleared, deployment removed, function disabled) drops the state.
- A `scheduledAt` execution is claimed (status `scheduled` -> `waiting`) in one transaction when due,
  then run; after a restart every still-`scheduled` execution is reloaded, and due ones run once.

Time comes from a clock object. `SystemClock` is the wall clock. `ManualClock` is **test-only**: a
test puts one in `ctx.services["clock"]` before the app starts and moves time with `advance()`, so
schedule tests never wait for wall-clock minutes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from croniter import croniter

from localserver.background import background
from localserver.clock import format_iso, now_iso, parse_iso
from localserver.context import ServerContext
from localserver.runtime.service import ExecutionService

logger = logging.getLogger("localserver.scheduler")

CATCH_UP = timedelta(minutes=1)
POLL_SECONDS = 1.0  # how often the store is re-read for new or changed schedules


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        """Return after `seconds` of this clock's time, or earlier when `wake` is set."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(wake.wait(), max(seconds, 0.0))
        except TimeoutError:
            pass


class ManualClock:
    """Test-only clock: time stands still until `advance()` (callable from any thread)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(timezone.utc).replace(second=0, microsecond=0)
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)
        return self._now

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        moved = asyncio.Event()
        with self._lock:
            self._waiters.append((asyncio.get_running_loop(), moved))
        waits = [asyncio.ensure_future(moved.wait()), asyncio.ensure_future(wake.wait())]
        # also poll now and then (real time) so store changes are noticed without advancing
        try:
            await asyncio.wait(waits, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the scheduler is cancelled: no waiter task may outlive the loop
            for task in waits:
                task.cancel()


INTERVAL_PREFIX = "@every-minutes "


def timing_of(function: dict[str, Any]) -> str:
    """What drives a function's runs: its cron `schedule`, else its Cloud 2.5 `interval` (minutes), else ""."""
    if function.get("schedule"):
        return str(function["schedule"])
    interval = function.get("interval")
    return f"{INTERVAL_PREFIX}{int(interval)}" if interval else ""


def next_time(expression: str, after: datetime) -> datetime:
    """The next run after `after`: the cron expression's next tick, or `interval` minutes later (an interval
    counts from when it was armed or last ran; Cloud's exact alignment is not public)."""
    if expression.startswith(INTERVAL_PREFIX):
        return after + timedelta(minutes=int(expression[len(INTERVAL_PREFIX):]))
    return croniter(expression, after).get_next(datetime)


class Scheduler:
    """One background loop firing due cron ticks and due scheduled executions."""

    def __init__(self, ctx: ServerContext, executions: ExecutionService, clock: Clock) -> None:
        self.ctx = ctx
        self.executions = executions
        self.clock = clock
        self.scheduled: dict[str, datetime] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- scheduledAt executions ------------------------------------------------------------------

    def load(self) -> None:
        """Reload every still-scheduled execution (after a restart)."""
        for doc in self.ctx.store.all("executions"):
            if doc.get("status") == "scheduled" and doc.get("scheduledAt"):
                self.scheduled[doc["$id"]] = parse_iso(doc["scheduledAt"])

    def add_scheduled(self, execution_id: str, when: datetime) -> None:
        self.scheduled[execution_id] = when
        self.poke()

    def cancel_scheduled(self, execution_id: str) -> None:
        self.scheduled.pop(execution_id, None)

    def poke(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _claim(self, execution_id: str) -> bool:
        store = self.ctx.store
        with store.transaction():
            doc = store.get("executions", execution_id)
            if doc is None or doc.get("status") != "scheduled":
                return False
            doc.update(status="waiting", **{"$updatedAt": now_iso()})
            store.put("executions", doc)
        return True

    # --- cron schedules ---------------------------------------------------------------------------

    def _arm_and_fire(self, function: dict[str, Any], now: datetime) -> str | None:
        """Keep one function's cron state current; returns the id of an execution it created."""
        store = self.ctx.store
        key = f"scheduler:{function['$id']}"
        expression = timing_of(function)
        armed = bool(expression) and bool(function.get("deployment")) and function.get("enabled", True)
        with store.transaction():
            state = store.get("meta", key)
            if not armed:
                if state is not None:
                    store.delete("meta", key)
                return None
            try:
                if state is None or state.get("schedule") != expression:
                    doc = {"$id": key, "schedule": expression, "next": format_iso(next_time(expression, now))}
                    if state is None:
                        store.insert("meta", doc)
                    else:
                        store.put("meta", doc)
                    return None
                due = parse_iso(state["next"])
                if now < due:
                    return None
                state["next"] = format_iso(next_time(expression, now))
            except (ValueError, KeyError) as exc:  # an expression croniter cannot read: leave it disarmed
                logger.warning("schedule of function %s ignored: %s", function["$id"], exc)
                return None
            store.put("meta", state)
            if now - due > CATCH_UP:
                return None  # missed while the server was down: skip, as Appwrite does
            doc = self.executions.new_document(function, function["deployment"], trigger="schedule", status="waiting",
                                               method="POST", path="/", headers={}, body="")
            store.insert("executions", doc, parent=function["$id"])
            return doc["$id"]

    def _next_due(self) -> datetime | None:
        times = list(self.scheduled.values())
        for state in self.ctx.store.all("meta"):
            if str(state.get("$id", "")).startswith("scheduler:") and state.get("next"):
                times.append(parse_iso(state["next"]))
        return min(times) if times else None

    # --- the loop ---------------------------------------------------------------------------------

    def tick(self) -> list[str]:
        """Fire everything due at the clock's current time; returns the executions started."""
        now = self.clock.now()
        started: list[str] = []
        for function in self.ctx.store.all("functions"):
            execution_id = self._arm_and_fire(function, now)
            if execution_id:
                started.append(execution_id)
        for execution_id, when in sorted(self.scheduled.items(), key=lambda item: item[1]):
            if when <= now:
                del self.scheduled[execution_id]
                if self._claim(execution_id):
                    started.append(execution_id)
        for execution_id in started:
            self.executions.start(execution_id)
        return started

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the scheduler must outlive one bad tick
                logger.exception("scheduler tick failed")
            due = self._next_due()
            seconds = POLL_SECONDS
            if due is not None:
                seconds = min(seconds, max((due - self.clock.now()).total_seconds(), 0.0))
            self._wake.clear()
            await self.clock.sleep(seconds, self._wake)


@asynccontextmanager
async def running(ctx: ServerContext) -> AsyncIterator[Scheduler]:
    """Run the scheduler for the app's lifetime (`ctx.services["scheduler"]`); needs the execution service."""
    clock = ctx.services.get("clock") or SystemClock()
    scheduler = Scheduler(ctx, ctx.services["executions"], clock)
    scheduler.load()
    ctx.services["scheduler"] = scheduler
    try:
        async with background(scheduler.run(), "scheduler"):
            yield scheduler
    finally:
        ctx.services.pop("scheduler", None)
