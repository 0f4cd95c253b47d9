"""Functions endpoints through the official SDK (appwrite 7.1.0) and raw HTTP for wire details."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from appwrite.enums.runtime import Runtime
from appwrite.exception import AppwriteException
from appwrite.query import Query

from tests.conftest import LocalServer
from tests.localserver.support import api_client, running_server


@pytest.fixture
def raw(local_server: LocalServer) -> Iterator[httpx.Client]:
    with api_client(local_server) as client:
        yield client


def error_of(call: Any) -> AppwriteException:
    with pytest.raises(AppwriteException) as info:
        call()
    return info.value


FUNCTION_KEYS = [
    "$id", "$createdAt", "$updatedAt", "execute", "name", "enabled", "live", "logging", "runtime", "deployment",
    "scopes", "vars", "events", "schedule", "timeout", "entrypoint", "commands", "version", "installationId",
    "providerRepositoryId", "providerBranch", "providerRootDirectory", "providerSilentMode", "specification",
]


def test_create_returns_201_with_defaults_in_model_order(raw: httpx.Client) -> None:
    response = raw.post("/functions", json={"functionId": "hello", "name": "Hello", "runtime": "python-3.12"})
    assert response.status_code == 201
    body = response.json()
    assert list(body) == FUNCTION_KEYS
    assert body["$id"] == "hello"
    assert body["live"] is True and body["enabled"] is True and body["logging"] is True
    assert (body["deployment"], body["version"], body["timeout"], body["specification"]) == ("", "v4", 15, "s-1vcpu-512mb")
    assert body["execute"] == [] and body["vars"] == [] and body["providerSilentMode"] is False
    assert body["$createdAt"] == body["$updatedAt"] and body["$createdAt"].endswith("+00:00")


def test_sdk_create_get_list_update_delete(appwrite_sdk: Any) -> None:
    created = appwrite_sdk.create(
        "api",
        "API",
        Runtime.NODE_22,
        execute=["any", "user:abc/verified", "team:t1/admin", "label:vip"],
        events=["users.*.create", "databases.*.collections.*.documents.*.update"],
        schedule="*/5 * * * *",
        timeout=60,
        enabled=False,
        logging=False,
        entrypoint="src/main.js",
        commands="npm install",
        scopes=["users.read", "databases.write"],
        specification="s-2vcpu-2gb",
    )
    assert created["runtime"] == "node-22" and created["timeout"] == 60 and created["enabled"] is False
    assert created["execute"] == ["any", "user:abc/verified", "team:t1/admin", "label:vip"]
    fetched = appwrite_sdk.get("api")
    assert fetched == created
    listed = appwrite_sdk.list()
    assert listed["total"] == 1 and listed["functions"][0]["$id"] == "api"
    updated = appwrite_sdk.update("api", "API v2", entrypoint="src/main.js", timeout=30, specification="s-1vcpu-1gb")
    assert updated["name"] == "API v2" and updated["timeout"] == 30 and updated["specification"] == "s-1vcpu-1gb"
    assert updated["$updatedAt"] >= created["$updatedAt"]
    assert appwrite_sdk.delete("api") == b""  # 204: the SDK hands back the empty body
    assert error_of(lambda: appwrite_sdk.get("api")).type == "function_not_found"


def test_unique_id_is_generated(appwrite_sdk: Any) -> None:
    created = appwrite_sdk.create("unique()", "Gen", "python-3.11")
    assert len(created["$id"]) == 20 and created["$id"] != "unique()"


def test_put_is_full_replacement_and_keeps_runtime_and_entrypoint(raw: httpx.Client) -> None:
    raw.post("/functions", json={
        "functionId": "f", "name": "F", "runtime": "python-3.12", "execute": ["any"], "events": ["buckets.*"],
        "schedule": "@daily", "timeout": 99, "enabled": False, "logging": False, "entrypoint": "main.py",
        "commands": "pip install -r requirements.txt", "scopes": ["users.read"], "specification": "s-2vcpu-4gb",
    })
    body = raw.put("/functions/f", json={"name": "F"}).json()
    assert (body["execute"], body["events"], body["schedule"], body["timeout"]) == ([], [], "", 15)
    assert (body["enabled"], body["logging"], body["commands"], body["scopes"]) == (True, True, "", [])
    assert body["specification"] == "s-1vcpu-512mb"
    assert body["runtime"] == "python-3.12" and body["entrypoint"] == "main.py"
    assert raw.get("/functions/f").json() == body


def test_live_flag_rules(raw: httpx.Client) -> None:
    raw.post("/functions", json={"functionId": "f", "name": "F", "runtime": "python-3.12", "entrypoint": "a.py"})
    assert raw.put("/functions/f", json={"name": "F", "timeout": 20}).json()["live"] is True  # no rebuild field changed
    assert raw.put("/functions/f", json={"name": "F", "commands": "make"}).json()["live"] is False
    assert raw.put("/functions/f", json={"name": "F", "commands": "make"}).json()["live"] is True  # no-op PUT flips back
    assert raw.put("/functions/f", json={"name": "F", "commands": "make", "runtime": "python-3.11"}).json()["live"] is False
    assert raw.put("/functions/f", json={"name": "F", "commands": "make"}).json()["live"] is True
    assert raw.put("/functions/f", json={"name": "G", "commands": "make"}).json()["live"] is False
    raw.put("/functions/f", json={"name": "G", "commands": "make"})
    raw.post("/functions/f/variables", json={"key": "K", "value": "v"})
    assert raw.get("/functions/f").json()["live"] is False


def test_duplicate_id_is_409_and_changes_nothing(raw: httpx.Client) -> None:
    first = raw.post("/functions", json={"functionId": "dup", "name": "One", "runtime": "python-3.12"}).json()
    response = raw.post("/functions", json={"functionId": "dup", "name": "Two", "runtime": "node-22"})
    assert response.status_code == 409 and response.json()["type"] == "document_already_exists"
    assert raw.get("/functions/dup").json() == first


BAD_CREATES = [
    ({"name": "x", "runtime": "python-3.12"}, 'Param "functionId" is not optional.'),
    ({"functionId": "_bad", "name": "x", "runtime": "python-3.12"}, "Invalid `functionId` param: Parameter must contain at most 36 chars"),
    ({"functionId": "a" * 37, "name": "x", "runtime": "python-3.12"}, "Invalid `functionId` param:"),
    ({"functionId": "ok", "runtime": "python-3.12"}, 'Param "name" is not optional.'),
    ({"functionId": "ok", "name": "", "runtime": "python-3.12"}, "Invalid `name` param: Value must be a valid string and at least 1 chars and no longer than 128 chars"),
    ({"functionId": "ok", "name": "n" * 129, "runtime": "python-3.12"}, "Invalid `name` param:"),
    ({"functionId": "ok", "name": "x"}, 'Param "runtime" is not optional.'),
    ({"functionId": "ok", "name": "x", "runtime": "python-9"}, "Invalid `runtime` param: Value must be one of (node-14.5,"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "execute": ["*"]}, 'Invalid `execute` param: Wildcard role "*" has been replaced. Use "any" instead.'),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "execute": ["role:all"]}, 'Roles using the "role:" prefix have been removed'),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "execute": ["users:x"]}, 'Role "users" can not have an ID value.'),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "execute": ["user"]}, 'Role "user" must have an ID value.'),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "execute": ["user:a/admin"]}, 'Role "user" dimension value is invalid. Must be one of: unverified, verified.'),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "execute": ["nobody"]}, 'Role "nobody" is not allowed.'),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "execute": ["any"] * 101}, "You can only provide up to 100 roles."),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "events": ["functions.*.create"]}, "Triggering a function on a function event is not allowed."),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "events": ["users.*.explode"]}, "Event is not valid."),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "events": ["nothing"]}, "Event is not valid."),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "schedule": "* * * * * *"}, "Invalid `schedule` param: String must be a valid cron expression"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "schedule": "every day"}, "Invalid `schedule` param:"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "schedule": "@sometimes"}, "Invalid `schedule` param:"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "timeout": 0}, "Invalid `timeout` param: Value must be a valid range between 1 and 900"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "timeout": 901}, "Invalid `timeout` param:"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "timeout": 1.5}, "Invalid `timeout` param:"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "enabled": "true"}, "Invalid `enabled` param: Value must be a valid boolean"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "logging": 1}, "Invalid `logging` param: Value must be a valid boolean"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "scopes": ["root"]}, "Invalid `scopes` param: Value must a valid array no longer than 100 items and Value must be one of (sessions.write,"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "specification": "s-64vcpu"}, "Invalid `specification` param: Specification must be one of: s-0.5vcpu-512mb,"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "entrypoint": "e" * 1029}, "Invalid `entrypoint` param:"),
    ({"functionId": "ok", "name": "x", "runtime": "python-3.12", "providerRepositoryId": "repo"}, 'you need to provide "installationId" and "providerBranch"'),
]


@pytest.mark.parametrize(("body", "message"), BAD_CREATES)
def test_bad_create_is_400_and_creates_nothing(raw: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = raw.post("/functions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "general_argument_invalid" and error["code"] == 400 and error["version"] == "1.6.2"
    assert message in error["message"]
    assert raw.get("/functions").json()["total"] == 0


GOOD_SCHEDULES = ["", "@hourly", "@midnight", "@annually", "0 0 * * MON", "0 12 1 JAN,JUL *", "0 0 L * *", "0 0 15W * *", "0 0 * * 1#2", "0 0 ? * *", "1-5/2 * * * *"]


@pytest.mark.parametrize("schedule", GOOD_SCHEDULES)
def test_appwrite_cron_forms_are_accepted(raw: httpx.Client, schedule: str) -> None:
    response = raw.post("/functions", json={"functionId": "c", "name": "C", "runtime": "python-3.12", "schedule": schedule})
    assert response.status_code == 201, response.text
    assert response.json()["schedule"] == schedule


def test_numeric_string_timeout_and_null_params_are_accepted(raw: httpx.Client) -> None:
    body = raw.post("/functions", json={"functionId": "t", "name": "T", "runtime": "python-3.12", "timeout": "30", "events": None}).json()
    assert body["timeout"] == 30 and body["events"] == []


def test_installation_id_is_unknown_locally(raw: httpx.Client) -> None:
    response = raw.post("/functions", json={"functionId": "v", "name": "V", "runtime": "python-3.12", "installationId": "inst"})
    assert response.status_code == 404 and response.json()["type"] == "installation_not_found"


def test_bad_update_changes_nothing(raw: httpx.Client) -> None:
    before = raw.post("/functions", json={"functionId": "f", "name": "F", "runtime": "python-3.12", "timeout": 50}).json()
    for body in ({"timeout": 5}, {"name": "F", "runtime": ""}, {"name": "F", "schedule": "61 * * * *"}, {"name": "F", "enabled": None, "logging": "no"}):
        response = raw.put("/functions/f", json=body)
        assert response.status_code == 400 and response.json()["type"] == "general_argument_invalid", body
    assert raw.get("/functions/f").json() == before


def test_unknown_and_malformed_function_ids(raw: httpx.Client) -> None:
    assert raw.get("/functions/missing").json()["type"] == "function_not_found"
    assert raw.put("/functions/missing", json={"name": "x"}).status_code == 404
    assert raw.delete("/functions/missing").status_code == 404
    response = raw.get("/functions/-bad")
    assert response.status_code == 400 and response.json()["message"].startswith("Invalid `functionId` param: UID must contain")


def test_runtimes_and_specifications(appwrite_sdk: Any) -> None:
    runtimes = appwrite_sdk.list_runtimes()
    assert runtimes["total"] == 59 == len(runtimes["runtimes"])
    python = next(r for r in runtimes["runtimes"] if r["$id"] == "python-3.12")
    assert (python["key"], python["version"], python["image"], python["logo"]) == ("python", "3.12", "openruntimes/python:v4-3.12", "python.png")
    specs = appwrite_sdk.list_specifications()
    assert specs["total"] == 9 and [s["slug"] for s in specs["specifications"]][:2] == ["s-0.5vcpu-512mb", "s-1vcpu-512mb"]
    assert specs["specifications"][1] == {"memory": 512, "cpus": 1, "enabled": True, "slug": "s-1vcpu-512mb"}


def test_runtime_allow_list(tmp_path: Any) -> None:
    with running_server(tmp_path / "data", runtimes=("python-3.12", "node-22")) as (server, _), api_client(server) as raw:
        listed = raw.get("/functions/runtimes").json()
        assert [r["$id"] for r in listed["runtimes"]] == ["node-22", "python-3.12"] and listed["total"] == 2
        response = raw.post("/functions", json={"functionId": "f", "name": "F", "runtime": "php-8.3"})
        assert response.status_code == 404 and response.json()["type"] == "function_runtime_unsupported"
        assert raw.post("/functions", json={"functionId": "f", "name": "F", "runtime": "node-22"}).status_code == 201
        response = raw.put("/functions/f", json={"name": "F", "runtime": "php-8.3"})
        assert response.status_code == 404 and response.json()["type"] == "function_runtime_unsupported"
        assert raw.get("/functions").json()["total"] == 1


def test_delete_cascades_to_children(raw: httpx.Client, local_server: LocalServer) -> None:
    raw.post("/functions", json={"functionId": "f", "name": "F", "runtime": "python-3.12"})
    variable = raw.post("/functions/f/variables", json={"key": "K", "value": "v"}).json()
    response = raw.delete("/functions/f")
    assert response.status_code == 204 and response.content == b""
    # re-creating the same id starts clean: the variable key is free again
    raw.post("/functions", json={"functionId": "f", "name": "F", "runtime": "python-3.12"})
    assert raw.get("/functions/f/variables").json() == {"total": 0, "variables": []}
    assert raw.get(f"/functions/f/variables/{variable['$id']}").status_code == 404
    assert raw.post("/functions/f/variables", json={"key": "K", "value": "v"}).status_code == 201


def test_paging_default_25_offset_and_cursor(raw: httpx.Client, appwrite_sdk: Any) -> None:
    for index in range(30):
        raw.post("/functions", json={"functionId": f"fn{index:02d}", "name": f"Fn {index}", "runtime": "python-3.12", "timeout": index + 1})
    first = appwrite_sdk.list()
    assert first["total"] == 30 and [f["$id"] for f in first["functions"]] == [f"fn{i:02d}" for i in range(25)]
    page = appwrite_sdk.list([Query.limit(10), Query.cursor_after("fn24")])
    assert [f["$id"] for f in page["functions"]] == [f"fn{i:02d}" for i in range(25, 30)] and page["total"] == 30
    page = appwrite_sdk.list([Query.limit(3), Query.offset(4)])
    assert [f["$id"] for f in page["functions"]] == ["fn04", "fn05", "fn06"]
    page = appwrite_sdk.list([Query.limit(2), Query.cursor_before("fn05")])
    assert [f["$id"] for f in page["functions"]] == ["fn03", "fn04"]
    page = appwrite_sdk.list([Query.order_desc("timeout"), Query.limit(2)])
    assert [f["$id"] for f in page["functions"]] == ["fn29", "fn28"]
    page = appwrite_sdk.list([Query.greater_than("timeout", 27), Query.limit(1)])
    assert page["total"] == 3 and [f["$id"] for f in page["functions"]] == ["fn27"]
    # the server does the ordering and cursoring together
    page = appwrite_sdk.list([Query.order_desc("timeout"), Query.cursor_after("fn29"), Query.limit(1)])
    assert [f["$id"] for f in page["functions"]] == ["fn28"]


def test_search(raw: httpx.Client, appwrite_sdk: Any) -> None:
    raw.post("/functions", json={"functionId": "mailer", "name": "Send welcome mail", "runtime": "node-22"})
    raw.post("/functions", json={"functionId": "resizer", "name": "Image resize", "runtime": "python-3.12"})
    assert [f["$id"] for f in appwrite_sdk.list(search="welc")["functions"]] == ["mailer"]
    assert [f["$id"] for f in appwrite_sdk.list(search="python")["functions"]] == ["resizer"]
    assert [f["$id"] for f in appwrite_sdk.list(search="resizer")["functions"]] == ["resizer"]
    assert appwrite_sdk.list(search="node image")["total"] == 2
    assert appwrite_sdk.list(search="zzz")["total"] == 0
    response = raw.get("/functions", params={"search": ""})
    assert response.status_code == 400 and response.json()["type"] == "general_argument_invalid"


def test_bad_queries_are_rejected(raw: httpx.Client) -> None:
    cases = [
        (Query.equal("nope", "x"), "Invalid `queries` param: Invalid query: Attribute not found in schema: nope"),
        (Query.select(["name"]), "Invalid `queries` param: Invalid query method: select"),
        (Query.equal("timeout", "ten"), 'Query value is invalid for attribute "timeout"'),
        (Query.limit(0), "Invalid limit"),
        (Query.offset(-1), "Invalid offset"),
        (Query.cursor_after("$bad"), "Invalid cursor"),
        ("{not json", "Invalid query"),
        (json.dumps({"method": "explode", "attribute": "name", "values": []}), "Invalid query method: explode"),
    ]
    for query, message in cases:
        response = raw.get("/functions", params={"queries[]": query})
        assert response.status_code == 400, query
        assert response.json()["type"] == "general_argument_invalid"
        assert message in response.json()["message"], response.json()
    response = raw.get("/functions", params={"queries[]": Query.cursor_after("ghost")})
    assert response.status_code == 400 and response.json()["type"] == "general_cursor_not_found"
