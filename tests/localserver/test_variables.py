"""Variables endpoints: CRUD through the SDK, key uniqueness, `live` side effects, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from appwrite.exception import AppwriteException

from tests.conftest import LocalServer
from tests.localserver.support import api_client

pytestmark = pytest.mark.slow

VARIABLE_KEYS = ["$id", "$createdAt", "$updatedAt", "key", "value", "resourceType", "resourceId"]


@pytest.fixture
def raw(local_server: LocalServer) -> Iterator[httpx.Client]:
    with api_client(local_server) as client:
        client.post("/functions", json={"functionId": "fn", "name": "Fn", "runtime": "python-3.12"})
        client.post("/functions", json={"functionId": "other", "name": "Other", "runtime": "python-3.12"})
        yield client


def test_crud_through_sdk(raw: httpx.Client, appwrite_sdk: Any) -> None:
    created = appwrite_sdk.create_variable("fn", "API_URL", "https://example.org")
    assert list(created) == VARIABLE_KEYS
    assert (created["key"], created["value"], created["resourceType"], created["resourceId"]) == ("API_URL", "https://example.org", "function", "fn")
    assert len(created["$id"]) == 20
    assert appwrite_sdk.get_variable("fn", created["$id"]) == created
    second = appwrite_sdk.create_variable("fn", "EMPTY", "")
    listed = appwrite_sdk.list_variables("fn")
    assert listed == {"total": 2, "variables": [created, second]}
    updated = appwrite_sdk.update_variable("fn", created["$id"], "API_URL")  # value omitted: kept
    assert updated["value"] == "https://example.org"
    renamed = appwrite_sdk.update_variable("fn", created["$id"], "BASE_URL", "https://x.test")
    assert (renamed["key"], renamed["value"]) == ("BASE_URL", "https://x.test")
    assert raw.get("/functions/fn").json()["vars"] == [renamed, second]  # embedded, plaintext, creation order
    assert appwrite_sdk.delete_variable("fn", second["$id"]) == b""
    assert appwrite_sdk.list_variables("fn")["total"] == 1
    with pytest.raises(AppwriteException) as info:
        appwrite_sdk.get_variable("fn", second["$id"])
    assert info.value.type == "variable_not_found" and info.value.code == 404


def test_each_mutation_sets_live_false_and_bumps_updated_at(raw: httpx.Client) -> None:
    def state() -> tuple[bool, str]:
        body = raw.get("/functions/fn").json()
        return body["live"], body["$updatedAt"]

    def reset() -> str:
        body = raw.put("/functions/fn", json={"name": "Fn"}).json()
        assert body["live"] is True
        return body["$updatedAt"]

    stamp = reset()
    variable = raw.post("/functions/fn/variables", json={"key": "A", "value": "1"}).json()
    live, updated = state()
    assert live is False and updated >= stamp
    stamp = reset()
    raw.put(f"/functions/fn/variables/{variable['$id']}", json={"key": "A", "value": "2"})
    assert state()[0] is False
    reset()
    raw.delete(f"/functions/fn/variables/{variable['$id']}")
    assert state()[0] is False
    assert raw.get("/functions/other").json()["live"] is True


def test_duplicate_keys_are_409_and_change_nothing(raw: httpx.Client) -> None:
    first = raw.post("/functions/fn/variables", json={"key": "K", "value": "1"}).json()
    other = raw.post("/functions/fn/variables", json={"key": "L", "value": "2"}).json()
    response = raw.post("/functions/fn/variables", json={"key": "K", "value": "3"})
    assert response.status_code == 409 and response.json()["type"] == "variable_already_exists"
    response = raw.put(f"/functions/fn/variables/{other['$id']}", json={"key": "K", "value": "9"})
    assert response.status_code == 409 and response.json()["type"] == "variable_already_exists"
    assert raw.get("/functions/fn/variables").json()["variables"] == [first, other]
    # the same key in another function is fine
    assert raw.post("/functions/other/variables", json={"key": "K", "value": "1"}).status_code == 201


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"value": "v"}, 'Param "key" is not optional.'),
        ({"key": "K"}, 'Param "value" is not optional.'),
        ({"key": "", "value": "v"}, "Invalid `key` param: Value must be a valid string and at least 1 chars and no longer than 255 chars"),
        ({"key": "k" * 256, "value": "v"}, "Invalid `key` param:"),
        ({"key": "K", "value": "v" * 8193}, "Invalid `value` param: Value must be a valid string and no longer than 8192 chars"),
        ({"key": 5, "value": "v"}, "Invalid `key` param:"),
    ],
)
def test_bad_create_is_400(raw: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = raw.post("/functions/fn/variables", json=body)
    assert response.status_code == 400 and response.json()["type"] == "general_argument_invalid"
    assert message in response.json()["message"]
    assert raw.get("/functions/fn/variables").json()["total"] == 0
    assert raw.get("/functions/fn").json()["live"] is True


def test_bad_update_changes_nothing(raw: httpx.Client) -> None:
    variable = raw.post("/functions/fn/variables", json={"key": "K", "value": "1"}).json()
    for body in ({"value": "2"}, {"key": "", "value": "2"}, {"key": "K", "value": 3}):
        response = raw.put(f"/functions/fn/variables/{variable['$id']}", json=body)
        assert response.status_code == 400, body
    assert raw.get(f"/functions/fn/variables/{variable['$id']}").json() == variable


def test_unknown_ids(raw: httpx.Client) -> None:
    variable = raw.post("/functions/fn/variables", json={"key": "K", "value": "1"}).json()
    assert raw.get(f"/functions/other/variables/{variable['$id']}").json()["type"] == "variable_not_found"
    assert raw.delete(f"/functions/other/variables/{variable['$id']}").status_code == 404
    assert raw.put(f"/functions/other/variables/{variable['$id']}", json={"key": "Z"}).status_code == 404
    assert raw.get("/functions/missing/variables").json()["type"] == "function_not_found"
    assert raw.post("/functions/missing/variables", json={"key": "K", "value": "1"}).json()["type"] == "function_not_found"
    response = raw.get("/functions/fn/variables/_bad")
    assert response.status_code == 400 and "Invalid `variableId` param" in response.json()["message"]
    assert raw.get("/functions/fn/variables").json()["variables"] == [variable]
