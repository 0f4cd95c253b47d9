"""Builds across a server restart: a build in progress when the server stops ends `failed`, never stays
`building`; one a crash left `building` is failed on startup; uploads without a build record are rebuilt."""

from __future__ import annotations

from pathlib import Path

from localserver.clock import now_iso
from localserver.store import Store
from tests.helpers import wait_until
from tests.localserver.support import api_client, deployment_status, post_deployment, post_function, running_server

import pytest
pytestmark = pytest.mark.slow


def test_build_in_progress_is_failed_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data) as (server, runner), api_client(server) as client:
        post_function(client)
        slow = post_deployment(client, commands="sleep 60")
        wait_until(lambda: deployment_status(client, slow["$id"]) == "building", timeout=20, what="build to start")
    assert not runner.thread.is_alive()

    with running_server(data) as (server, _), api_client(server) as client:
        after = client.get(f"/functions/fn/deployments/{slow['$id']}").json()
        assert after["status"] == "failed" and "interrupted" in after["buildLogs"]
        assert client.get("/functions/fn").json()["deployment"] == ""


def test_crash_leftovers_are_failed_and_unbuilt_uploads_requeued(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data) as (server, _), api_client(server) as client:
        post_function(client)
        ids = [post_deployment(client, activate=False)["$id"] for _ in range(2)]
        for deployment_id in ids:
            wait_until(lambda: deployment_status(client, deployment_id) == "ready", timeout=20, what="build")

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

    with running_server(data) as (server, _), api_client(server) as client:
        first = client.get(f"/functions/fn/deployments/{ids[0]}").json()
        assert first["status"] == "failed" and "interrupted by a server restart" in first["buildLogs"]
        wait_until(lambda: deployment_status(client, ids[1]) == "ready", timeout=20, what="re-queued build")
