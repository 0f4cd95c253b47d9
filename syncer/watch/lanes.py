"""Per-function lanes: at most one deploy in flight and at most one queued behind it.

The queued entry is *identity plus a note*, never a snapshot of the files (level-based, as in
controller-runtime): when it runs, the reconciler packages the tree as it is at that moment, so the
queued run always carries the newest state, the last save is never lost, and because a lane runs its
entries one after another an older build can never finish after (and replace) a newer one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class Note:
    """What piled up for one function since its last run started: why it must run again."""

    paths: set[str] = field(default_factory=set)  # changed files, relative to the function's folder
    reasons: set[str] = field(default_factory=set)  # e.g. "manifest", ".env", "start"
    first_seen: float = 0.0  # wall clock of the oldest change in this note
    last_saved: float = 0.0  # wall clock (mtime) of the newest save in this note

    def merge(self, other: Note) -> None:
        self.paths |= other.paths
        self.reasons |= other.reasons
        self.first_seen = min(filter(None, (self.first_seen, other.first_seen)), default=0.0)
        self.last_saved = max(self.last_saved, other.last_saved)

    def describe(self, limit: int = 2) -> str:
        """A short "what changed" text: `main.py, lib/x.py +3 more` or `manifest`."""
        items = sorted(self.reasons) + sorted(self.paths)
        if not items:
            return "changed"
        shown = ", ".join(items[:limit])
        return shown + (f" +{len(items) - limit} more" if len(items) > limit else "")


Runner = Callable[[str, Note], Awaitable[None]]
ErrorHook = Callable[[str, BaseException], None]


class Lanes:
    """Runs `runner(key, note)` per key, one at a time per key, with a global concurrency limit.

    `request` never blocks: it merges the note into the key's pending entry and starts the lane's
    driver if the lane is idle. A driver takes the pending note only once it holds a concurrency slot,
    so waiting for a slot keeps coalescing.
    """

    def __init__(self, runner: Runner, concurrency: int = 8, on_error: ErrorHook | None = None) -> None:
        self._runner = runner
        self._on_error = on_error
        self._slots = asyncio.Semaphore(concurrency)
        self._pending: dict[str, Note] = {}
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.runs: dict[str, int] = {}  # runs started per key (for reports and tests)

    def request(self, key: str, note: Note | None = None) -> None:
        if self._closed:
            return
        note = note or Note(first_seen=time.time())
        if key in self._pending:
            self._pending[key].merge(note)
        else:
            self._pending[key] = note
        if key not in self._drivers:
            self._idle.clear()
            self._drivers[key] = asyncio.create_task(self._drive(key), name=f"fnsync-watch-{key}")

    def request_many(self, keys: Iterable[str], reason: str) -> None:
        now = time.time()
        for key in keys:
            self.request(key, Note(reasons={reason}, first_seen=now))

    def busy(self, key: str) -> bool:
        return key in self._drivers

    def pending(self, key: str) -> bool:
        return key in self._pending

    async def _drive(self, key: str) -> None:
        try:
            while key in self._pending and not self._closed:
                async with self._slots:
                    note = self._pending.pop(key, None)
                    if note is None:
                        break
                    self.runs[key] = self.runs.get(key, 0) + 1
                    try:
                        await self._runner(key, note)
                    except Exception as exc:  # noqa: BLE001 - one failed run must not stall the lane
                        if self._on_error is None:
                            raise
                        self._on_error(key, exc)
        finally:
            del self._drivers[key]
            if not self._drivers:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until no lane has anything in flight or queued."""
        await self._idle.wait()

    async def close(self, grace: float, hurry: asyncio.Event | None = None) -> list[str]:
        """Stop taking work, drop what is queued, let in-flight runs finish, then cancel what is left.

        In-flight runs get `grace` seconds, or less if `hurry` is set meanwhile (a second Ctrl-C). A run
        cancelled mid-upload leaves an unfinished upload that the server never builds or activates.
        Returns the keys whose run had to be cancelled.
        """
        self._closed = True
        self._pending.clear()
        tasks = dict(self._drivers)
        if not tasks:
            return []
        waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(asyncio.wait(tasks.values()))]
        if hurry is not None:
            waiters.append(asyncio.ensure_future(hurry.wait()))
        await asyncio.wait(waiters, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        still = [task for task in tasks.values() if not task.done()]
        for task in still:
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        return [key for key, task in tasks.items() if task in still]
