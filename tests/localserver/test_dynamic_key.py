"""The `x-appwrite-key` an execution receives: a function can call back into the server with it, within its
`scopes` only, in its own project only, and never after the server that minted it has restarted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localserver.keys import DynamicKeys, is_dynamic
from tests.conftest import LocalServer
from tests.functions.deploy import create_and_deploy
from tests.functions.harness import app_context, sdk, server_at

RUNTIME = "python-3.12"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with server_at(tmp_path_factory.mktemp("dynamic") / "data") as (server, runner):
        functions = sdk(server)
        create_and_deploy(functions, "caller", RUNTIME, "python-callback", "main.py", scopes=["functions.read"])
        yield {"server": server, "runner": runner, "functions": functions}


def call_back(functions: Any, function_id: str = "caller") -> dict[str, Any]:
    """Run the function; returns what its own GET /v1/functions got, and the key it used."""
    execution = functions.create_execution(function_id)
    assert execution["status"] == "completed", execution["errors"]
    return {**json.loads(execution["responseBody"]), "execution": execution}


def with_key(server: LocalServer, key: str, project: str | None = None) -> httpx.Client:
    headers = {"X-Appwrite-Project": project or server.project, "X-Appwrite-Key": key}
    return httpx.Client(base_url=server.endpoint, headers=headers, timeout=30)


def denied(response: httpx.Response, error_type: str, message: str | None = None) -> bool:
    body = response.json()
    assert response.status_code == 401, response.text
    assert body["type"] == error_type, body
    if message is not None:
        assert body["message"] == message
    return True


def test_function_calls_back_within_its_scope(env: dict[str, Any]) -> None:
    seen = call_back(env["functions"])
    assert seen["status"] == 200, seen["body"]
    assert [f["$id"] for f in seen["body"]["functions"]] == ["caller"]
    assert is_dynamic(seen["key"]) and seen["key"] != env["server"].api_key
    # the key is neither stored with the execution nor listed in its request headers
    stored = app_context(env["runner"]).store.get("executions", seen["execution"]["$id"])
    assert seen["key"] not in json.dumps(stored)
    assert "x-appwrite-key" not in {h["name"] for h in seen["execution"]["requestHeaders"]}


def test_each_execution_gets_its_own_key(env: dict[str, Any]) -> None:
    assert call_back(env["functions"])["key"] != call_back(env["functions"])["key"]


def test_key_is_limited_to_the_function_scopes(env: dict[str, Any]) -> None:
    server = env["server"]
    key = call_back(env["functions"])["key"]
    before = env["functions"].list()
    with with_key(server, key) as client:
        assert client.get("/functions/caller").status_code == 200
        app = "app.test@service.127.0.0.1 (role: applications)"
        assert denied(client.post("/functions", json={"functionId": "x", "name": "X", "runtime": RUNTIME}),
                      "general_unauthorized_scope", f"{app} missing scope (functions.write)")
        assert denied(client.delete("/functions/caller"), "general_unauthorized_scope", f"{app} missing scope (functions.write)")
        assert denied(client.post("/functions/caller/executions", json={}), "general_unauthorized_scope", f"{app} missing scope (execution.write)")
        assert denied(client.get("/functions/caller/executions"), "general_unauthorized_scope", f"{app} missing scope (execution.read)")
    assert env["functions"].list() == before


def test_call_back_is_refused_without_the_scope(env: dict[str, Any]) -> None:
    functions = env["functions"]
    functions.update("caller", "caller", scopes=[])  # a full replacement: scopes back to none
    try:
        seen = call_back(functions)
        assert seen["status"] == 401
        assert seen["body"]["type"] == "general_unauthorized_scope"
        assert seen["body"]["message"] == "app.test@service.127.0.0.1 (role: applications) missing scope (functions.read)"
    finally:
        functions.update("caller", "caller", scopes=["functions.read"])
    assert call_back(functions)["status"] == 200


def test_unknown_expired_and_foreign_keys_are_refused(env: dict[str, Any]) -> None:
    server = env["server"]
    keys = app_context(env["runner"]).keys
    for key in ("dynamic_never-minted", keys.mint("test", "caller", ["functions.read"], ttl=0)):
        with with_key(server, key) as client:
            assert denied(client.get("/functions"), "project_key_expired")
    foreign = keys.mint("elsewhere", "caller", ["functions.read"], ttl=60)
    with with_key(server, foreign) as client:
        assert denied(client.get("/functions"), "general_unauthorized_scope", "User (role: guests) missing scope (functions.read)")
    with with_key(server, foreign, project="elsewhere") as client:
        response = client.get("/functions")
        assert (response.status_code, response.json()["type"]) == (404, "project_not_found")


def test_key_dies_with_the_server_that_minted_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with server_at(data) as (server, _):
        functions = sdk(server)
        create_and_deploy(functions, "caller", RUNTIME, "python-callback", "main.py", scopes=["functions.read"])
        key = call_back(functions)["key"]
        with with_key(server, key) as client:
            assert client.get("/functions").status_code == 200
    with server_at(data) as (server, _):
        with with_key(server, key) as client:
            assert denied(client.get("/functions"), "project_key_expired")
        assert call_back(sdk(server))["status"] == 200  # a fresh execution gets a fresh, valid key


def test_keys_expire_and_are_forgotten() -> None:
    now = [100.0]
    keys = DynamicKeys(clock=lambda: now[0])
    key = keys.mint("p", "fn", ["functions.read"], ttl=15)
    grant = keys.grant(key)
    assert grant is not None and grant.scopes == {"functions.read"} and grant.project_id == "p"
    assert keys.grant(key + "x") is None and keys.grant(key.upper()) is None
    now[0] += 15
    assert keys.grant(key) is None
    keys.mint("p", "fn", [], ttl=15)
    assert len(keys) == 1  # the expired grant was dropped when the next key was minted
