"""The emulation test switch (`ServerConfig.emulate_version`): 1.8-shaped answers checked against the 1.8.1 spec.

A 1.8 server answers 1.8 models to new-format (or header-less) requests and 1.6 shapes to
`X-Appwrite-Response-Format: 1.6.0`; old paths keep working with 1.8's rebuild/cancel replies.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from localserver.__main__ import local_server as local_server_command
from localserver.config import ServerConfig
from tests.conftest import LocalServer
from tests.helpers import SPEC_18, openapi_spec, wait_until
from tests.localserver import test_spec_shapes as spec16
from tests.localserver.support import api_client, deployment_status, make_archive, post_deployment, post_function, running_server

OLD = {"X-Appwrite-Response-Format": "1.6.0"}
NEW = {"X-Appwrite-Response-Format": "1.8.0"}


@cache
def schemas18() -> dict[str, Any]:
    spec = openapi_spec(SPEC_18)
    assert spec["info"]["version"] == "1.8.1"
    return spec["components"]["schemas"]


def check18(value: Any, name: str, where: str = "") -> None:
    """Exactly the schema's properties (required ones always; optional ones tolerated), each of its JSON type."""
    _check(value, schemas18()[name], where or name)


def _check(value: Any, schema: dict[str, Any], where: str) -> None:
    if "$ref" in schema:
        schema = schemas18()[schema["$ref"].rsplit("/", 1)[1]]
    if "properties" in schema:
        assert isinstance(value, dict), where
        required = set(schema.get("required", schema["properties"]))
        assert required <= set(value) <= set(schema["properties"]), f"{where}: {sorted(set(value) ^ required)}"
        for key, prop in schema["properties"].items():
            if key in value:
                _check(value[key], prop, f"{where}.{key}")
        return
    kind = schema.get("type")
    if kind is None:
        return
    allowed = spec16.JSON_TYPES[kind]
    assert isinstance(value, allowed) and not (kind in ("integer", "number") and isinstance(value, bool)), f"{where}: {value!r}"
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{index}]")
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"


@pytest.fixture
def server18(tmp_path: Path) -> Iterator[LocalServer]:
    with running_server(tmp_path / "data", emulate_version="1.8.1") as (server, _):
        yield server


@pytest.fixture
def raw(server18: LocalServer) -> Iterator[httpx.Client]:
    with api_client(server18) as client:
        yield client


def make_function(raw: httpx.Client) -> None:
    post_function(raw, "fn", "python-3.12", headers=OLD, execute=["any"])


def test_health_and_errors_report_the_emulated_version(server18: LocalServer, raw: httpx.Client) -> None:
    assert httpx.get(f"{server18.endpoint}/health/version").json() == {"version": "1.8.1"}
    for headers in (OLD, NEW):
        body = raw.get("/functions/nope", headers=headers).json()
        assert (body["type"], body["version"]) == ("function_not_found", "1.8.1")


@pytest.mark.parametrize("headers", [{}, NEW], ids=["no-format", "format-1.8.0"])
def test_new_format_answers_match_the_1_8_spec(raw: httpx.Client, headers: dict[str, str]) -> None:
    make_function(raw)
    created = raw.post("/functions/fn/variables", json={"key": "TOKEN", "value": "s3cret"}, headers=headers).json()
    check18(created, "variable")
    assert created["secret"] is True and created["value"] == ""  # 1.8's default for new-format clients
    plain = raw.post("/functions/fn/variables", json={"key": "MODE", "value": "prod", "secret": False}, headers=headers).json()
    assert plain["secret"] is False and plain["value"] == "prod"
    deployment = post_deployment(raw, "fn", headers=headers)
    check18(deployment, "deployment")
    assert deployment["status"] == "waiting" and deployment["sourceSize"] == len(make_archive())
    wait_until(lambda: deployment_status(raw, deployment["$id"], headers=OLD) == "ready", timeout=30, what="build")

    function = raw.get("/functions/fn", headers=headers).json()
    check18(function, "function")
    assert function["deploymentId"] == function["latestDeploymentId"] == deployment["$id"]
    assert function["deploymentCreatedAt"] == deployment["$createdAt"] and function["latestDeploymentStatus"] == "ready"
    assert [(v["key"], v["value"], v["secret"]) for v in function["vars"]] == [("TOKEN", "", True), ("MODE", "prod", False)]
    check18(raw.get("/functions", headers=headers).json(), "functionList")
    check18(raw.get("/functions/fn/variables", headers=headers).json(), "variableList")
    check18(raw.get(f"/functions/fn/variables/{plain['$id']}", headers=headers).json(), "variable")
    listed = raw.get("/functions/fn/deployments", headers=headers).json()
    check18(listed, "deploymentList")
    got = raw.get(f"/functions/fn/deployments/{deployment['$id']}", headers=headers).json()
    check18(got, "deployment")
    assert got["buildDuration"] >= 0 and got["totalSize"] == got["sourceSize"] + got["buildSize"]
    check18(raw.patch(f"/functions/fn/deployments/{deployment['$id']}", headers=headers).json(), "function")
    check18(raw.put("/functions/fn", json={"name": "Fn2", "entrypoint": "main.py"}, headers=headers).json(), "function")


def test_old_format_gets_1_6_shapes(raw: httpx.Client) -> None:
    make_function(raw)
    variable = raw.post("/functions/fn/variables", json={"key": "A", "value": "1", "secret": True}, headers=OLD).json()
    spec16.check(variable, spec16.schemas()["variable"], "variable")
    assert variable["value"] == "1"  # secret is forced false for 1.6-format clients
    deployment = post_deployment(raw, "fn", headers=OLD)
    spec16.check(deployment, spec16.schemas()["deployment"], "deployment")
    for path, schema in (("/functions", "functionList"), ("/functions/fn", "function"), ("/functions/fn/variables", "variableList"), ("/functions/fn/deployments", "deploymentList")):
        spec16.check(raw.get(path, headers=OLD).json(), spec16.schemas()[schema], schema)
    assert raw.get(f"/functions/fn/variables/{variable['$id']}", headers=NEW).json()["secret"] is False


def test_secret_variables_cannot_be_unset_or_read(raw: httpx.Client) -> None:
    make_function(raw)
    secret = raw.post("/functions/fn/variables", json={"key": "T", "value": "v1", "secret": True}, headers=NEW).json()
    url = f"/functions/fn/variables/{secret['$id']}"
    for headers, body in ((NEW, {"key": "T", "secret": False}), (OLD, {"key": "T", "value": "v2"})):
        refused = raw.put(url, json=body, headers=headers)
        assert (refused.status_code, refused.json()["type"]) == (400, "variable_cannot_unset_secret")
    updated = raw.put(url, json={"key": "T", "value": "v3"}, headers=NEW).json()
    assert (updated["secret"], updated["value"]) == (True, "")  # `secret` omitted keeps it
    assert raw.get(url, headers=OLD).json()["value"] == ""  # never readable, in any format
    bad = raw.post("/functions/fn/variables", json={"key": "U", "value": "x", "secret": "yes"}, headers=NEW)
    assert (bad.status_code, bad.json()["message"]) == (400, "Invalid `secret` param: Value must be a valid boolean")
    made = raw.put(f"/functions/fn/variables/{raw.post('/functions/fn/variables', json={'key': 'P', 'value': 'p', 'secret': False}, headers=NEW).json()['$id']}", json={"key": "P", "secret": True}, headers=NEW)
    assert made.json()["secret"] is True


@pytest.mark.parametrize("headers", [OLD, NEW], ids=["format-1.6.0", "format-1.8.0"])
def test_rebuild_cancel_and_duplicate_ids_answer_like_1_8(raw: httpx.Client, headers: dict[str, str]) -> None:
    make_function(raw)
    duplicate = raw.post("/functions", json={"functionId": "fn", "name": "Fn", "runtime": "python-3.12"}, headers=headers)
    assert (duplicate.status_code, duplicate.json()["type"]) == (409, "function_already_exists")
    slow = post_deployment(raw, "fn", commands="sleep 60", headers=OLD)
    wait_until(lambda: deployment_status(raw, slow["$id"], headers=OLD) == "building", timeout=20, what="build to start")
    canceled = raw.patch(f"/functions/fn/deployments/{slow['$id']}/build", headers=headers)
    assert canceled.status_code == 200 and canceled.json()["$id"] == slow["$id"] and canceled.json()["status"] == "canceled"
    rebuilt = raw.post(f"/functions/fn/deployments/{slow['$id']}/build", headers=headers)
    assert rebuilt.status_code == 202 and rebuilt.json()["$id"] != slow["$id"]
    if headers is NEW:
        check18(canceled.json(), "deployment")
        check18(rebuilt.json(), "deployment")
    else:
        spec16.check(canceled.json(), spec16.schemas()["deployment"], "deployment")
        spec16.check(rebuilt.json(), spec16.schemas()["deployment"], "deployment")
    raw.patch(f"/functions/fn/deployments/{rebuilt.json()['$id']}/build")  # stop the copy of `sleep 60` too


def test_old_server_emulation_reports_its_version(tmp_path: Path) -> None:
    with running_server(tmp_path / "old", emulate_version="1.5.0") as (server, _), api_client(server) as client:
        assert httpx.get(f"{server.endpoint}/health/version").json() == {"version": "1.5.0"}
        assert client.get("/functions/x").json()["version"] == "1.5.0"


def test_default_is_1_6_whatever_the_format(local_server: LocalServer) -> None:
    with api_client(local_server) as client:
        client.headers.update(NEW)
        client.post("/functions", json={"functionId": "fn", "name": "Fn", "runtime": "python-3.12"})
        duplicate = client.post("/functions", json={"functionId": "fn", "name": "Fn", "runtime": "python-3.12"}).json()
        assert duplicate["type"] == "document_already_exists" and duplicate["version"] == "1.6.2"
        variable = client.post("/functions/fn/variables", json={"key": "A", "value": "1", "secret": True}).json()
        spec16.check(variable, spec16.schemas()["variable"], "variable")
        spec16.check(client.get("/functions/fn").json(), spec16.schemas()["function"], "function")


def test_unknown_versions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="can emulate Appwrite"):
        ServerConfig(data_dir=tmp_path, api_key="k", emulate_version="2.0.0")
    result = CliRunner().invoke(local_server_command, ["--emulate-version", "9.9.9", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "9.9.9" in result.output
    assert "--emulate-version" not in CliRunner().invoke(local_server_command, ["--help"]).output  # a hidden test switch
