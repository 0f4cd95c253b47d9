"""Each emulated version answers in its own shapes and with its own facts (NEWER-SERVERS.md), via raw HTTP.

Replies without a response format (or with the server's own) are the server's native models; older formats
go through the filters (see test_old_sdk_on_1_9_6.py for the 1.6 client on 1.9.6).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from localserver.__main__ import local_server as local_server_command
from localserver.config import ServerConfig
from tests.judges import specs
from tests.localserver.support import api_client, deployment_status, post_deployment, post_function, running_server
from tests.helpers import wait_until

pytestmark = pytest.mark.slow

F16 = {"X-Appwrite-Response-Format": "1.6.0"}
F18 = {"X-Appwrite-Response-Format": "1.8.0"}
F195 = {"X-Appwrite-Response-Format": "1.9.5"}
F25 = {"X-Appwrite-Response-Format": "2.5.0"}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """serve(version, **config) -> raw httpx client of a fresh server answering as `version`."""
    opened: list[Any] = []

    def start(version: str, **config: Any) -> httpx.Client:
        context = running_server(tmp_path / f"{version}-{len(opened)}", appwrite_version=version, **config)
        server, _ = context.__enter__()
        client = api_client(server)
        opened.append((context, client))
        client.server = server  # type: ignore[attr-defined]
        return client

    yield start
    for context, client in reversed(opened):
        client.close()
        context.__exit__(None, None, None)


@pytest.mark.parametrize("version", ["1.5.0", "1.6.2", "1.8.1", "1.9.6", "2.5.0"])
def test_health_and_errors_report_the_version(serve: Any, version: str) -> None:
    raw = serve(version)
    assert httpx.get(f"{raw.server.endpoint}/health/version").json() == {"version": version}
    for headers in ({}, F16, F25):
        body = raw.get("/functions/nope", headers=headers).json()
        assert (body["type"], body["version"]) == ("function_not_found", version)


def test_native_1_8_1_models_match_the_1_8_spec(serve: Any) -> None:
    raw = serve("1.8.1")
    for headers in ({}, F18):
        post_function(raw, f"fn{len(headers)}", "python-3.12", headers=headers, specification="s-1vcpu-1gb")
    variable = raw.post("/functions/fn0/variables", json={"key": "T", "value": "v"}).json()
    specs.check(variable, "variable", "1.8")
    assert (variable["secret"], variable["value"]) == (True, "")  # secret by default since 1.7.0
    deployment = post_deployment(raw, "fn0")
    specs.check(deployment, "deployment", "1.8")
    wait_until(lambda: deployment_status(raw, deployment["$id"], "fn0") == "ready", timeout=60, what="build")
    function = raw.get("/functions/fn0").json()
    specs.check(function, "function", "1.8")
    assert function["deploymentId"] == function["latestDeploymentId"] == deployment["$id"] and function["version"] == "v5"
    assert function["specification"] == "s-1vcpu-1gb" and function["latestDeploymentStatus"] == "ready"
    for path, schema in (("/functions", "functionList"), ("/functions/fn0/variables", "variableList"), ("/functions/fn0/deployments", "deploymentList")):
        specs.check(raw.get(path).json(), schema, "1.8")
    execution = raw.post("/functions/fn0/executions", json={"method": "HEAD"}).json()  # HEAD since 1.8.0
    specs.check(execution, "execution", "1.8")
    assert execution["deploymentId"] == deployment["$id"]


def test_1_6_2_has_no_1_7_paths_and_answers_1_6_replies(serve: Any) -> None:
    raw = serve("1.6.2")
    post_function(raw, "fn", "python-3.12")
    deployment = post_deployment(raw, "fn")
    assert deployment["status"] == "" and "sourceSize" not in deployment
    for method, path in (("PATCH", "/functions/fn/deployment"), ("POST", "/functions/fn/deployments/duplicate"),
                         ("PATCH", f"/functions/fn/deployments/{deployment['$id']}/status")):
        assert raw.request(method, path, json={"deploymentId": deployment["$id"]}).json()["type"] == "general_route_not_found"
    wait_until(lambda: deployment_status(raw, deployment["$id"]) == "ready", timeout=60, what="build")
    rebuilt = raw.post(f"/functions/fn/deployments/{deployment['$id']}/build")
    assert rebuilt.status_code == 204 and rebuilt.content == b""
    latest = raw.get("/functions/fn/deployments").json()["deployments"][-1]
    canceled = raw.patch(f"/functions/fn/deployments/{latest['$id']}/build").json()
    assert canceled["deploymentId"] == latest["$id"] and "stdout" in canceled  # the Build model
    assert raw.get("/functions/runtimes").json()["total"] == 59  # the key may list runtimes on 1.6
    duplicate = raw.post("/functions", json={"functionId": "fn", "name": "Fn", "runtime": "python-3.12"}).json()
    assert duplicate["type"] == "document_already_exists"


def test_1_8_1_update_without_specification_takes_the_largest(serve: Any) -> None:
    raw = serve("1.8.1")
    post_function(raw, "fn", "python-3.12", specification="s-1vcpu-1gb")
    assert raw.put("/functions/fn", json={"name": "Fn"}).json()["specification"] == "s-8vcpu-8gb"


def test_1_6_2_update_without_specification_takes_the_fixed_default(serve: Any) -> None:
    raw = serve("1.6.2")
    post_function(raw, "fn", "python-3.12", specification="s-1vcpu-1gb")
    assert raw.put("/functions/fn", json={"name": "Fn"}).json()["specification"] == "s-1vcpu-512mb"


def test_v21_response_on_1_8_format_shows_the_build_spec(serve: Any) -> None:
    raw = serve("1.9.6")
    post_function(raw, "fn", "python-3.12", buildSpecification="s-2vcpu-2gb", runtimeSpecification="s-1vcpu-1gb")
    old = raw.get("/functions/fn", headers=F18).json()
    assert old["specification"] == "s-2vcpu-2gb" and "runtimeSpecification" not in old and "deploymentId" in old


def test_v27_older_formats_see_function_id_on_cloud(serve: Any) -> None:
    raw = serve("2.5.0")
    post_function(raw, "fn", "python-3.12", execute=["any"])
    deployment = post_deployment(raw, "fn")
    wait_until(lambda: deployment_status(raw, deployment["$id"]) == "ready", timeout=60, what="build")
    native = raw.post("/functions/fn/executions", json={}).json()
    assert (native["resourceId"], native["resourceType"]) == ("fn", "functions") and "functionId" not in native
    for headers in (F195, F16):
        old = raw.get(f"/functions/fn/executions/{native['$id']}", headers=headers).json()
        assert old["functionId"] == "fn" and "resourceId" not in old and "resourceType" not in old
    listed = raw.get("/functions/fn/executions", headers=F195).json()["executions"]
    assert [e["functionId"] for e in listed] == ["fn"]


def test_cloud_2_5_fields_and_rules(serve: Any) -> None:
    raw = serve("2.5.0")
    created = post_function(raw, "fn", "node-26", description="about", interval=15)
    assert (created["description"], created["interval"], created["emailEnabled"]) == ("about", 15, False)
    both = raw.put("/functions/fn", json={"name": "Fn", "interval": 5, "schedule": "* * * * *"})
    assert both.status_code == 400
    kept = raw.put("/functions/fn", json={"name": "Fn"}).json()
    assert kept["interval"] == 15  # kept unless a schedule is set
    cleared = raw.put("/functions/fn", json={"name": "Fn", "schedule": "0 * * * *"}).json()
    assert cleared["interval"] is None and cleared["schedule"] == "0 * * * *"
    bad_key = raw.post("/functions/fn/variables", json={"variableId": "unique()", "key": "1-bad", "value": "v"})
    assert bad_key.status_code == 400 and "letters, digits and underscores" in bad_key.json()["message"]
    good = raw.post("/functions/fn/variables", json={"variableId": "v1", "key": "GOOD_1", "value": "v", "description": "d"}).json()
    assert (good["$id"], good["description"], good["secret"]) == ("v1", "d", True)


def test_1_9_6_ignores_cloud_params(serve: Any) -> None:
    raw = serve("1.9.6")
    created = post_function(raw, "fn", "python-3.12", description="about", interval=15)
    assert "description" not in created and "interval" not in created


@pytest.mark.parametrize("version", ["1.6.2", "1.9.6"])
def test_function_creation_limit(serve: Any, version: str) -> None:
    raw = serve(version, creation_abuse_limit=2)
    first = raw.post("/functions", json={"functionId": "a", "name": "A", "runtime": "python-3.12"})
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "2")
    reset = int(first.headers["X-RateLimit-Reset"])
    assert reset % 86400 == 0
    raw.post("/functions", json={"functionId": "b", "name": "B", "runtime": "python-3.12"})
    third = raw.post("/functions", json={"functionId": "c", "name": "C", "runtime": "python-3.12"})
    assert (third.status_code, third.json()["type"]) == (429, "general_rate_limit_exceeded")
    assert third.headers["X-RateLimit-Remaining"] == "0" and int(third.headers["X-RateLimit-Reset"]) == reset
    assert "Retry-After" not in third.headers
    assert raw.get("/functions").json()["total"] == 2


def test_no_limit_unless_asked(serve: Any) -> None:
    raw = serve("1.9.6")
    created = raw.post("/functions", json={"functionId": "a", "name": "A", "runtime": "python-3.12"})
    assert created.status_code == 201 and "X-RateLimit-Limit" not in created.headers


def test_command_line_limit_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    from localserver.__main__ import creation_limit

    monkeypatch.delenv("_APP_OPTIONS_ABUSE", raising=False)
    monkeypatch.delenv("_APP_FUNCTIONS_CREATION_ABUSE_LIMIT", raising=False)
    assert creation_limit(False) == 50 and creation_limit(True) is None
    monkeypatch.setenv("_APP_FUNCTIONS_CREATION_ABUSE_LIMIT", "7")
    assert creation_limit(False) == 7
    monkeypatch.setenv("_APP_OPTIONS_ABUSE", "disabled")
    assert creation_limit(False) is None


def test_variables_page_and_query_on_1_9_6_but_not_1_8_1(serve: Any) -> None:
    for version, listed in (("1.9.6", 25), ("1.8.1", 30)):
        raw = serve(version)
        post_function(raw, "fn", "python-3.12")
        for index in range(30):
            raw.post("/functions/fn/variables", json={"variableId": "unique()", "key": f"K{index}", "value": "v", "secret": index % 2 == 0})
        page = raw.get("/functions/fn/variables").json()
        assert (page["total"], len(page["variables"])) == (30, listed)
    secrets = raw.get("/functions/fn/variables", params={"queries[]": '{"method":"equal","attribute":"secret","values":[true]}'})
    assert secrets.json()["total"] == 30  # 1.8.1 ignores queries on variables


def test_1_9_6_variable_update_needs_something_to_change(serve: Any) -> None:
    raw = serve("1.9.6")
    post_function(raw, "fn", "python-3.12")
    variable = raw.post("/functions/fn/variables", json={"variableId": "v", "key": "K", "value": "1", "secret": True}).json()
    assert raw.put("/functions/fn/variables/v", json={}).json()["type"] == "general_argument_invalid"
    unset = raw.put("/functions/fn/variables/v", json={"secret": False})
    assert unset.json()["type"] == "variable_cannot_unset_secret"
    renamed = raw.put("/functions/fn/variables/v", json={"key": "K2"}).json()  # key alone (1.9.5+), value kept
    assert (renamed["key"], renamed["secret"], variable["$id"]) == ("K2", True, "v")
    assert raw.put("/functions/fn/variables/v", json={"value": "2"}).status_code == 200


def test_unknown_versions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="can emulate Appwrite"):
        ServerConfig(data_dir=tmp_path, api_key="k", appwrite_version="2.0.0")
    result = CliRunner().invoke(local_server_command, ["--appwrite-version", "9.9.9", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "9.9.9" in result.output
    shown = CliRunner().invoke(local_server_command, ["--help"]).output
    assert "--appwrite-version" in shown and "--no-abuse-limit" in shown and "--emulate-version" not in shown
