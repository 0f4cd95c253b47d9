"""Benchmark of `fnsync webhook` on loopback.

1. Acknowledgement latency: signed GitHub push deliveries at a steady rate for a bounded time against the
   receiver process (workers running), p50/p99/max of the HTTP round trip.
2. Push-to-active latency: commit a change to a small function, deliver the push, and time until the local
   server reports the new deployment active (fetch, export, package, upload, build, activate).
3. A burst: N pushes to one branch at full speed (the queue counts branches, so none is refused), the
   answers by status, and the time until the newest commit is active.
4. With `--database postgresql://…`: deploy throughput with one receiver, then two on the same database
   (rounds of one new commit on each of 10 branches, each linked to its own function; deploys per second).

Usage: python bench/webhook_bench.py [--rate 50] [--duration 10] [--pushes 5] [--burst 300]
       [--database postgresql://USER@HOST:PORT/DB | --start-postgres] [--rounds 3]
`--store-ops` times only the store's `accept` in-process (one call at a time, and 16 at once; 50 branches, then one).
`--start-postgres` runs a throwaway PostgreSQL cluster in a temp dir for the run (initdb and pg_ctl of the
distribution's package, as tests/webhook/postgres.py does; as the `postgres` user when run as root).
Runs the local server in-process and the receivers as subprocesses (`fnsync webhook`), all on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localserver.config import ServerConfig  # noqa: E402
from localserver.server import start_in_thread  # noqa: E402
from tests.webhook.support import ZERO, Remote, encode, github_headers, push_payload  # noqa: E402

SECRET = secrets.token_hex(16)
ADMIN = secrets.token_hex(16)
REPO_ID = 31337
NODE = "export default async ({ res }) => res.send('ok');\n"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def start_receiver(
    endpoint: str, project: str, key: str, data: Path, log: Path, database: str | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    env = {**os.environ, "FNSYNC_WEBHOOK_SECRET": SECRET, "FNSYNC_ADMIN_TOKEN": ADMIN, "APPWRITE_ENDPOINT": endpoint,
           "APPWRITE_PROJECT_ID": project, "APPWRITE_API_KEY": key}
    env.pop("GITHUB_TOKEN", None)
    argv = [sys.executable, "-c", "from syncer.cli import main; main()", "webhook", "--port", "0", "--data", str(data),
            "--allow-clone-url", "file://*"]
    if database:
        argv += ["--database", database]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.findall(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if found:
            url = found[-1]
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    return url, proc
            except httpx.TransportError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"receiver did not start:\n{log.read_text()}")


def ack_latency(url: str, payload: dict, rate: float, duration: float, senders: int = 16) -> tuple[list[float], float]:
    """Open-loop schedule: request i is due at start + i/rate and sent by one of `senders` threads (so a slow answer
    does not lower the offered rate); (latencies in ms, achieved requests per second)."""
    count = int(rate * duration)
    local = threading.local()

    def send(i: int, due: float) -> float:
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=10)
        body = encode({**payload, "bench_sequence": i})  # a distinct body: the same one twice is a duplicate
        sent = time.perf_counter()
        response = client.post("/webhooks/github", content=body, headers=github_headers("push", body, secret=SECRET))
        if response.status_code not in (200, 202):
            raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
        return (time.perf_counter() - sent) * 1000

    start = time.perf_counter() + 0.1
    with ThreadPoolExecutor(max_workers=senders) as pool:
        futures = [pool.submit(send, i, start + i / rate) for i in range(count)]
        latencies = [future.result() for future in futures]
    return latencies, count / (time.perf_counter() - start)


def push_to_active(url: str, remote: Remote, sdk_get: httpx.Client, pushes: int, before: str) -> list[float]:
    results: list[float] = []
    for n in range(pushes):
        sha = remote.commit({"fn/index.js": NODE + f"// change {n} {time.time()}\n"})
        payload = push_payload(repo_id=REPO_ID, clone_url=remote.url, branch="main", before=before, after=sha,
                               commits=[{"id": sha, "modified": ["fn/index.js"]}])
        old = sdk_get.get("/functions/bench-fn").json()["deployment"]
        body = encode(payload)
        started = time.perf_counter()
        response = httpx.post(url + "/webhooks/github", content=body, headers=github_headers("push", body, secret=SECRET))
        assert response.status_code == 202, response.text
        delivery = response.json()["delivery"]
        deadline = time.monotonic() + 120
        while True:
            current = sdk_get.get("/functions/bench-fn").json()["deployment"]
            if current and current != old:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("push was not activated within 120s")
            time.sleep(0.01)
        results.append(time.perf_counter() - started)
        record = httpx.get(f"{url}/deliveries/{delivery}", headers={"Authorization": f"Bearer {ADMIN}"}).json()
        while record["status"] == "deploying":  # let the delivery finish before the next push
            time.sleep(0.01)
            record = httpx.get(f"{url}/deliveries/{delivery}", headers={"Authorization": f"Bearer {ADMIN}"}).json()
        before = sha
    return results


def burst(url: str, remote: Remote, api: httpx.Client, count: int, before: str) -> tuple[dict[int, int], float]:
    """`count` pushes to the linked branch as fast as one client sends them; (answers by status, seconds until the
    newest commit's delivery is done)."""
    commits = remote.commit_series("fn/index.js", [NODE + f"// burst {n} {time.time()}\n" for n in range(count)])
    answers: dict[int, int] = {}
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=30) as client:
        for sha in commits:
            payload = push_payload(repo_id=REPO_ID, clone_url=remote.url, branch="main", before=before, after=sha,
                                   commits=[{"id": sha, "modified": ["fn/index.js"]}])
            body = encode(payload)
            response = client.post("/webhooks/github", content=body, headers=github_headers("push", body, secret=SECRET))
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            delivery, before = response.json()["delivery"], sha
        deadline = time.monotonic() + 300
        while client.get(f"/deliveries/{delivery}", headers={"Authorization": f"Bearer {ADMIN}"}).json()["status"] in ("queued", "deploying"):
            if time.monotonic() > deadline:
                raise RuntimeError("the burst's newest push did not finish within 300s")
            time.sleep(0.02)
    return answers, time.perf_counter() - started


THROUGHPUT_BRANCHES = 10


def throughput(urls: list[str], remote: Remote, api: httpx.Client, prefix: str, rounds: int) -> tuple[int, float]:
    """Rounds of one new commit on each of 10 branches (each its own function), delivered alternately to the
    receivers; (deploys done, seconds). Every round waits for the previous one, so each push is one deploy."""
    branches = [f"{prefix}-{n}" for n in range(THROUGHPUT_BRANCHES)]
    base = remote.work.head.commit.hexsha
    for number, branch in enumerate(branches):
        api.post("/functions", json={"functionId": f"{prefix}-{number}", "name": branch, "runtime": "node-18.0",
                                     "entrypoint": "index.js", "installationId": "inst1", "providerRepositoryId": str(REPO_ID),
                                     "providerBranch": branch, "providerRootDirectory": "fn"}).raise_for_status()
        remote.work.git.branch(branch, base)
        remote.work.git.push("origin", f"{branch}:refs/heads/{branch}")
    series = {b: remote.commit_series("fn/index.js", [NODE + f"// {b} {n} {time.time()}\n" for n in range(rounds)], branch=b)
              for b in branches}
    heads = {b: base for b in branches}
    done = 0
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for step in range(rounds):
            deliveries: list[tuple[str, str]] = []
            for number, branch in enumerate(branches):
                sha = series[branch][step]
                payload = push_payload(repo_id=REPO_ID, clone_url=remote.url, branch=branch, before=heads[branch], after=sha,
                                       commits=[{"id": sha, "modified": ["fn/index.js"]}])
                body = encode(payload)
                url = urls[number % len(urls)]
                response = client.post(url + "/webhooks/github", content=body, headers=github_headers("push", body, secret=SECRET))
                if response.status_code != 202:
                    raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
                deliveries.append((url, response.json()["delivery"]))
                heads[branch] = sha
            deadline = time.monotonic() + 300
            for url, delivery in deliveries:
                while True:
                    record = client.get(f"{url}/deliveries/{delivery}", headers={"Authorization": f"Bearer {ADMIN}"}).json()
                    if record["status"] not in ("queued", "deploying"):
                        done += record["status"] == "done"
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError("a throughput round did not finish within 300s")
                    time.sleep(0.02)
    return done, time.perf_counter() - started


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="deliveries per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of steady load")
    parser.add_argument("--pushes", type=int, default=5, help="push-to-active samples")
    parser.add_argument("--burst", type=int, default=300, help="pushes to one branch at full speed (0 = skip)")
    parser.add_argument("--database", default=None, help="queue database URL (default: SQLite in the receiver's data dir)")
    parser.add_argument("--start-postgres", action="store_true",
                        help="start a throwaway PostgreSQL cluster in a temp dir and use it as --database (stopped after)")
    parser.add_argument("--rounds", type=int, default=3, help="with a PostgreSQL --database: throughput rounds (0 = skip)")
    parser.add_argument("--store-ops", action="store_true",
                        help="only time the store's accept in this process (no server, no receiver), then stop")
    args = parser.parse_args()
    cluster = None
    if args.start_postgres:
        from tests.webhook.postgres import CI_INSTALL, Cluster, find_bin_dir

        bin_dir = find_bin_dir()
        if bin_dir is None:
            parser.error(f"--start-postgres: PostgreSQL server binaries not found; install them: {CI_INSTALL}")
        cluster = Cluster(bin_dir)
        cluster.start()
        args.database = cluster.new_database(migrated=False)
    try:
        run(args)
    finally:
        if cluster is not None:
            cluster.stop()


def store_ops(database: str | None, count: int = 500, concurrency: int = 16) -> None:
    """The store alone, in this process: `accept` of an ignored and of a queued delivery, one at a time (the cost
    of one call) and `concurrency` at once (how far calls overlap: with an async store, waiting on the database
    does not hold up the other calls)."""
    import asyncio

    from webhook.deliveries import open_store
    from collections.abc import Callable

    from webhook.events import Decision, Ignored, JobRequest
    from webhook.signatures import Provider

    def job(n: int, branches: int = 50) -> JobRequest:
        return JobRequest(provider=Provider.GITHUB, kind="push", repo_id="1", repo_name="o/r", clone_url="u",
                          branch=f"b{n % branches}", fetch_ref=f"refs/heads/b{n % branches}", sha=f"{n:040x}")

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="fnsync-store-bench-") as tmp:
            store = open_store(database, Path(tmp))
            await store.open()
            try:
                cases: tuple[tuple[str, Callable[[int], Decision]], ...] = (
                    ("ignored", lambda n: Ignored(reason="x")), ("queued", job), ("one branch", lambda n: job(n, 1)),
                )
                for label, decision in cases:
                    one: list[float] = []
                    for n in range(count):
                        started = time.perf_counter()
                        await store.accept(f"{label}-1-{n}", "github", "push", decision(n), 10_000)
                        one.append((time.perf_counter() - started) * 1000)
                    gate = asyncio.Semaphore(concurrency)

                    async def timed(n: int) -> None:
                        async with gate:
                            await store.accept(f"{label}-n-{n}", "github", "push", decision(n), 10_000)

                    started = time.perf_counter()
                    await asyncio.gather(*(timed(n) for n in range(count)))
                    rate = count / (time.perf_counter() - started)
                    print(f"store accept ({label}): one at a time p50 {percentile(one, 50):.2f} ms, p99 {percentile(one, 99):.2f} ms; "
                          f"{concurrency} at once {rate:.0f}/s")
            finally:
                await store.close()

    print(f"store: {database.rsplit('@', 1)[-1] if database else 'SQLite'}")
    asyncio.run(main())


def run(args: argparse.Namespace) -> None:
    if args.store_ops:
        store_ops(args.database)
        return

    with tempfile.TemporaryDirectory(prefix="fnsync-webhook-bench-") as tmp_name:
        tmp = Path(tmp_name)
        config = ServerConfig(data_dir=tmp / "server", project_id="bench", api_key=secrets.token_hex(16), installations=("inst1",))
        server = start_in_thread(config)
        headers = {"X-Appwrite-Project": "bench", "X-Appwrite-Key": config.api_key}
        api = httpx.Client(base_url=server.endpoint, headers=headers, timeout=30)
        api.post("/functions", json={"functionId": "bench-fn", "name": "bench", "runtime": "node-18.0", "entrypoint": "index.js",
                                     "installationId": "inst1", "providerRepositoryId": str(REPO_ID), "providerBranch": "main",
                                     "providerRootDirectory": "fn"}).raise_for_status()
        remote = Remote(tmp)
        first = remote.commit({"fn/index.js": NODE, "other/readme.md": "x"})
        url, proc = start_receiver(server.endpoint, "bench", config.api_key, tmp / "webhook", tmp / "receiver.log", args.database)
        procs = [proc]
        print(f"queue: {args.database.rsplit('@', 1)[-1] if args.database else 'SQLite'}")
        try:
            # 0) baseline: the same HTTP stack without signature, JSON or SQLite work
            with httpx.Client(base_url=url, timeout=10) as client:
                base = []
                for _ in range(int(args.rate * args.duration / 2)):
                    sent = time.perf_counter()
                    client.get("/healthz")
                    base.append((time.perf_counter() - sent) * 1000)
            print(f"baseline GET /healthz round trip ({len(base)} requests): p50 {percentile(base, 50):.2f} ms   "
                  f"p99 {percentile(base, 99):.2f} ms")
            # 1) pushes to a branch no function follows: recorded and answered, workers idle
            # 2) the same commit over and over to the linked branch: queued, coalesced, workers reconciling
            for label, branch in (("workers idle: unlinked branch, recorded as ignored", "elsewhere"),
                                  ("workers busy: linked branch, queued and coalesced", "main")):
                payload = push_payload(repo_id=REPO_ID, clone_url=remote.url, branch=branch, before=ZERO, after=first, created=True)
                latencies, achieved = ack_latency(url, payload, args.rate, args.duration)
                print(f"acknowledgement latency, {len(latencies)} signed pushes offered at {args.rate:g}/s for {args.duration:g}s, "
                      f"{achieved:.0f}/s answered ({label}):")
                print(f"  p50 {percentile(latencies, 50):.2f} ms   p99 {percentile(latencies, 99):.2f} ms   "
                      f"max {max(latencies):.2f} ms   mean {statistics.mean(latencies):.2f} ms")
            # wait for the queue to drain before timing deployments
            deadline = time.monotonic() + 120
            while httpx.get(url + "/readyz").json().get("queued", 1) and time.monotonic() < deadline:
                time.sleep(0.05)
            while httpx.get(url + "/readyz").json().get("deploying", 0) and time.monotonic() < deadline:
                time.sleep(0.05)
            if args.pushes:
                samples = push_to_active(url, remote, api, args.pushes, first)
                print(f"push-to-active latency, {len(samples)} pushes of a one-file node function (local server build):")
                print(f"  p50 {percentile(samples, 50) * 1000:.0f} ms   min {min(samples) * 1000:.0f} ms   max {max(samples) * 1000:.0f} ms")
            if args.burst:
                head = remote.work.head.commit.hexsha
                answers, seconds = burst(url, remote, api, args.burst, head)
                deployments = api.get("/functions/bench-fn/deployments").json()["total"]
                print(f"burst of {args.burst} pushes to one branch: answers {answers}; newest done after {seconds:.1f}s; "
                      f"{deployments} deployments of the function in total")
            if args.database and args.database.startswith("postgres") and args.rounds:
                done, seconds = throughput([url], remote, api, "one", args.rounds)
                print(f"deploy throughput, 1 receiver (2 workers): {done} deploys in {seconds:.1f}s = {done / seconds:.2f}/s")
                url2, proc2 = start_receiver(server.endpoint, "bench", config.api_key, tmp / "webhook-2", tmp / "receiver-2.log",
                                             args.database)
                procs.append(proc2)
                done, seconds = throughput([url, url2], remote, api, "two", args.rounds)
                print(f"deploy throughput, 2 receivers (2 workers each): {done} deploys in {seconds:.1f}s = {done / seconds:.2f}/s")
        finally:
            for running in procs:
                running.send_signal(signal.SIGTERM)
            for running in procs:
                running.wait(timeout=30)
            api.close()
            server.stop()


if __name__ == "__main__":
    main()
