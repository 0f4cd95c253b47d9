"""A chunked upload abandoned for a day is removed with its half-made deployment (test clock, no waiting)."""

from __future__ import annotations

from pathlib import Path

from localserver.scheduler import ManualClock
from tests.functions.harness import app_context, server_at
from tests.helpers import wait_until
from tests.localserver.support import api_client, make_archive, post_function


def test_abandoned_chunked_upload_is_removed_after_a_day(tmp_path: Path) -> None:
    clock = ManualClock()
    data = tmp_path / "data"
    with server_at(data, clock=clock) as (server, runner), api_client(server) as client:
        post_function(client)
        archive = make_archive()
        half = len(archive) // 2
        first = client.post("/functions/fn/deployments", data={"activate": "true"},
                            files={"code": ("code.tar.gz", archive[:half], "application/gzip")},
                            headers={"Content-Range": f"bytes 0-{half - 1}/{len(archive)}", "X-Appwrite-ID": "halfway"})
        assert first.status_code == 202, first.text
        slices = data / "uploads" / "halfway"
        assert slices.is_dir()

        janitor = app_context(runner).services["janitor"]
        clock.advance(23 * 3600)
        assert janitor.sweep() == []  # a day has not passed: the client may still send the rest
        assert slices.is_dir() and client.get("/functions/fn/deployments/halfway").status_code == 200

        clock.advance(2 * 3600)  # the janitor's own loop notices; no direct call needed
        wait_until(lambda: not slices.exists(), timeout=10, what="the abandoned slices to be removed")
        assert client.get("/functions/fn/deployments/halfway").json()["type"] == "deployment_not_found"
