"""Build outcomes: failing commands, missing entrypoint, timeouts, runtimes without a local interpreter,
and activation order when builds finish out of order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localserver.sandbox import run_root_for
from tests.functions.harness import sdk
from tests.helpers import wait_until
from tests.localserver.support import create_function, running_server, upload, wait_built

pytestmark = pytest.mark.slow


def test_failing_command_fails_with_its_output(appwrite_sdk: Any) -> None:
    create_function(appwrite_sdk)
    done = wait_built(appwrite_sdk, "fn", upload(appwrite_sdk, commands="echo compiling-now; echo oops >&2; exit 7")["$id"])
    assert done["status"] == "failed"
    assert "compiling-now" in done["buildLogs"] and "oops" in done["buildLogs"] and "exit code 7" in done["buildLogs"]
    assert appwrite_sdk.get("fn")["deployment"] == ""


def test_missing_entrypoint_fails(appwrite_sdk: Any) -> None:
    create_function(appwrite_sdk)
    done = wait_built(appwrite_sdk, "fn", upload(appwrite_sdk, entrypoint="src/absent.py")["$id"])
    assert done["status"] == "failed" and 'Entrypoint "src/absent.py" was not found' in done["buildLogs"]
    escaping = wait_built(appwrite_sdk, "fn", upload(appwrite_sdk, entrypoint="../main.py")["$id"])
    assert escaping["status"] == "failed"


def test_python_build_uses_a_private_environment(appwrite_sdk: Any) -> None:
    appwrite_sdk.create("fn", "Fn", "python-3.12", entrypoint="main.py")
    commands = 'python -c "import sys; print(\'prefix=\' + sys.prefix)"; pip --version; echo "fn=$APPWRITE_FUNCTION_ID"'
    done = wait_built(appwrite_sdk, "fn", upload(appwrite_sdk, commands=commands)["$id"])
    assert done["status"] == "ready", done["buildLogs"]
    assert "Runtime python-3.12" in done["buildLogs"] and "fn=fn" in done["buildLogs"]
    assert "prefix=" in done["buildLogs"] and "/venv" in done["buildLogs"].rsplit("prefix=", 1)[1].splitlines()[0]
    assert appwrite_sdk.get("fn")["deployment"] == done["$id"]


def test_node_build_runs_npm(appwrite_sdk: Any) -> None:
    appwrite_sdk.create("fn", "Fn", "node-20.0", entrypoint="index.js")
    files = {"index.js": b"module.exports = async () => 1;\n"}
    done = wait_built(appwrite_sdk, "fn", upload(appwrite_sdk, files=files, commands="node --version && npm --version")["$id"])
    assert done["status"] == "ready", done["buildLogs"]
    assert "Node.js" in done["buildLogs"]


def test_runtime_without_local_interpreter_is_configuration_only(appwrite_sdk: Any) -> None:
    appwrite_sdk.create("fn", "Fn", "php-8.3", entrypoint="index.php", commands="exit 1")
    done = wait_built(appwrite_sdk, "fn", upload(appwrite_sdk, files={"index.php": b"<?php return 1;"})["$id"])
    assert done["status"] == "ready", done["buildLogs"]
    assert "executions are unavailable for this runtime locally" in done["buildLogs"]


def test_older_build_finishing_later_does_not_steal_activation(appwrite_sdk: Any, tmp_path: Path) -> None:
    create_function(appwrite_sdk)
    # the build is sandboxed: it sees only its own copy, so the release flag goes there
    older = upload(appwrite_sdk, commands="while [ ! -f release ]; do sleep 0.05; done")
    flag = run_root_for(tmp_path / "server-data") / "functions" / "fn" / older["$id"] / "code" / "release"
    wait_until(lambda: appwrite_sdk.get_deployment("fn", older["$id"])["status"] == "building", timeout=20, what="older build to start")
    newer = upload(appwrite_sdk)
    assert wait_built(appwrite_sdk, "fn", newer["$id"])["status"] == "ready"
    assert appwrite_sdk.get("fn")["deployment"] == newer["$id"]
    flag.write_text("go")
    assert wait_built(appwrite_sdk, "fn", older["$id"])["status"] == "ready"
    assert appwrite_sdk.get("fn")["deployment"] == newer["$id"]


@pytest.fixture
def quick_timeout_sdk(tmp_path: Path) -> Iterator[Any]:
    with running_server(tmp_path / "data", build_timeout=1) as (server, _):
        yield sdk(server)


def test_build_timeout_fails_the_build(quick_timeout_sdk: Any) -> None:
    create_function(quick_timeout_sdk)
    done = wait_built(quick_timeout_sdk, "fn", upload(quick_timeout_sdk, commands="sleep 30")["$id"])
    assert done["status"] == "failed" and "timed out after 1 seconds" in done["buildLogs"]
