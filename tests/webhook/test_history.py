"""History decides, not arrival; the queue counts branches, not deliveries.

Real git repositories, the real receiver (in-process, workers running) and the local server: pushes arriving out
of order, old bodies replayed, and a burst of 300 pushes to one branch at full speed.
"""

from __future__ import annotations

import pytest

import io
import tarfile
from pathlib import Path
from typing import Any

from appwrite.services.functions import Functions

from tests.webhook.conftest import Receiver, admin
from tests.webhook.support import ZERO, Remote, encode, github_headers
from tests.webhook.test_end_to_end import FINAL, NODE, active, deliver, deployments_of, link, push, settled

pytestmark = pytest.mark.slow


def code_of(sdk: Functions, function_id: str) -> str:
    """index.js of the function's active deployment, read back from the server's archive."""
    archive = sdk.get_deployment_download(function_id, active(sdk, function_id))
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "index.js")
        handle = tar.extractfile(member)
        assert handle is not None
        return handle.read().decode()


def version(number: int) -> str:
    return NODE + f"// v{number}\n"


async def test_out_of_order_deliveries_deploy_the_newest_commit_by_history(
    receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path
) -> None:
    remote = Remote(tmp_path)
    b1 = remote.commit({"fns/a/index.js": version(1)})
    b2 = remote.commit({"fns/a/index.js": version(2)})
    b3 = remote.commit({"fns/a/index.js": version(3)})
    link(appwrite_sdk, "fn-a", "fns/a")
    async with receiver() as client:
        first = await settled(client, await deliver(client, "push", push(remote, ZERO, b1, None, created=True)))
        assert first["status"] == "done", first
        third = await settled(client, await deliver(client, "push", push(remote, b2, b3, ["fns/a/index.js"])))
        assert third["status"] == "done" and set(third["deployments"]) == {"fn-a"}, third
        late = await settled(client, await deliver(client, "push", push(remote, b1, b2, ["fns/a/index.js"])))
        assert late["status"] == "superseded" and late["deployments"] == {}, late
        assert "not deployed" in late["reason"] and late["superseded_by"] == third["id"], late
        assert code_of(appwrite_sdk, "fn-a") == version(3)
        assert len(deployments_of(appwrite_sdk, "fn-a")) == 2

        # the same signed body again under a new delivery id: a duplicate, nothing queued
        body = encode(push(remote, b2, b3, ["fns/a/index.js"]))
        replay = await client.post("/webhooks/github", content=body, headers=github_headers("push", body))
        assert replay.status_code == 200 and replay.json()["status"] == "duplicate", replay.text
        # an old commit in a fresh body (signed anew): recorded, and history keeps it from being deployed
        old = await settled(client, await deliver(client, "push", push(remote, ZERO, b1, ["fns/a/index.js"])))
        assert old["status"] == "superseded", old
        assert code_of(appwrite_sdk, "fn-a") == version(3) and len(deployments_of(appwrite_sdk, "fn-a")) == 2

        # a force push back to b1 is the branch's head now: history says deploy it
        remote.push_ref(b1, "refs/heads/main")
        rollback = await settled(client, await deliver(client, "push", push(remote, b3, b1, None, forced=True)))
        assert rollback["status"] == "done" and set(rollback["deployments"]) == {"fn-a"}, rollback
        assert code_of(appwrite_sdk, "fn-a") == version(1)


async def test_deliveries_queued_out_of_order_deploy_the_newest(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    """b1, b3, b2 arrive while no worker runs: one queued job; the worker deploys b3, the branch's head."""
    remote = Remote(tmp_path)
    b1 = remote.commit({"fns/a/index.js": version(1)})
    b2 = remote.commit({"fns/a/index.js": version(2)})
    b3 = remote.commit({"fns/a/index.js": version(3)})
    link(appwrite_sdk, "fn-a", "fns/a")
    async with receiver(run_workers=False) as client:
        ids = [await deliver(client, "push", payload) for payload in (
            push(remote, ZERO, b1, None, created=True), push(remote, b2, b3, ["fns/a/index.js"]), push(remote, b1, b2, ["fns/a/index.js"]))]
        assert (await client.get("/readyz")).json()["queued"] == 1
    async with receiver() as client:
        last = await settled(client, ids[-1])
        assert last["status"] == "done" and set(last["deployments"]) == {"fn-a"}, last
        assert b3[:12] in last["reason"], last
        earlier = [(await client.get(f"/deliveries/{i}", headers=admin())).json() for i in ids[:2]]
        assert [e["status"] for e in earlier] == ["superseded", "superseded"]
    assert code_of(appwrite_sdk, "fn-a") == version(3)
    assert len(deployments_of(appwrite_sdk, "fn-a")) == 1


async def test_a_burst_on_one_branch_never_fills_the_queue(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    """300 pushes to one branch at full speed, with room for only 5 queued branches: all accepted, newest active."""
    remote = Remote(tmp_path)
    base = remote.commit({"fns/a/index.js": version(0)})
    link(appwrite_sdk, "fn-a", "fns/a")
    commits = remote.commit_series("fns/a/index.js", [version(n) for n in range(1, 301)])
    async with receiver(queue_size=5) as client:
        answers: list[int] = []
        delivery = ""
        before = base
        for sha in commits:
            body = encode(push(remote, before, sha, ["fns/a/index.js"]))
            response = await client.post("/webhooks/github", content=body, headers=github_headers("push", body))
            answers.append(response.status_code)
            delivery, before = response.json()["delivery"], sha
        assert set(answers) == {202}, {code: answers.count(code) for code in set(answers)}
        newest = await settled(client, delivery, timeout=120)
        assert newest["status"] == "done" and set(newest["deployments"]) == {"fn-a"}, newest
        listed: list[dict[str, Any]] = (await client.get("/deliveries", params={"limit": 1000}, headers=admin())).json()["deliveries"]
    assert len(listed) == 300 and all(d["status"] in FINAL for d in listed)  # the log keeps every delivery
    assert code_of(appwrite_sdk, "fn-a") == version(300)
    assert active(appwrite_sdk, "fn-a") == newest["deployments"]["fn-a"]
    # coalesced: far fewer deployments than pushes (how many depends on how fast pushes arrive against builds)
    assert len(deployments_of(appwrite_sdk, "fn-a")) < len(commits) // 2
