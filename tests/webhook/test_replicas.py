"""Two receivers (real `fnsync webhook` processes) on one PostgreSQL database share the work; one is SIGKILLed
while it holds a job and restarted. 300 signed pushes for 10 branches arrive at a steady rate, alternately at
either receiver (a load balancer); a push sent to the dead receiver is sent again, same id and body, to the
other one (as GitHub redelivers). Afterwards: every accepted delivery is final and none failed, no job ran
more than once except one resumed after the kill, each function's deployments carry strictly newer code in
creation order (no older commit after a newer one), and the newest commit is active on every branch."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from appwrite.services.functions import Functions

from tests.conftest import LocalServer
from tests.helpers import wait_until
from tests.webhook.conftest import INSTALLATION
from tests.webhook.postgres import Cluster
from tests.webhook.support import Remote, encode, github_headers, push_payload
from tests.webhook.test_crash import receiver_process
from webhook.deliveries import replica_name

REPO_ID = 5150
BRANCHES = [f"b{n}" for n in range(10)]
PUSHES_PER_BRANCH = 30
RATE = 10.0  # deliveries per second
NODE = "export default async ({ res }) => res.send('ok');\n"
FINAL = ("done", "superseded", "ignored", "failed")


def version(branch: str, number: int) -> str:
    return NODE + f"// {branch} v{number}\n"


def code_of(sdk: Functions, function_id: str, deployment_id: str) -> str:
    archive = sdk.get_deployment_download(function_id, deployment_id)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "index.js")
        handle = tar.extractfile(member)
        assert handle is not None
        return handle.read().decode()


class Sender:
    """Sends the planned deliveries at `RATE`, alternating between the live receivers; records what was accepted."""

    def __init__(self, plan: list[tuple[str, bytes]], urls: list[str | None]) -> None:
        self.plan = plan
        self.urls = urls  # index -> receiver URL, None while that receiver is down
        self.accepted: dict[str, int] = {}
        self.sent = 0
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        with httpx.Client(timeout=10) as http:
            for number, (delivery, body) in enumerate(self.plan):
                pause = start + number / RATE - time.monotonic()  # a steady rate, not synchronisation
                if pause > 0:
                    time.sleep(pause)
                preferred = number % 2
                for target in (preferred, 1 - preferred, preferred, 1 - preferred):
                    url = self.urls[target]
                    if url is None:
                        continue
                    try:
                        response = http.post(url + "/webhooks/github", content=body,
                                             headers=github_headers("push", body, delivery=delivery))
                    except httpx.TransportError:
                        continue  # that receiver just died: redeliver to the other
                    if response.status_code in (200, 202):
                        self.accepted[delivery] = response.status_code
                        break
                    self.errors.append(f"{delivery}: {response.status_code} {response.text}")
                    break
                else:
                    self.errors.append(f"{delivery}: no receiver answered")
                self.sent = number + 1


@pytest.mark.slow
def test_two_receivers_one_killed_every_delivery_deployed_once(
    local_server: LocalServer, appwrite_sdk: Functions, pg_cluster: Cluster, tmp_path: Path
) -> None:
    database = pg_cluster.new_database()
    remote = Remote(tmp_path)
    base = remote.commit({"fn/index.js": NODE})
    for branch in BRANCHES:
        remote.work.git.branch(branch, base)
        remote.work.git.push("origin", f"{branch}:refs/heads/{branch}")
    commits = {b: remote.commit_series("fn/index.js", [version(b, n) for n in range(1, PUSHES_PER_BRANCH + 1)], branch=b)
               for b in BRANCHES}
    for number, branch in enumerate(BRANCHES):
        appwrite_sdk.create(f"f{number}", f"f{number}", "node-18.0", entrypoint="index.js", installation_id=INSTALLATION,
                            provider_repository_id=str(REPO_ID), provider_branch=branch, provider_root_directory="fn")
    plan: list[tuple[str, bytes]] = []
    for step in range(PUSHES_PER_BRANCH):
        for branch in BRANCHES:
            before = base if step == 0 else commits[branch][step - 1]
            payload = push_payload(repo_id=REPO_ID, clone_url=remote.url, branch=branch, before=before,
                                   after=commits[branch][step], commits=[{"id": commits[branch][step], "modified": ["fn/index.js"]}])
            plan.append((str(uuid.uuid4()), encode(payload)))

    extra = ("--workers", "2", "--database", database, "--lease", "3")
    data_a, data_b = tmp_path / "receiver-a", tmp_path / "receiver-b"
    owner_b = replica_name(data_b)

    def held_by(owner: str) -> int:
        with psycopg.connect(database) as conn:
            row = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'deploying' AND lease_owner = %s", (owner,)).fetchone()
        return int(row[0]) if row else 0

    with receiver_process(local_server, data_a, tmp_path / "a.log", extra) as (url_a, _):
        with receiver_process(local_server, data_b, tmp_path / "b.log", extra) as (url_b, proc_b):
            sender = Sender(plan, [url_a, url_b])
            sender.thread.start()
            wait_until(lambda: sender.sent >= 80, timeout=60, what="80 deliveries sent")

            def frozen_holding_a_job() -> bool:
                """Freeze B; keep it frozen only if it holds a job at that instant (then it cannot finish it)."""
                os.kill(proc_b.pid, signal.SIGSTOP)
                if held_by(owner_b) > 0:
                    return True
                os.kill(proc_b.pid, signal.SIGCONT)
                return False

            wait_until(frozen_holding_a_job, timeout=60, interval=0.05, what="receiver B to hold a job")
            sender.urls[1] = None
            os.kill(proc_b.pid, signal.SIGKILL)
            proc_b.wait(timeout=10)
            killed_at = sender.sent
        # A takes over B's jobs once their lease runs out; then B comes back on its data dir
        wait_until(lambda: held_by(owner_b) == 0, timeout=90, what="receiver A to take over B's jobs")
        with receiver_process(local_server, data_b, tmp_path / "b2.log", extra) as (url_b2, _):
            sender.urls[1] = url_b2
            sender.thread.join(timeout=90)
            assert not sender.thread.is_alive()

            def all_final() -> list[dict[str, Any]] | None:
                with psycopg.connect(database) as conn:
                    conn.row_factory = psycopg.rows.dict_row
                    rows = conn.execute("SELECT * FROM deliveries").fetchall()
                return rows if rows and all(r["status"] in FINAL for r in rows) else None

            rows = wait_until(all_final, timeout=120, what="every delivery to reach a final state")
            with psycopg.connect(database) as conn:
                history = conn.execute(
                    "SELECT d.id, h.status, h.message FROM history h JOIN deliveries d ON d.seq = h.delivery_seq ORDER BY h.id"
                ).fetchall()

    assert sender.errors == [], sender.errors[:5]
    assert 0 < killed_at < len(plan)
    by_id = {r["id"].removeprefix("github:"): r for r in rows}
    # every accepted delivery is in the shared log, final, and none failed
    assert set(sender.accepted) == {d for d, _ in plan}
    assert set(sender.accepted) <= set(by_id)
    assert {by_id[d]["status"] for d in sender.accepted} <= {"done", "superseded"}, {
        d: (by_id[d]["status"], by_id[d]["error"]) for d in sender.accepted if by_id[d]["status"] not in ("done", "superseded")}
    # no job run twice: attempts are the history's `deploying` lines, and a second attempt only follows a resume
    attempts: dict[str, int] = {}
    resumed: set[str] = set()
    for stored_id, status, message in history:
        delivery = stored_id.removeprefix("github:")
        attempts[delivery] = attempts.get(delivery, 0) + (status == "deploying" and message.startswith("attempt "))
        if "resuming" in message:
            resumed.add(delivery)
    assert resumed, "the killed receiver held a job: it must have been resumed"
    for delivery, count in attempts.items():
        assert count == by_id[delivery]["attempts"]
        assert count <= 1 or delivery in resumed, (delivery, count)
    # per branch: deployments carry strictly newer commits in creation order; the newest is active
    for number, branch in enumerate(BRANCHES):
        fid = f"f{number}"
        deployments = sorted(appwrite_sdk.list_deployments(fid)["deployments"], key=lambda d: d["$createdAt"])
        versions = [int(code_of(appwrite_sdk, fid, d["$id"]).rsplit(" v", 1)[1]) for d in deployments]
        assert versions == sorted(set(versions)), (fid, versions)  # never the same commit twice, never older after newer
        assert versions[-1] == PUSHES_PER_BRANCH, (fid, versions)
        assert appwrite_sdk.get(fid)["deployment"] == deployments[-1]["$id"]
        recorded = {dep for r in rows for f, dep in json.loads(r["deployments"]).items() if f == fid}
        assert recorded <= {d["$id"] for d in deployments}
