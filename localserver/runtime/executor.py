"""Warm workers per active deployment: reuse them across executions, replace them when things change.

A pool holds the processes of one `WorkerSpec`. An execution takes an idle worker (or starts one, up
to `max_workers` per spec, else waits its turn), and gives it back if it is still healthy. When a
function runs with a new spec (new active deployment, changed variables), its other pools are
closed. Idle workers are reaped after `idle_ttl` seconds.
"""

from __future__ import annotations

import asyncio
import time

from localserver.runtime.protocol import Invocation, Outcome, WorkerSpec
from localserver.runtime.worker import Worker, WorkerError
from localserver.sandbox import Sandbox


class Pool:
    def __init__(self, spec: WorkerSpec, max_workers: int, sandbox: Sandbox) -> None:
        self.spec = spec
        self.sandbox = sandbox
        self.max_workers = max_workers
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
        self.slots = asyncio.Semaphore(max_workers)
        self.closed = False

    async def run(self, invocation: Invocation, logging: bool, timeout: float) -> Outcome:
        started = time.monotonic()
        async with self.slots:
            worker = await self._take_idle() or Worker(self.spec, self.sandbox)
            self.busy.add(worker)  # a starting worker counts as busy, so a forced close kills it too
            try:
                if worker.process is None:
                    await worker.start()
                remaining = max(timeout - (time.monotonic() - started), 0.001)
                outcome = await worker.invoke(invocation, logging, remaining)
            except WorkerError as exc:  # it did not start (and cleaned up after itself)
                return Outcome.failure(str(exc), time.monotonic() - started)
            except BaseException:
                await worker.kill()
                raise
            finally:
                self.busy.discard(worker)
            if worker.alive and not self.closed:
                self.idle.append(worker)
            else:
                await worker.kill()
            outcome.duration = time.monotonic() - started
            return outcome

    async def _take_idle(self) -> Worker | None:
        while self.idle:
            worker = self.idle.pop()
            if worker.alive:
                return worker
            await worker.kill()  # died while idle: close its socket and reap it
        return None

    async def close(self, force: bool = False) -> None:
        """Kill idle workers now; busy ones die when their execution ends (or now, with `force`)."""
        self.closed = True
        workers = [*self.idle, *self.busy] if force else list(self.idle)
        self.idle.clear()
        await asyncio.gather(*(w.kill() for w in workers), return_exceptions=True)

    async def reap(self, idle_ttl: float) -> None:
        now = time.monotonic()
        stale = [w for w in self.idle if now - w.last_used > idle_ttl or not w.alive]
        for worker in stale:
            self.idle.remove(worker)
        await asyncio.gather(*(w.kill() for w in stale), return_exceptions=True)

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in [*self.idle, *self.busy] if w.pid is not None]


class Executor:
    """Runs invocations on warm workers; `close()` kills every process it started."""

    def __init__(self, max_workers: int = 4, idle_ttl: float = 600.0, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox or Sandbox()
        self.max_workers = max_workers
        self.idle_ttl = idle_ttl
        self.pools: dict[WorkerSpec, Pool] = {}
        self._lock = asyncio.Lock()

    async def run(self, spec: WorkerSpec, invocation: Invocation, *, timeout: float, logging: bool = True) -> Outcome:
        pool = await self._pool_for(spec)
        return await pool.run(invocation, logging, timeout)

    async def _pool_for(self, spec: WorkerSpec) -> Pool:
        async with self._lock:
            pool = self.pools.get(spec)
            if pool is None:
                pool = self.pools[spec] = Pool(spec, self.max_workers, self.sandbox)
                stale = [p for s, p in self.pools.items() if s.function_id == spec.function_id and s != spec]
                for old in stale:
                    del self.pools[old.spec]
                # old workers finish what they run now, then die (closed pools don't take them back)
                await asyncio.gather(*(p.close() for p in stale), return_exceptions=True)
            return pool

    async def retire(self, function_id: str, *, force: bool = True) -> None:
        """Close every worker of a function (deleted, or settings changed); `force` also kills busy ones."""
        async with self._lock:
            stale = [p for s, p in self.pools.items() if s.function_id == function_id]
            for pool in stale:
                del self.pools[pool.spec]
        await asyncio.gather(*(p.close(force=force) for p in stale), return_exceptions=True)

    def worker_pids(self, function_id: str) -> list[int]:
        return [pid for s, p in self.pools.items() if s.function_id == function_id for pid in p.pids]

    async def reap_forever(self, interval: float = 30.0) -> None:
        while True:
            await asyncio.sleep(interval)
            for pool in list(self.pools.values()):
                await pool.reap(self.idle_ttl)

    async def close(self) -> None:
        pools = list(self.pools.values())
        self.pools.clear()
        await asyncio.gather(*(p.close(force=True) for p in pools), return_exceptions=True)
