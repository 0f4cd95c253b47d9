"""The official Appwrite CLI pushes a function to the local server: 12.0.1 (format 1.8.0) to 1.9.6, 6.2.3 to 1.6.2.

Success means: every command exits 0, prints no error, and the function's newest deployment is `ready`, of
type `cli`, and active.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_local_server
from tests.helpers import wait_until
from tests.judges.cli import push_functions, write_project
from tests.judges.runner import require_cli

pytestmark = [pytest.mark.npm, pytest.mark.slow]
ERROR = re.compile(r"error|✗", re.IGNORECASE)


@pytest.mark.parametrize(("cli", "version"), [("12.0.1", "1.9.6"), ("6.2.3", "1.6.2")])
def test_push_functions_gives_a_ready_active_deployment(tmp_path: Path, cli: str, version: str) -> None:
    binary = require_cli(cli)
    server, runner = start_local_server(tmp_path / "server", appwrite_version=version)
    try:
        headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key}
        project_dir = tmp_path / "project"
        function = write_project(project_dir, server.project)
        with httpx.Client(base_url=server.endpoint, headers=headers, timeout=30) as api:
            if cli == "12.0.1":
                # CLI 12 creates a function only with a console session (`appwrite login`); with a key it updates one.
                api.post("/functions", json={"functionId": function["$id"], "name": function["name"], "runtime": function["runtime"]})
            runs = push_functions(binary, project_dir, tmp_path / "home", server.endpoint, server.project, server.api_key)
            for run in runs:
                assert run.returncode == 0 and not ERROR.search(run.output), run.output
            assert len(runs) == 2
            deployments = api.get("/functions/hello/deployments").json()["deployments"]
            assert len(deployments) == 1 and deployments[0]["type"] == "cli"
            deployment = wait_until(
                lambda: (d := api.get(f"/functions/hello/deployments/{deployments[0]['$id']}").json())["status"] in ("ready", "failed") and d,
                timeout=120, what="the CLI's deployment to build",
            )
            assert deployment["status"] == "ready", deployment["buildLogs"]
            active = api.get("/functions/hello").json()
            assert active.get("deploymentId", active.get("deployment")) == deployment["$id"]
    finally:
        runner.stop()
