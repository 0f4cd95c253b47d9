"""Builds across a server restart: a build in progress when the server stops ends `failed`, never stays
`building`; one a crash left `building` is failed on startup; uploads without a build record are rebuilt."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import httpx

from localserver.clock import now_iso
from localserver.store import Store
from tests.conftest import start_local_server
from tests.helpers import wait_until

MAIN_PY = b"def main(context):\n    return context.res.text('hi')\n"


def make_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("main.py")
        info.size = len(MAIN_PY)
        tar.addfile(info, io.BytesIO(MAIN_PY))
    return buf.getvalue()


def client_for(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.endpoint, headers={"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key}, timeout=30)


def status(client: httpx.Client, deployment_id: str) -> str:
    return client.get(f"/functions/fn/deployments/{deployment_id}").json()["status"]


def test_build_in_progress_is_failed_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server, runner = start_local_server(data)
    try:
        with client_for(server) as client:
            client.post("/functions", json={"functionId": "fn", "name": "Fn", "runtime": "python-3.11", "entrypoint": "main.py"})
            slow = client.post("/functions/fn/deployments", data={"activate": "true", "commands": "sleep 60"}, files={"code": ("code.tar.gz", make_archive())}).json()
            wait_until(lambda: status(client, slow["$id"]) == "building", timeout=20, what="build to start")
    finally:
        runner.stop()
    assert not runner.thread.is_alive()

    server, runner = start_local_server(data)
    try:
        with client_for(server) as client:
            after = client.get(f"/functions/fn/deployments/{slow['$id']}").json()
            assert after["status"] == "failed" and "interrupted" in after["buildLogs"]
            assert client.get("/functions/fn").json()["deployment"] == ""
    finally:
        runner.stop()


def test_crash_leftovers_are_failed_and_unbuilt_uploads_requeued(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server, runner = start_local_server(data)
    try:
        with client_for(server) as client:
            client.post("/functions", json={"functionId": "fn", "name": "Fn", "runtime": "python-3.11", "entrypoint": "main.py"})
            ids = [
                client.post("/functions/fn/deployments", data={"activate": "false"}, files={"code": ("code.tar.gz", make_archive())}).json()["$id"]
                for _ in range(2)
            ]
            for deployment_id in ids:
                wait_until(lambda: status(client, deployment_id) == "ready", timeout=20, what="build")
    finally:
        runner.stop()

    # Simulate a crash: one build record left `building`, one upload whose build record never got written.
    store = Store(server.config.db_path)
    crashed = store.get("builds", store.get("deployments", ids[0])["buildId"])
    crashed.update(status="building", logs="half way", endTime="", **{"$updatedAt": now_iso()})
    store.put("builds", crashed)
    unbuilt = store.get("deployments", ids[1])
    store.delete("builds", unbuilt["buildId"])
    unbuilt["buildId"] = ""
    store.put("deployments", unbuilt)
    store.close()

    server, runner = start_local_server(data)
    try:
        with client_for(server) as client:
            first = client.get(f"/functions/fn/deployments/{ids[0]}").json()
            assert first["status"] == "failed" and "interrupted by a server restart" in first["buildLogs"]
            wait_until(lambda: status(client, ids[1]) == "ready", timeout=20, what="re-queued build")
    finally:
        runner.stop()
