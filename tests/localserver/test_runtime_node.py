"""Node.js functions (CommonJS and ES modules) written the Appwrite way, driven through the official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from localserver.runtime.protocol import LOG_LIMIT
from tests.functions.deploy import create_and_deploy, deploy
from tests.functions.harness import app_context
from tests.localserver.support import run, runtime_env

pytestmark = pytest.mark.slow

RUNTIME = "node-20.0"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with runtime_env(tmp_path_factory, RUNTIME, "node-api", "index.js", variable="node value", timeout=2) as ready:
        yield ready


def test_json_api_gets_the_request(env: dict[str, Any]) -> None:
    execution = run(env, "/items?a=1&b=x=y", body='{"k": 1}', method="PATCH", headers={"content-type": "application/json"})
    assert (execution["status"], execution["responseStatusCode"]) == ("completed", 201)
    seen = json.loads(execution["responseBody"])
    assert seen["method"] == "PATCH"
    assert seen["path"] == "/items"
    assert seen["query"] == {"a": "1", "b": "x=y"}
    assert seen["queryString"] == "a=1&b=x=y"
    assert seen["body"] == {"k": 1}
    assert seen["url"] == "http://localhost:3000/items?a=1&b=x=y"
    assert {"name": "x-custom", "value": "yes"} in execution["responseHeaders"]


def test_text_redirect_empty_binary(env: dict[str, Any]) -> None:
    assert run(env, "/text?name=bo")["responseBody"] == "plain hello bo"
    redirect = run(env, "/redirect")
    assert redirect["responseStatusCode"] == 302
    assert {"name": "location", "value": "https://appwrite.io/docs"} in redirect["responseHeaders"]
    assert run(env, "/empty")["responseStatusCode"] == 204
    binary = run(env, "/binary")
    assert binary["responseBody"] == "hi"
    assert {"name": "content-type", "value": "application/octet-stream; charset=utf-8"} in binary["responseHeaders"]


def test_async_handler_and_logs(env: dict[str, Any]) -> None:
    assert run(env, "/sleep?s=0.05")["responseBody"] == "woke up"
    logged = run(env, "/logs")
    assert 'a log line {"n":1}\n' in logged["logs"]
    assert "printed natively" in logged["logs"]
    assert logged["errors"] == "an error line\n"


def test_environment(env: dict[str, Any]) -> None:
    seen = json.loads(run(env, "/env")["responseBody"])
    assert seen == {"MY_VAR": "node value", "APPWRITE_FUNCTION_ID": "api", "APPWRITE_FUNCTION_RUNTIME_NAME": "Node.js", "FNSYNC_SERVER_SECRET": None}


def test_thrown_error(env: dict[str, Any]) -> None:
    execution = run(env, "/throw")
    assert (execution["status"], execution["responseStatusCode"]) == ("failed", 500)
    assert "Error: thrown on purpose" in execution["errors"]


def test_timeout_and_infinite_output(env: dict[str, Any]) -> None:
    slept = run(env, "/sleep?s=60")
    assert slept["status"] == "failed" and "timed out" in slept["errors"]
    flood = run(env, "/flood")
    assert flood["status"] == "failed" and "timed out" in flood["errors"]
    assert len(flood["logs"]) <= LOG_LIMIT
    assert run(env, "/text")["status"] == "completed"


def test_esm_default_export_and_worker_reuse(env: dict[str, Any]) -> None:
    functions = env["functions"]
    create_and_deploy(functions, "esm", RUNTIME, "node-esm", "main.js")
    first = json.loads(functions.create_execution("esm")["responseBody"])
    second = json.loads(functions.create_execution("esm")["responseBody"])
    assert first["esm"] is True
    executor = app_context(env["runner"]).services["executions"].executor  # host pids: functions run in a PID namespace
    warm = executor.worker_pids("esm")
    assert first["pid"] == second["pid"] and len(warm) == 1
    replaced = 'export default ({ res }) => res.json({ esm: true, pid: process.pid, version: "v2" });\n'
    deploy(functions, "esm", "node-esm", "main.js", replace={"main.js": replaced})
    third = json.loads(functions.create_execution("esm")["responseBody"])
    assert third["version"] == "v2" and executor.worker_pids("esm") != warm
