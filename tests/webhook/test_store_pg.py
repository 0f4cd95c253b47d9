"""What only a shared database has to get right: replicas migrating at once, claiming in parallel, a dead
holder's lease taken over, a late holder fenced off, and /metrics and /readyz on a database that goes away."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import psycopg
import pytest

from tests.helpers import async_wait_until
from tests.webhook.conftest import Receiver
from tests.webhook.postgres import Cluster
from webhook.deliveries import Claim, Status
from webhook.events import JobRequest
from webhook.signatures import Provider
from webhook.store_pg import MIGRATIONS, PostgresStore, migrate


def _job(sha: str, branch: str = "main") -> JobRequest:
    return JobRequest(provider=Provider.GITHUB, kind="push", repo_id="1", repo_name="o/r", clone_url="u", branch=branch,
                      fetch_ref=f"refs/heads/{branch}", sha=sha, before=None, changed=("a/x",))


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    return pg_cluster.new_database(migrated=False)


async def _stores(url: str, *specs: tuple[str, float]) -> list[PostgresStore]:
    stores = [PostgresStore(url, owner=owner, lease=lease) for owner, lease in specs]
    for store in stores:
        await store.open()
    return stores


def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    versions: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            versions.append(migrate(pg_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and versions == [len(MIGRATIONS)] * 4
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT version FROM fnsync_schema ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, len(MIGRATIONS) + 1))


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    migrate(pg_url)
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO fnsync_schema (version) VALUES (%s)", (len(MIGRATIONS) + 1,))
    with pytest.raises(RuntimeError, match="upgrade fnsync"):
        migrate(pg_url)


async def test_parallel_claims_take_each_key_once_and_accepts_coalesce_across_replicas(pg_url: str) -> None:
    stores = await _stores(pg_url, ("r0", 30), ("r1", 30), ("r2", 30))
    try:
        # 3 replicas accept 20 pushes for each of 5 branches at once: one queued job per branch
        async def accept(store: PostgresStore, start: int) -> None:
            for n in range(start, 100, 3):
                await store.accept(f"d{n}", "github", "push", _job(f"{n:040x}", branch=f"b{n % 5}"), 100, body_hash=f"h{n}")

        await asyncio.gather(*(accept(s, i) for i, s in enumerate(stores)))
        assert await stores[0].queued_count() == 5
        # the same body under another id, at another replica: a duplicate
        assert await stores[1].accept("again", "github", "push", _job("0" * 39 + "1", branch="b1"), 100, body_hash="h1") == "duplicate"
        claims: list[Claim] = []

        async def claim_all(store: PostgresStore) -> None:
            while (claim := await store.claim()) is not None:
                claims.append(claim)

        await asyncio.gather(*(claim_all(s) for s in stores))
        assert sorted(c.job.branch for c in claims) == [f"b{n}" for n in range(5)]  # each key once, nothing twice
        # every other delivery was folded into its branch's job: its commit is a candidate, its log entry superseded
        assert sorted(len(c.job.candidates) for c in claims) == [19] * 5
        assert len(await stores[2].list(limit=200, status=Status.SUPERSEDED)) == 95
    finally:
        for store in stores:
            await store.close()


async def test_a_dead_holders_job_is_taken_over_and_its_late_result_dropped(pg_url: str) -> None:
    dead, alive = await _stores(pg_url, ("dead", 1), ("alive", 30))
    try:
        await dead.accept("d1", "github", "push", _job("1" * 40), 10)
        first = await dead.claim()
        assert first is not None
        assert dead._renewer is not None
        dead._renewer.cancel()  # the holder stops renewing (as when its process is killed)
        assert await alive.claim() is None  # the key is held while the lease runs
        taken = await async_wait_until(alive.claim, timeout=10, what="the lease to run out and the job to be taken over")
        assert taken.delivery_id == "d1" and taken.attempts == 2 and taken.interrupted
        await dead.finish("d1", Status.DONE, "late", deployed="1" * 40)  # fenced: the takeover's result wins
        record = await alive.get("d1")
        assert record is not None and record.status is Status.DEPLOYING
        assert any("stopped renewing its lease" in h.message for h in record.history or [])
        await alive.finish("d1", Status.DONE, "ok", deployed="1" * 40)
        await alive.accept("d2", "github", "push", _job("2" * 40), 10)
        nxt = await alive.claim()
        assert nxt is not None and nxt.deployed is not None and nxt.deployed.delivery_id == "d1"
    finally:
        await dead.close()
        await alive.close()


async def test_a_live_holders_lease_is_renewed_while_it_works(pg_url: str) -> None:
    holder, other = await _stores(pg_url, ("holder", 1), ("other", 30))
    try:
        await holder.accept("d1", "github", "push", _job("1" * 40), 10)
        assert await holder.claim() is not None
        deadline = asyncio.get_running_loop().time() + 2.5  # more than twice the lease: renewed, never taken over
        while asyncio.get_running_loop().time() < deadline:
            assert await other.claim() is None
            await asyncio.sleep(0.2)
    finally:
        await holder.close()
        await other.close()


async def test_a_job_queued_at_one_replica_wakes_the_others_at_once(pg_url: str) -> None:
    idle, receiving = await _stores(pg_url, ("idle", 30), ("receiving", 30))
    try:
        woken = asyncio.Event()
        idle.on_new_jobs(woken.set)
        await asyncio.wait_for(idle.listening.wait(), timeout=10)
        await receiving.accept("d1", "github", "push", _job("1" * 40), 10)
        await asyncio.wait_for(woken.wait(), timeout=5)  # NOTIFY, not the workers' one-second poll
        woken.clear()
        claim = await receiving.claim()
        assert claim is not None and not woken.is_set()
        await receiving.finish(claim.delivery_id, Status.DONE, "ok", deployed="1" * 40)  # the key is free again
        await asyncio.wait_for(woken.wait(), timeout=5)
    finally:
        await idle.close()
        await receiving.close()


async def test_metrics_and_readiness_when_the_database_goes_away(
    receiver: Receiver, pg_cluster: Cluster, tmp_path: Path
) -> None:
    url = pg_cluster.new_database()
    async with receiver(run_workers=False, database=url) as client:
        assert (await client.get("/readyz")).status_code == 200
        unsigned = await client.post("/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "push"})
        assert unsigned.status_code == 401
        text = (await client.get("/metrics")).text
        assert 'fnsync_webhook_deliveries_total{outcome="401",provider="github"} 1.0' in text, text
        assert 'fnsync_webhook_queue_depth{state="queued"} 0.0' in text and "fnsync_webhook_database_up 1.0" in text
        with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "database unreachable" in ready.json()["problems"][0], ready.text
        text = (await client.get("/metrics")).text
        assert "fnsync_webhook_database_up 0.0" in text


def test_cli_refuses_a_bad_or_unreachable_database_before_starting(tmp_path: Path) -> None:
    from tests.syncer.support import run_cli

    env = {"FNSYNC_WEBHOOK_SECRET": "webhook-secret-for-tests", "APPWRITE_ENDPOINT": "http://127.0.0.1:9/v1",
           "APPWRITE_PROJECT_ID": "p", "APPWRITE_API_KEY": "api-key", "FNSYNC_DATABASE_URL": None}
    result = run_cli(env, "webhook", "--data", str(tmp_path / "d"), "--database", "mysql://db/x")
    assert result.exit_code == 1 and "expected sqlite:///PATH or postgresql://" in result.output, result.output
    unreachable = "postgresql://fnsync:hunter2-secret@127.0.0.1:9/fnsync?connect_timeout=2"
    result = run_cli({**env, "FNSYNC_DATABASE_URL": unreachable}, "webhook", "--data", str(tmp_path / "d"))
    assert result.exit_code == 1 and "cannot open the database postgresql://127.0.0.1:9/" in result.output, result.output
    assert "hunter2" not in result.output
    assert not (tmp_path / "d").exists()
