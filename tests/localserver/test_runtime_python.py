"""Python functions written the Appwrite way, deployed and executed through the official SDK."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localserver.runtime.protocol import LOG_LIMIT
from tests.functions.deploy import create_and_deploy, deploy
from tests.functions.harness import app_context
from tests.localserver.support import run, runtime_env

pytestmark = pytest.mark.slow

RUNTIME = "python-3.12"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with runtime_env(tmp_path_factory, RUNTIME, "python-api", "src/main.py", variable="my value", execute=["any"], timeout=3) as ready:
        yield ready


def _host_pids(env: dict[str, Any], function_id: str) -> list[int]:
    return sorted(app_context(env["runner"]).services["executions"].executor.worker_pids(function_id))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_json_api_gets_the_request(env: dict[str, Any]) -> None:
    execution = run(env, "/items?a=1&b=two", body='{"k": [1, 2]}', method="PUT", headers={"content-type": "application/json", "x-thing": "v"})
    assert execution["status"] == "completed"
    assert execution["responseStatusCode"] == 201
    seen = json.loads(execution["responseBody"])
    assert seen["method"] == "PUT"
    assert seen["path"] == "/items"
    assert seen["query"] == {"a": "1", "b": "two"}
    assert seen["queryString"] == "a=1&b=two"
    assert seen["body"] == {"k": [1, 2]}
    assert seen["bodyText"] == '{"k": [1, 2]}'
    assert seen["headers"]["x-thing"] == "v"
    assert seen["headers"]["x-appwrite-trigger"] == "http"
    assert seen["url"] == "http://localhost:3000/items?a=1&b=two"
    assert (seen["host"], seen["port"], seen["scheme"]) == ("localhost", 3000, "http")
    headers = {h["name"]: h["value"] for h in execution["responseHeaders"]}
    assert headers["x-custom"] == "yes"
    assert headers["content-type"] == "application/json; charset=utf-8"
    # stored copy: no body, filtered headers
    stored = env["functions"].get_execution("api", execution["$id"])
    assert stored["responseBody"] == ""
    assert {h["name"] for h in stored["responseHeaders"]} <= {"content-type", "content-length"}
    assert stored["requestHeaders"] == [{"name": "content-type", "value": "application/json"}]
    assert stored["requestMethod"] == "PUT" and stored["requestPath"] == "/items?a=1&b=two"


def test_default_method_is_post(env: dict[str, Any]) -> None:
    execution = run(env, "/")
    assert json.loads(execution["responseBody"])["method"] == "POST"
    assert execution["requestMethod"] == "POST"


def test_text_redirect_empty(env: dict[str, Any]) -> None:
    assert run(env, "/text?name=ann")["responseBody"] == "plain hello ann"
    redirect = run(env, "/redirect")
    assert redirect["responseStatusCode"] == 302
    assert {"name": "location", "value": "https://appwrite.io/docs"} in redirect["responseHeaders"]
    empty = run(env, "/empty")
    assert (empty["responseStatusCode"], empty["responseBody"], empty["status"]) == (204, "", "completed")


def test_async_handler_awaits(env: dict[str, Any]) -> None:
    execution = run(env, "/sleep?s=0.05")
    assert execution["responseBody"] == "woke up"


def test_logs_and_errors(env: dict[str, Any]) -> None:
    execution = run(env, "/logs")
    assert execution["responseBody"] == "logged"
    assert 'a log line {"n":1}\n' in execution["logs"]
    assert "printed natively" in execution["logs"]
    assert execution["errors"] == "an error line\n"


def test_environment_has_variables_not_server_secrets(env: dict[str, Any]) -> None:
    seen = json.loads(run(env, "/env")["responseBody"])
    assert seen["MY_VAR"] == "my value"
    assert seen["APPWRITE_FUNCTION_ID"] == "api"
    assert seen["APPWRITE_FUNCTION_NAME"] == "api"
    assert seen["APPWRITE_FUNCTION_DEPLOYMENT"] == env["functions"].get("api")["deployment"]
    assert seen["APPWRITE_FUNCTION_PROJECT_ID"] == "test"
    assert seen["APPWRITE_FUNCTION_RUNTIME_NAME"] == "Python"
    assert seen["APPWRITE_FUNCTION_RUNTIME_VERSION"] == "3.12"
    assert seen["APPWRITE_FUNCTION_API_ENDPOINT"] == env["server"].endpoint
    assert seen["FNSYNC_SERVER_SECRET"] is None
    assert Path(seen["cwd"]).name == "code"


def test_thrown_error_fails_the_execution(env: dict[str, Any]) -> None:
    execution = run(env, "/throw")
    assert (execution["status"], execution["responseStatusCode"]) == ("failed", 500)
    assert "RuntimeError: thrown on purpose" in execution["errors"]


def test_missing_return(env: dict[str, Any]) -> None:
    execution = run(env, "/none")
    assert execution["status"] == "failed"
    assert "Return statement missing" in execution["errors"]


@pytest.mark.parametrize("path", ["/sleep?s=60", "/spin"])
def test_timeout_kills_the_process(env: dict[str, Any], path: str) -> None:
    run(env, "/")
    before = _host_pids(env, "api")  # functions run in a PID namespace: the host pids come from the executor
    execution = run(env, path)
    assert (execution["status"], execution["responseStatusCode"]) == ("failed", 500)
    assert "timed out" in execution["errors"]
    assert execution["duration"] < 10
    assert [pid for pid in before if _gone(pid)]  # the warm worker that ran it is gone ...
    assert run(env, "/")["status"] == "completed"  # ... and a fresh one serves the next call


def test_infinite_output_is_capped(env: dict[str, Any]) -> None:
    execution = run(env, "/flood")
    assert execution["status"] == "failed"
    assert "timed out" in execution["errors"]
    assert len(execution["logs"]) <= LOG_LIMIT


def test_crash_never_harms_the_server(env: dict[str, Any]) -> None:
    execution = run(env, "/exit")
    assert execution["status"] == "failed"
    assert "exited unexpectedly (exit code 3)" in execution["errors"]
    assert run(env, "/text")["status"] == "completed"


def test_warm_worker_is_reused(env: dict[str, Any]) -> None:
    run(env, "/")
    first = _host_pids(env, "api")
    run(env, "/")
    assert first and _host_pids(env, "api") == first


def test_new_deployment_replaces_the_worker(env: dict[str, Any]) -> None:
    functions = env["functions"]
    create_and_deploy(functions, "swap", RUNTIME, "python-misc", "main.py")
    first = json.loads(functions.create_execution("swap")["responseBody"])
    again = json.loads(functions.create_execution("swap")["responseBody"])
    assert first == again and first["version"] == "v1"
    old = _host_pids(env, "swap")
    replaced = 'import os\n\ndef main(context):\n    return context.res.json({"version": "v2", "pid": os.getpid()})\n'
    deploy(functions, "swap", "python-misc", "main.py", replace={"main.py": replaced})
    second = json.loads(functions.create_execution("swap")["responseBody"])
    assert second["version"] == "v2"
    assert old and not set(old) & set(_host_pids(env, "swap"))
    assert all(_gone(pid) for pid in old)


def test_variable_change_restarts_the_worker(env: dict[str, Any]) -> None:
    functions = env["functions"]
    run(env, "/")
    before = _host_pids(env, "api")
    variable_id = functions.list_variables("api")["variables"][0]["$id"]
    variable = functions.update_variable("api", variable_id, "MY_VAR", "changed")
    try:
        after = json.loads(run(env, "/env")["responseBody"])
        assert after["MY_VAR"] == "changed"
        run(env, "/")
        assert not set(before) & set(_host_pids(env, "api"))
    finally:
        functions.update_variable("api", variable["$id"], "MY_VAR", "my value")


def test_runtime_settings_change_retires_the_worker(env: dict[str, Any]) -> None:
    """As Appwrite destroys the warm runtime: a new specification, runtime or timeout cold-starts the next run."""
    functions = env["functions"]
    executor = app_context(env["runner"]).services["executions"].executor
    create_and_deploy(functions, "resize", RUNTIME, "python-misc", "main.py")

    def pid() -> int:
        functions.create_execution("resize")
        (host_pid,) = executor.worker_pids("resize")
        return host_pid

    warm = pid()
    functions.update("resize", "resize", timeout=15)  # nothing the runtime depends on changed
    assert pid() == warm and executor.worker_pids("resize") == [warm]
    for change in ({"specification": "s-1vcpu-1gb"}, {"timeout": 20}, {"runtime": "python-3.11", "timeout": 20}):
        settings = {"specification": "s-1vcpu-1gb", "timeout": 15, **change}
        functions.update("resize", "resize", **settings)
        assert executor.worker_pids("resize") == []
        with pytest.raises(ProcessLookupError):
            os.kill(warm, 0)  # gone as soon as the update answered, not at the next execution
        fresh = pid()
        assert fresh != warm
        warm = fresh
    functions.delete("resize")
    assert executor.worker_pids("resize") == []
    with pytest.raises(ProcessLookupError):
        os.kill(warm, 0)
