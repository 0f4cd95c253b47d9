"""Watch mode: save-to-live latency on the local server (figures printed, never asserted).

A small Python function with no build commands; the watch loop runs in-process against a local server
in a thread. For each of N edits: write `main.py`, then poll the server every 10 ms until the function's
active deployment changes. "save→live" is measured from just before the write to the first poll that
sees the new deployment active (so it includes up to one poll interval); the watcher's own figure (file
mtime → reconcile done) and the server's build phase are shown beside it. Goal: p50 under one second.

Run: `python bench/watch_bench.py [--edits 20]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localserver.config import ServerConfig  # noqa: E402
from localserver.server import start_in_thread  # noqa: E402
from syncer.client import AppwriteClient  # noqa: E402
from syncer.manifest import load_manifest  # noqa: E402
from syncer.watch import Outcome, Watcher  # noqa: E402

MANIFEST = """\
version: 1
functions:
  hello:
    name: Hello
    runtime: python-3.11
    path: hello
    entrypoint: main.py
"""


def source(n: int) -> str:
    return f"def main(context):\n    return context.res.text('edit {n}')\n"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def bench(edits: int, root: Path) -> None:
    config = ServerConfig(data_dir=root / "server", project_id="bench", api_key=secrets.token_hex(16))
    server = start_in_thread(config)
    project = root / "project"
    (project / "hello").mkdir(parents=True)
    (project / "hello" / "main.py").write_text(source(0))
    (project / "functions.yaml").write_text(MANIFEST)
    try:
        async with AppwriteClient(server.endpoint, "bench", config.api_key) as client, AppwriteClient(
            server.endpoint, "bench", config.api_key
        ) as probe:
            watcher = Watcher(load_manifest(project / "functions.yaml", environ={}), client, environ={})
            stop = asyncio.Event()
            task = asyncio.create_task(watcher.run(stop))
            started = time.perf_counter()
            await asyncio.wait_for(watcher.ready.wait(), 120)
            print(f"watch ready (first deploy included) in {time.perf_counter() - started:.2f}s")
            external: list[float] = []
            for n in range(1, edits + 1):
                await watcher.settled()
                before = (await probe.get_function("hello")).deployment  # type: ignore[union-attr]
                t0 = time.perf_counter()
                (project / "hello" / "main.py").write_text(source(n))
                while True:
                    fn = await probe.get_function("hello")
                    if fn is not None and fn.deployment and fn.deployment != before:
                        break
                    if time.perf_counter() - t0 > 60:
                        raise SystemExit(f"edit {n}: not live after 60 s")
                    await asyncio.sleep(0.01)
                external.append(time.perf_counter() - t0)
            await watcher.settled()
            stop.set()
            await task
    finally:
        server.stop()

    deployed = [c for c in watcher.cycles if c.outcome is Outcome.DEPLOYED and "main.py" in c.changed]
    reported = [c.total_seconds for c in deployed if c.total_seconds is not None]
    builds = [c.build_seconds for c in deployed if c.build_seconds is not None]
    print(f"{edits} edits, {len(deployed)} deploys")
    print(f"save→live (polled)   p50 {pct(external, 0.5) * 1000:6.0f} ms   max {max(external) * 1000:6.0f} ms   mean {statistics.mean(external) * 1000:6.0f} ms")
    if reported:
        print(f"save→live (watcher)  p50 {pct(reported, 0.5) * 1000:6.0f} ms   max {max(reported) * 1000:6.0f} ms")
    if builds:
        print(f"build phase          p50 {pct(builds, 0.5) * 1000:6.0f} ms   max {max(builds) * 1000:6.0f} ms")
    print("goal: p50 < 1000 ms:", "met" if pct(external, 0.5) < 1.0 else "NOT met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the server's and watchfiles' request logs would swamp the figures
    with tempfile.TemporaryDirectory(prefix="fnsync-watch-bench-") as tmp:
        asyncio.run(bench(args.edits, Path(tmp)))


if __name__ == "__main__":
    main()
