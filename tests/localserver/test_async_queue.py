"""Async executions go through a queue, as Appwrite 1.6.2 queues them (issue 14 item 6).

Ported in spirit from 1.6.2's `tests/e2e/Services/Functions/FunctionsCustomServerTest.php`
(testCreateExecution / testDeleteExecution: async gives 202 `waiting`, deleting a running one is
`execution_in_progress`). A queued execution is held back deterministically by filling every queue
worker with an execution that sleeps past the function's timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from appwrite.exception import AppwriteException

from localserver.sandbox import run_root_for
from tests.functions.deploy import create_and_deploy, deploy
from tests.functions.harness import app_context, finished, sdk, server_at
from tests.helpers import wait_until

pytestmark = pytest.mark.slow

KEY_HEADERS = {"x-appwrite-project": "test", "x-appwrite-key": "k" * 32}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with server_at(tmp_path_factory.mktemp("queue") / "data") as (server, runner):
        functions = sdk(server)
        create_and_deploy(functions, "api", "python-3.12", "python-api", "src/main.py", timeout=3)
        yield {"server": server, "runner": runner, "functions": functions}


def fill_workers(functions: Any, runner: Any, function_id: str = "api") -> list[str]:
    """Start one sleeper per queue worker and wait until all of them run: the next async one must wait."""
    count = app_context(runner).services["executions"].workers
    ids = [functions.create_execution(function_id, path="/sleep?s=60", xasync=True)["$id"] for _ in range(count)]
    wait_until(lambda: all(functions.get_execution(function_id, i)["status"] == "processing" for i in ids), timeout=30,
               what="every queue worker busy")
    return ids


def test_async_status_goes_waiting_processing_completed_over_raw_http(env: dict[str, Any]) -> None:
    endpoint = env["server"].endpoint
    created = httpx.post(f"{endpoint}/functions/api/executions", json={"async": True, "path": "/sleep?s=1"}, headers=KEY_HEADERS)
    assert created.status_code == 202 and created.json()["status"] == "waiting"
    seen = ["waiting"]

    def probe() -> dict[str, Any] | None:
        execution = httpx.get(f"{endpoint}/functions/api/executions/{created.json()['$id']}", headers=KEY_HEADERS).json()
        if execution["status"] != seen[-1]:
            seen.append(execution["status"])
        return execution if execution["status"] in ("completed", "failed") else None

    done = wait_until(probe, timeout=30, what="async execution")
    assert seen == ["waiting", "processing", "completed"]  # never backwards, never skipping the run
    assert done["responseStatusCode"] == 200 and isinstance(done["duration"], float) and done["duration"] >= 1.0


def test_queued_execution_waits_cannot_be_deleted_and_runs_when_a_worker_frees(env: dict[str, Any]) -> None:
    functions, runner = env["functions"], env["runner"]
    sleepers = fill_workers(functions, runner)
    queued = functions.create_execution("api", path="/text", xasync=True)
    assert queued["status"] == "waiting"
    assert functions.get_execution("api", queued["$id"])["status"] == "waiting"  # every worker is busy
    with pytest.raises(AppwriteException) as info:
        functions.delete_execution("api", queued["$id"])
    assert (info.value.code, info.value.type) == (400, "execution_in_progress")  # 400, as 1.6.2's errors.php has it
    # the sleepers time out (function timeout 3 s), then a worker takes the queued one
    done = finished(functions, "api", queued["$id"])
    assert (done["status"], done["responseStatusCode"]) == ("completed", 200)
    assert isinstance(done["duration"], float) and 0 < done["duration"] < 3
    assert all(finished(functions, "api", i)["status"] == "failed" for i in sleepers)
    functions.delete_execution("api", queued["$id"])


def test_duration_is_seconds_with_fractions(env: dict[str, Any]) -> None:
    done = env["functions"].create_execution("api", path="/sleep?s=0.25")
    assert isinstance(done["duration"], float) and 0.25 <= done["duration"] < 3 and done["duration"] != int(done["duration"])


def count_file(data: Path, function_id: str, deployment_id: str) -> Path:
    return run_root_for(data) / "functions" / function_id / deployment_id / "code" / "count.txt"


def test_queued_executions_run_exactly_once_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with server_at(data) as (server, runner):
        functions = sdk(server)
        create_and_deploy(functions, "api", "python-3.12", "python-api", "src/main.py", timeout=60)
        functions.create("once", "once", "python-3.12", entrypoint="main.py")
        functions.create_variable("once", "COUNT_FILE", "count.txt")
        count = count_file(data, "once", deploy(functions, "once", "python-misc", "main.py"))
        sleepers = fill_workers(functions, runner)
        queued = functions.create_execution("once", xasync=True)
        assert functions.get_execution("once", queued["$id"])["status"] == "waiting"
    assert not count.exists()  # the server stopped before the queued one ran
    with server_at(data) as (server, _):
        functions = sdk(server)
        done = finished(functions, "once", queued["$id"])
        assert done["status"] == "completed" and isinstance(done["duration"], float)
        # the ones running when the server stopped may have done work: failed, never run twice
        interrupted = [functions.get_execution("api", i) for i in sleepers]
        assert {e["status"] for e in interrupted} == {"failed"}
    with server_at(data) as (server, _):
        assert sdk(server).get_execution("once", queued["$id"])["status"] == "completed"
    assert count.read_text().split() == ["http"]
