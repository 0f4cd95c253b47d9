"""The watch loop: file events in, per-function reconciles out.

Two watchfiles watchers feed one queue: the manifest's folder (non-recursive: the manifest and `.env`)
and the function folders (recursive; restarted when the manifest changes which folders matter). One
consumer turns batches into lane requests, so the file index is only ever touched by one task. Each
lane reconciles one function with the newest valid manifest (`syncer.watch.deploy.sync_function`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, awatch

from syncer.apply import scrub_text
from syncer.client import AppwriteClient
from syncer.manifest import ManifestError, load_manifest
from syncer.manifest.models import FunctionSpec, Manifest
from syncer.watch.deploy import DeploySettings, sync_function
from syncer.watch.events import (
    Cycle,
    ManifestInvalid,
    ManifestReloaded,
    Outcome,
    Stopped,
    Watching,
    WatchEvent,
)
from syncer.watch.lanes import Lanes, Note
from syncer.watch.paths import FileIndex, code_filter, newest_mtime

ENV_FILE = ".env"
Reporter = Callable[[WatchEvent], None]
Filter = Callable[[Change, str], bool]
InitialSync = Callable[["Watcher"], Awaitable[None]]


@dataclass(frozen=True)
class WatchOptions:
    """Tuning knobs; the defaults aim at "saved → live in well under a second" on the local server."""

    step_ms: int = 50  # watchfiles: quiet time that ends a burst
    debounce_ms: int = 400  # watchfiles: longest a burst is grouped before it is yielded anyway
    concurrency: int = 8  # functions deployed at the same time
    stop_grace: float = 10.0  # seconds an in-flight deploy may take to finish after stop
    ready_timeout_ms: int = 100  # how soon the watchers report themselves armed
    force_polling: bool | None = None  # watchfiles' polling fallback (network filesystems)


def unknown_targets(manifest: Manifest, targets: Iterable[str]) -> list[str]:
    return [t for t in targets if t not in manifest.functions]


class Watcher:
    """Watch a manifest and its functions' folders; keep the server in step until `stop` is set.

    `manifest` is the already-validated manifest the caller started from (the CLI loads it first to
    resolve the connection). Events go to `reporter`; `cycles` keeps every `Cycle` for callers and tests.
    """

    def __init__(
        self,
        manifest: Manifest,
        client: AppwriteClient,
        *,
        reporter: Reporter | None = None,
        targets: Iterable[str] = (),
        environ: dict[str, str] | None = None,
        deploy: DeploySettings | None = None,
        options: WatchOptions | None = None,
    ) -> None:
        self.manifest = manifest
        self.manifest_path = manifest.source
        self.client = client
        self.targets = tuple(targets)
        self.environ = environ
        self.deploy = deploy or DeploySettings()
        self.options = options or WatchOptions()
        self._report = reporter or (lambda event: None)
        self.cycles: list[Cycle] = []
        self.manifest_errors: list[ManifestInvalid] = []
        self.ready = asyncio.Event()
        self.hurry = asyncio.Event()  # set to abandon in-flight deploys at stop instead of finishing them
        self.broken = False  # the manifest on disk is invalid: nothing is sent
        self._held: dict[str, Note] = {}  # code changes seen while broken
        self._queue: asyncio.Queue[tuple[str, set[tuple[Change, str]]]] = asyncio.Queue()
        self.lanes = Lanes(self._run_lane, self.options.concurrency, on_error=self._lane_crashed)
        self.index = FileIndex(manifest, self.function_ids(manifest))
        self._manifest_stop = asyncio.Event()
        self._manifest_armed = asyncio.Event()
        self._code_stop = asyncio.Event()
        self._code_armed = asyncio.Event()
        self._code_task: asyncio.Task[None] | None = None
        self.batches = 0  # event batches handled (tests use it as a barrier)

    # -- public -------------------------------------------------------------------------------------------------

    def function_ids(self, manifest: Manifest) -> list[str]:
        """The functions this watch manages: the targets, or every function in the manifest."""
        if self.targets:
            return [t for t in self.targets if t in manifest.functions]
        return list(manifest.functions)

    async def run(self, stop: asyncio.Event, initial: InitialSync | None = None) -> None:
        """Arm the watchers, run the initial sync, then handle changes until `stop` is set.

        `initial` runs first once the watchers are armed (the CLI's plan-confirm-apply); file events that
        arrive meanwhile are queued and handled after it.
        """
        manifest_task = asyncio.create_task(self._watch_manifest(), name="fnsync-watch-manifest")
        self._start_code_watcher()
        consumer: asyncio.Task[None] | None = None
        try:
            await _first(stop.wait(), asyncio.gather(self._manifest_armed.wait(), self._code_armed.wait()))
            if initial is not None and not stop.is_set():
                await _first(stop.wait(), initial(self))
            if not stop.is_set():
                # Level-based start: every function through its lane (after `initial`, this only catches
                # edits made while it ran, e.g. during a confirmation prompt).
                self.lanes.request_many(self.function_ids(self.manifest), "start")
                await _first(stop.wait(), self.lanes.wait_idle())
            if not stop.is_set():
                self._report(self._watching())
                consumer = asyncio.create_task(self._consume(), name="fnsync-watch-consumer")
                self.ready.set()
                await stop.wait()
        finally:
            # Stop the OS watchers first so nothing new arrives, then give in-flight deploys their grace.
            self._manifest_stop.set()
            self._code_stop.set()
            abandoned = await self.lanes.close(self.options.stop_grace, self.hurry)
            tasks = [t for t in (consumer, manifest_task, self._code_task) if t is not None]
            if consumer is not None:
                consumer.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._report(Stopped(abandoned=tuple(abandoned)))

    @property
    def held(self) -> set[str]:
        """Functions with code changes waiting for the manifest to become valid again."""
        return set(self._held)

    async def settled(self) -> None:
        """Wait until every queued batch is handled and no lane is busy (a barrier for tests and the bench)."""
        while True:
            await self._queue.join()
            await self.lanes.wait_idle()
            if self._queue.empty():
                return

    def _watching(self) -> Watching:
        return Watching(roots=tuple(map(str, self.index.watch_roots())), functions=tuple(self.index.specs))

    # -- watchers -----------------------------------------------------------------------------------------------

    def _awatch(self, paths: Iterable[Path], stop: asyncio.Event, *, recursive: bool, watch_filter: Filter):  # type: ignore[no-untyped-def]
        # rust_timeout + yield_on_timeout: the first (empty) yield proves the OS watch is registered.
        return awatch(
            *paths,
            watch_filter=watch_filter,
            debounce=self.options.debounce_ms,
            step=self.options.step_ms,
            stop_event=stop,
            rust_timeout=self.options.ready_timeout_ms,
            yield_on_timeout=True,
            recursive=recursive,
            force_polling=self.options.force_polling,
        )

    async def _watch_manifest(self) -> None:
        names = {self.manifest_path.name, ENV_FILE}
        if self.manifest.environment:  # its `.env.NAME` is layered over `.env`
            names.add(f"{ENV_FILE}.{self.manifest.environment}")

        def only_manifest(change: Change, path: str) -> bool:
            return Path(path).name in names

        folder = [self.manifest_path.parent]
        async for changes in self._awatch(folder, self._manifest_stop, recursive=False, watch_filter=only_manifest):
            self._manifest_armed.set()
            if changes:
                await self._queue.put(("manifest", changes))

    def _start_code_watcher(self) -> None:
        """(Re)start the recursive watcher over the function folders, with its own stop and armed events."""
        self._code_stop = stop = asyncio.Event()
        self._code_armed = armed = asyncio.Event()
        roots = self.index.watch_roots()

        async def watch() -> None:
            if not roots:
                armed.set()
                return
            async for changes in self._awatch(roots, stop, recursive=True, watch_filter=code_filter):
                armed.set()
                if changes:
                    await self._queue.put(("code", changes))

        self._code_task = asyncio.create_task(watch(), name="fnsync-watch-code")

    async def _restart_code_watcher(self) -> None:
        self._code_stop.set()
        if self._code_task is not None:
            await asyncio.gather(self._code_task, return_exceptions=True)
        self._start_code_watcher()
        await self._code_armed.wait()

    # -- events -------------------------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            kind, changes = await self._queue.get()
            try:
                if kind == "manifest":
                    await self._manifest_changed()
                else:
                    await self._code_changed(changes)
            finally:
                self.batches += 1
                self._queue.task_done()

    async def _code_changed(self, changes: set[tuple[Change, str]]) -> None:
        seen = time.time()
        mapped = await asyncio.to_thread(self.index.map_changes, {Path(p) for _, p in changes})
        for fid, files in mapped.items():
            note = Note(paths=set(files), first_seen=seen, last_saved=newest_mtime(files.values()) or seen)
            if self.broken:
                self._held.setdefault(fid, Note()).merge(note)
            else:
                self.lanes.request(fid, note)

    async def _manifest_changed(self) -> None:
        seen = time.time()
        try:
            manifest = await asyncio.to_thread(load_manifest, self.manifest_path, self.environ, self.manifest.environment)
        except ManifestError as exc:
            self.broken = True
            event = ManifestInvalid(message=str(exc))
            self.manifest_errors.append(event)
            self._report(event)
            return
        except OSError as exc:  # deleted or unreadable: same as invalid, keep watching
            self.broken = True
            event = ManifestInvalid(message=f"{self.manifest_path}: {exc.strerror or exc}")
            self.manifest_errors.append(event)
            self._report(event)
            return
        old = self.manifest
        old_ids, new_ids = self.function_ids(old), self.function_ids(manifest)
        changed = [fid for fid in new_ids if not _same_spec(old.functions.get(fid), manifest.functions[fid])]
        added = [fid for fid in new_ids if fid not in old.functions]
        removed = [fid for fid in old_ids if fid not in manifest.functions]
        was_broken, self.broken = self.broken, False
        connection_changed = (old.endpoint, old.project) != (manifest.endpoint, manifest.project)
        self.manifest = manifest
        new_index = await asyncio.to_thread(FileIndex, manifest, new_ids)
        roots_changed = new_index.watch_roots() != self.index.watch_roots()
        self.index = new_index
        if changed or removed or was_broken or connection_changed:
            self._report(
                ManifestReloaded(
                    changed=tuple(changed),
                    added=tuple(added),
                    removed=tuple(removed),
                    watched_roots_changed=roots_changed,
                    connection_changed=connection_changed,
                )
            )
        if roots_changed:
            await self._restart_code_watcher()
            self._report(self._watching())
        held, self._held = self._held, {}
        for fid in changed:
            note = Note(reasons={"manifest"}, first_seen=seen, last_saved=seen)
            if fid in held:
                note.merge(held.pop(fid))
            self.lanes.request(fid, note)
        for fid, note in held.items():
            if fid in manifest.functions:
                self.lanes.request(fid, note)

    # -- lanes --------------------------------------------------------------------------------------------------

    async def _run_lane(self, fid: str, note: Note) -> None:
        manifest = self.manifest
        if fid not in manifest.functions:
            return
        cycle = await sync_function(manifest, self.client, fid, note, self.deploy)
        self.cycles.append(cycle)
        if cycle.outcome is Outcome.UNCHANGED and not note.paths and note.reasons <= {"start"}:
            return  # "already up to date" at start is not worth a line
        self._report(cycle)

    def _lane_crashed(self, fid: str, exc: BaseException) -> None:
        detail = scrub_text(f"{type(exc).__name__}: {exc}", self.manifest)
        cycle = Cycle(function_id=fid, changed="", outcome=Outcome.ERROR, detail=detail)
        self.cycles.append(cycle)
        self._report(cycle)


def _same_spec(old: FunctionSpec | None, new: FunctionSpec) -> bool:
    """Equal apart from where the function sits in the file (moving it is not a change)."""
    return old is not None and old.model_copy(update={"line": 0}) == new.model_copy(update={"line": 0})


async def _first(stop: Awaitable[object], work: Awaitable[object]) -> None:
    """Await `work` unless `stop` finishes first (then `work` is cancelled)."""
    tasks = [asyncio.ensure_future(stop), asyncio.ensure_future(work)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[1] in done:
            tasks[1].result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["Watcher", "WatchOptions", "unknown_targets"]
