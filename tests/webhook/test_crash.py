"""Crash safety: `fnsync webhook` is SIGKILLed with deliveries queued and one deploying; after a restart on
the same data dir every accepted push ends in one final state, nothing is deployed twice, and the newest
commit of each branch is active."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from appwrite.services.functions import Functions

from tests.conftest import LocalServer
from tests.helpers import wait_until
from tests.webhook.conftest import ADMIN, INSTALLATION
from tests.webhook.support import SECRET, ZERO, Remote, encode, github_headers, push_payload

REPO_ID = 777
NODE = "export default async ({ res }) => res.send('ok');\n"
FINAL = {"done", "failed", "ignored", "superseded"}


@contextmanager
def receiver_process(
    local_server: LocalServer, data: Path, log: Path, extra: Sequence[str] = ("--workers", "1")
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "FNSYNC_WEBHOOK_SECRET": SECRET,
        "FNSYNC_ADMIN_TOKEN": ADMIN,
        "APPWRITE_ENDPOINT": local_server.endpoint,
        "APPWRITE_PROJECT_ID": local_server.project,
        "APPWRITE_API_KEY": local_server.api_key,
    }
    env.pop("GITHUB_TOKEN", None)
    argv = [sys.executable, "-c", "from syncer.cli import main; main()", "webhook", "--port", "0", "--data", str(data),
            "--allow-clone-url", "file://*", *extra]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        def port() -> str | None:
            found = re.findall(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            return found[-1] if found and proc.poll() is None else None

        url = wait_until(port, timeout=30, what="receiver to listen")
        wait_until(lambda: _get(url, "/healthz") is not None, timeout=30, what="receiver to answer")
        yield url, proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def _get(url: str, path: str) -> Any:
    try:
        response = httpx.get(url + path, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=5)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def _deliver(url: str, payload: dict[str, Any]) -> str:
    body = encode(payload)
    response = httpx.post(url + "/webhooks/github", content=body, headers=github_headers("push", body), timeout=10)
    assert response.status_code == 202, response.text
    return str(response.json()["delivery"])


@pytest.mark.slow
def test_sigkill_while_queued_and_deploying(
    local_server: LocalServer, appwrite_sdk: Functions, tmp_path: Path, database: str | None
) -> None:
    store = ("--database", database) if database else ()
    remote = Remote(tmp_path)
    branches = {"c1": "main", "c2": "b2", "c3": "b3"}
    for fid, branch in branches.items():
        # `sleep` in the build commands keeps a build in progress long enough to kill the receiver during it
        appwrite_sdk.create(fid, fid, "node-18.0", entrypoint="index.js", commands="sleep 1", installation_id=INSTALLATION,
                            provider_repository_id=str(REPO_ID), provider_branch=branch, provider_root_directory=fid)
    commits: dict[str, str] = {}
    commits["a1"] = remote.commit({"c1/index.js": NODE + "// 1\n"}, branch="main")
    commits["a2"] = remote.commit({"c1/index.js": NODE + "// 2\n"}, branch="main")
    commits["b1"] = remote.commit({"c2/index.js": NODE}, branch="b2")
    commits["c1"] = remote.commit({"c3/index.js": NODE}, branch="b3")

    def payload(key: str, branch: str) -> dict[str, Any]:
        return push_payload(repo_id=REPO_ID, clone_url=remote.url, branch=branch, before=ZERO, after=commits[key], created=True)

    data = tmp_path / "webhook-data"
    with receiver_process(local_server, data, tmp_path / "receiver-1.log", ("--workers", "1", *store)) as (url, proc):
        a1 = _deliver(url, payload("a1", "main"))
        queued = [_deliver(url, payload("a2", "main")), _deliver(url, payload("b1", "b2")), _deliver(url, payload("c1", "b3"))]

        def a1_building() -> bool:
            record = _get(url, f"/deliveries/{a1}")
            if not record or record["status"] != "deploying" or "c1" not in record["deployments"]:
                return False
            deployment = appwrite_sdk.get_deployment("c1", record["deployments"]["c1"])
            return deployment["status"] in ("waiting", "processing", "building")

        wait_until(a1_building, timeout=30, what="a1 to be building")
        states = {d["id"]: d["status"] for d in _get(url, "/deliveries?limit=10")["deliveries"]}
        assert [states[q] for q in queued] == ["queued"] * 3
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    with receiver_process(local_server, data, tmp_path / "receiver-2.log", ("--workers", "1", *store)) as (url, _):
        def all_final() -> dict[str, dict[str, Any]] | None:
            records = {d: _get(url, f"/deliveries/{d}") for d in [a1, *queued]}
            return records if all(r and r["status"] in FINAL for r in records.values()) else None

        records = wait_until(all_final, timeout=90, what="every delivery to finish")

    a2, b1, c1 = queued
    assert {records[d]["status"] for d in (a2, b1, c1)} == {"done"}, records
    assert records[a1]["status"] in ("superseded", "done"), records[a1]
    assert any("restarted" in h["message"] for h in records[a1]["history"]) or records[a1]["status"] == "superseded"
    # exactly once: one deployment per accepted commit (a1's upload from before the crash, never repeated)
    c1_deployments = appwrite_sdk.list_deployments("c1")["deployments"]
    assert len(c1_deployments) == 2, [d["$id"] for d in c1_deployments]
    assert len(appwrite_sdk.list_deployments("c2")["deployments"]) == 1
    assert len(appwrite_sdk.list_deployments("c3")["deployments"]) == 1
    # the newest commit of main is the active one
    assert appwrite_sdk.get("c1")["deployment"] == records[a2]["deployments"]["c1"]
    assert appwrite_sdk.get("c2")["deployment"] == records[b1]["deployments"]["c2"]
    assert appwrite_sdk.get("c3")["deployment"] == records[c1]["deployments"]["c3"]
