"""Build outcomes: failing commands, missing entrypoint, timeouts, runtimes without a local interpreter,
and activation order when builds finish out of order."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions

from tests.conftest import start_local_server
from tests.helpers import wait_until

MAIN_PY = b"def main(context):\n    return context.res.text('hi')\n"


def make_archive(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def deploy(sdk: Any, function_id: str = "fn", files: dict[str, bytes] | None = None, activate: bool = True, **kwargs: Any) -> str:
    code = InputFile.from_bytes(make_archive(files or {"main.py": MAIN_PY}), "code.tar.gz")
    return sdk.create_deployment(function_id, code, activate, **kwargs)["$id"]


def finished(sdk: Any, deployment_id: str, function_id: str = "fn") -> dict[str, Any]:
    return wait_until(
        lambda: (d := sdk.get_deployment(function_id, deployment_id))["status"] in ("ready", "failed", "canceled") and d,
        timeout=30, what="build to finish",
    )


def test_failing_command_fails_with_its_output(appwrite_sdk: Any) -> None:
    appwrite_sdk.create("fn", "Fn", "python-3.11", entrypoint="main.py")
    done = finished(appwrite_sdk, deploy(appwrite_sdk, commands="echo compiling-now; echo oops >&2; exit 7"))
    assert done["status"] == "failed"
    assert "compiling-now" in done["buildLogs"] and "oops" in done["buildLogs"] and "exit code 7" in done["buildLogs"]
    assert appwrite_sdk.get("fn")["deployment"] == ""


def test_missing_entrypoint_fails(appwrite_sdk: Any) -> None:
    appwrite_sdk.create("fn", "Fn", "python-3.11", entrypoint="main.py")
    done = finished(appwrite_sdk, deploy(appwrite_sdk, entrypoint="src/absent.py"))
    assert done["status"] == "failed" and 'Entrypoint "src/absent.py" was not found' in done["buildLogs"]
    escaping = finished(appwrite_sdk, deploy(appwrite_sdk, entrypoint="../main.py"))
    assert escaping["status"] == "failed"


def test_python_build_uses_a_private_environment(appwrite_sdk: Any) -> None:
    appwrite_sdk.create("fn", "Fn", "python-3.12", entrypoint="main.py")
    commands = 'python -c "import sys; print(\'prefix=\' + sys.prefix)"; pip --version; echo "fn=$APPWRITE_FUNCTION_ID"'
    done = finished(appwrite_sdk, deploy(appwrite_sdk, commands=commands))
    assert done["status"] == "ready", done["buildLogs"]
    assert "Runtime python-3.12" in done["buildLogs"] and "fn=fn" in done["buildLogs"]
    assert "prefix=" in done["buildLogs"] and "/venv" in done["buildLogs"].rsplit("prefix=", 1)[1].splitlines()[0]
    assert appwrite_sdk.get("fn")["deployment"] == done["$id"]


def test_node_build_runs_npm(appwrite_sdk: Any) -> None:
    appwrite_sdk.create("fn", "Fn", "node-20.0", entrypoint="index.js")
    done = finished(appwrite_sdk, deploy(appwrite_sdk, files={"index.js": b"module.exports = async () => 1;\n"}, commands="node --version && npm --version"))
    assert done["status"] == "ready", done["buildLogs"]
    assert "Node.js" in done["buildLogs"]


def test_runtime_without_local_interpreter_is_configuration_only(appwrite_sdk: Any) -> None:
    appwrite_sdk.create("fn", "Fn", "php-8.3", entrypoint="index.php", commands="exit 1")
    done = finished(appwrite_sdk, deploy(appwrite_sdk, files={"index.php": b"<?php return 1;"}))
    assert done["status"] == "ready", done["buildLogs"]
    assert "executions are unavailable for this runtime locally" in done["buildLogs"]


def test_older_build_finishing_later_does_not_steal_activation(appwrite_sdk: Any, tmp_path: Path) -> None:
    flag = tmp_path / "release"
    appwrite_sdk.create("fn", "Fn", "python-3.11", entrypoint="main.py")
    older = deploy(appwrite_sdk, commands=f"while [ ! -f '{flag}' ]; do sleep 0.05; done")
    wait_until(lambda: appwrite_sdk.get_deployment("fn", older)["status"] == "building", timeout=20, what="older build to start")
    newer = deploy(appwrite_sdk)
    assert finished(appwrite_sdk, newer)["status"] == "ready"
    assert appwrite_sdk.get("fn")["deployment"] == newer
    flag.write_text("go")
    assert finished(appwrite_sdk, older)["status"] == "ready"
    assert appwrite_sdk.get("fn")["deployment"] == newer


@pytest.fixture
def quick_timeout_sdk(tmp_path: Path) -> Iterator[Any]:
    server, runner = start_local_server(tmp_path / "data", build_timeout=1)
    try:
        client = Client().set_endpoint(server.endpoint).set_project(server.project).set_key(server.api_key)
        yield Functions(client)
    finally:
        runner.stop()


def test_build_timeout_fails_the_build(quick_timeout_sdk: Any) -> None:
    quick_timeout_sdk.create("fn", "Fn", "python-3.11", entrypoint="main.py")
    done = finished(quick_timeout_sdk, deploy(quick_timeout_sdk, commands="sleep 30"))
    assert done["status"] == "failed" and "timed out after 1 seconds" in done["buildLogs"]
