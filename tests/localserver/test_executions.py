"""The executions endpoints as Appwrite 1.6.2 has them: create (sync/async/scheduled), list, get, delete, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from appwrite.exception import AppwriteException
from appwrite.query import Query

from localserver.clock import format_iso
from tests.functions.deploy import create_and_deploy, deploy
from tests.functions.harness import app_context, finished, sdk, server_at
from tests.helpers import SPEC_16, openapi_spec, wait_until


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with server_at(tmp_path_factory.mktemp("exec") / "data") as (server, runner):
        functions = sdk(server)
        functions.create("api", "api", "python-3.12", entrypoint="src/main.py", timeout=5)
        deploy(functions, "api", "python-api", "src/main.py")
        yield {"server": server, "runner": runner, "functions": functions, "guest": sdk(server, key=False)}


def error_of(call: Any) -> AppwriteException:
    with pytest.raises(AppwriteException) as info:
        call()
    return info.value


def test_async_execution_proceeds(env: dict[str, Any]) -> None:
    functions = env["functions"]
    created = functions.create_execution("api", path="/text", xasync=True)
    assert created["status"] == "waiting" and created["responseBody"] == "" and created["trigger"] == "http"
    done = finished(functions, "api", created["$id"])
    assert (done["status"], done["responseStatusCode"], done["responseBody"]) == ("completed", 200, "")


def test_async_accepts_loose_booleans(env: dict[str, Any]) -> None:
    response = httpx.post(f"{env['server'].endpoint}/functions/api/executions", json={"async": "1", "path": "/text"},
                          headers={"x-appwrite-project": "test", "x-appwrite-key": env["server"].api_key})
    assert response.status_code == 202 and response.json()["status"] == "waiting"


def test_delete_in_progress_then_finished(env: dict[str, Any]) -> None:
    functions = env["functions"]
    running = functions.create_execution("api", path="/sleep?s=1", xasync=True)
    wait_until(lambda: functions.get_execution("api", running["$id"])["status"] == "processing", what="processing")
    error = error_of(lambda: functions.delete_execution("api", running["$id"]))
    assert (error.code, error.type) == (400, "execution_in_progress")
    finished(functions, "api", running["$id"])
    functions.delete_execution("api", running["$id"])
    assert error_of(lambda: functions.get_execution("api", running["$id"])).type == "execution_not_found"


def test_list_queries_and_search(env: dict[str, Any]) -> None:
    functions = env["functions"]
    ok = functions.create_execution("api", path="/text", method="GET")
    bad = functions.create_execution("api", path="/throw")
    failed = functions.list_executions("api", [Query.equal("status", "failed"), Query.limit(100)])
    assert bad["$id"] in {e["$id"] for e in failed["executions"]} and ok["$id"] not in {e["$id"] for e in failed["executions"]}
    by_method = functions.list_executions("api", [Query.equal("requestMethod", "GET")])
    assert {e["requestMethod"] for e in by_method["executions"]} == {"GET"}
    codes = functions.list_executions("api", [Query.greater_than_equal("responseStatusCode", 500)])
    assert all(e["responseStatusCode"] >= 500 for e in codes["executions"]) and codes["total"] >= 1
    deployment = functions.get("api")["deployment"]
    assert functions.list_executions("api", [Query.equal("deploymentId", deployment)])["total"] >= 2
    assert functions.list_executions("api", search=ok["$id"])["executions"][0]["$id"] == ok["$id"]
    assert error_of(lambda: functions.list_executions("api", [Query.equal("body", "x")])).type == "general_argument_invalid"
    assert error_of(lambda: functions.list_executions("nope")).type == "function_not_found"


def test_bad_params(env: dict[str, Any]) -> None:
    functions = env["functions"]
    assert error_of(lambda: functions.create_execution("api", method="TRACE")).message.startswith("Invalid `method` param: Value must be one of (GET")
    assert error_of(lambda: functions.create_execution("api", headers={"x-appwrite-key": "no"})).type == "general_argument_invalid"
    assert error_of(lambda: functions.create_execution("api", headers={"bad key": "v"})).type == "general_argument_invalid"
    assert error_of(lambda: functions.create_execution("api", path="")).message.startswith("Invalid `path` param")
    sync_scheduled = error_of(lambda: functions.create_execution("api", scheduled_at="2099-01-01T00:00:00.000+00:00"))
    assert (sync_scheduled.code, sync_scheduled.type) == (400, "general_bad_request")
    with_seconds = error_of(lambda: functions.create_execution("api", xasync=True, scheduled_at="2099-01-01T00:00:30.000+00:00"))
    assert with_seconds.type == "general_bad_request"
    too_soon = error_of(lambda: functions.create_execution("api", xasync=True, scheduled_at=format_iso(app_context(env["runner"]).services["scheduler"].clock.now())))
    assert too_soon.type == "general_bad_request"
    assert error_of(lambda: functions.create_execution("bad id!")).type == "general_argument_invalid"
    assert error_of(lambda: functions.create_execution("missing")).type == "function_not_found"
    before = functions.list_executions("api", [Query.limit(1)])["total"]
    assert functions.list_executions("api", [Query.limit(1)])["total"] == before


def test_scheduled_execution_is_stored_and_deletable(env: dict[str, Any]) -> None:
    functions = env["functions"]
    when = (app_context(env["runner"]).services["scheduler"].clock.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    created = functions.create_execution("api", xasync=True, scheduled_at=when.isoformat())
    assert (created["status"], created["trigger"], created["scheduledAt"]) == ("scheduled", "schedule", format_iso(when))
    functions.delete_execution("api", created["$id"])
    assert error_of(lambda: functions.get_execution("api", created["$id"])).type == "execution_not_found"


def test_no_active_deployment(env: dict[str, Any]) -> None:
    functions = env["functions"]
    functions.create("empty", "empty", "python-3.12", entrypoint="main.py")
    error = error_of(lambda: functions.create_execution("empty"))
    assert (error.code, error.type) == (404, "deployment_not_found")


def test_roles_for_callers_without_a_key(env: dict[str, Any]) -> None:
    functions, guest = env["functions"], env["guest"]
    error = error_of(lambda: guest.create_execution("api", path="/text"))
    assert (error.code, error.type) == (401, "user_unauthorized")
    create_and_deploy(functions, "public", "python-3.12", "python-api", "src/main.py", execute=["any"])
    execution = guest.create_execution("public", path="/logs")
    assert execution["responseBody"] == "logged"
    assert execution["logs"] == "" and execution["errors"] == ""  # sensitive for non-key callers
    assert guest.list_executions("public")["total"] == 0  # guests read nothing of a key-less project
    assert error_of(lambda: guest.get_execution("public", execution["$id"])).type == "execution_not_found"
    assert "a log line" in functions.get_execution("public", execution["$id"])["logs"]
    assert error_of(lambda: guest.delete_execution("public", execution["$id"])).type == "general_unauthorized_scope"
    functions.update("public", "public", execute=["any"], enabled=False, entrypoint="src/main.py")
    assert error_of(lambda: guest.create_execution("public")).type == "function_not_found"
    assert functions.create_execution("public", path="/text")["status"] == "completed"  # keys still run disabled functions


def test_logging_off_drops_logs(env: dict[str, Any]) -> None:
    functions = env["functions"]
    create_and_deploy(functions, "quiet", "python-3.12", "python-api", "src/main.py", logging=False)
    execution = functions.create_execution("quiet", path="/logs")
    assert execution["responseBody"] == "logged" and execution["logs"] == "" and execution["errors"] == ""
    assert functions.create_execution("quiet", path="/throw")["errors"] == ""


def test_unsupported_runtime_fails_clearly(env: dict[str, Any]) -> None:
    functions = env["functions"]
    functions.create("ruby", "ruby", "ruby-3.3", entrypoint="main.rb")
    from appwrite.input_file import InputFile
    from tests.functions.deploy import archive

    deployment = functions.create_deployment("ruby", InputFile.from_bytes(archive("python-misc", {"main.rb": "x"}), "code.tar.gz"), True, entrypoint="main.rb")
    wait_until(lambda: functions.get("ruby")["deployment"] == deployment["$id"], timeout=30, what="ruby activation")
    execution = functions.create_execution("ruby")
    assert (execution["status"], execution["responseStatusCode"]) == ("failed", 500)
    assert 'Runtime "ruby-3.3" cannot run on the local server' in execution["errors"]


def test_sync_cap_gives_408_and_stores_failure(env: dict[str, Any]) -> None:
    functions = env["functions"]
    create_and_deploy(functions, "long", "python-3.12", "python-api", "src/main.py", timeout=120)
    service = app_context(env["runner"]).services["executions"]
    service.sync_timeout = 0.5  # stands in for Appwrite's 30 s
    try:
        error = error_of(lambda: functions.create_execution("long", path="/sleep?s=30"))
    finally:
        service.sync_timeout = 30.0
    assert (error.code, error.type) == (408, "function_synchronous_timeout")
    stored = functions.list_executions("long")["executions"]
    assert [e["status"] for e in stored] == ["failed"]


def test_response_model_matches_spec(env: dict[str, Any]) -> None:
    schema = openapi_spec(SPEC_16)["components"]["schemas"]["execution"]
    execution = env["functions"].create_execution("api", path="/text")
    assert list(execution) == list(schema["properties"])


def test_fnsync_exec_prints_status_headers_and_body(env: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from syncer.cli import cli

    server = env["server"]
    environ = {"APPWRITE_ENDPOINT": server.endpoint, "APPWRITE_PROJECT_ID": server.project, "APPWRITE_API_KEY": server.api_key, "NO_COLOR": "1"}
    monkeypatch.chdir(tmp_path)  # no functions.yaml here: exec needs no manifest when the connection is in the environment
    args = ["exec", "api", "-X", "put", "-p", "/?x=1", "-d", '{"a":1}', "-H", "content-type: application/json"]
    result = CliRunner().invoke(cli, args, env=environ)
    assert result.exit_code == 0, result.output
    assert "completed 201" in result.output
    assert "x-custom: yes" in result.output
    body = json.loads(result.output.strip().splitlines()[-1])
    assert (body["method"], body["query"], body["body"]) == ("PUT", {"x": "1"}, {"a": 1})
    assert server.api_key not in result.output
    queued = CliRunner().invoke(cli, ["exec", "api", "--async"], env=environ)
    assert queued.exit_code == 0 and "waiting" in queued.output
    failed = CliRunner().invoke(cli, ["exec", "api", "-p", "/throw"], env=environ)
    assert failed.exit_code == 1 and "failed 500" in failed.output
    bad = CliRunner().invoke(cli, ["exec", "api", "-H", "nocolon"], env=environ)
    assert bad.exit_code != 0 and "NAME:VALUE" in bad.output
    # A manifest named explicitly must exist: a typo is an error, not a silent run without it.
    missing = CliRunner().invoke(cli, ["exec", "api", "-f", str(tmp_path / "none.yaml")], env=environ)
    assert missing.exit_code == 1 and "manifest not found" in missing.output
