"""Responses checked against the 1.6.x OpenAPI spec's response schemas (key sets and JSON types)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest

from tests.conftest import LocalServer
from tests.localserver.support import api_client
from tests.helpers import SPEC_16, openapi_spec

pytestmark = pytest.mark.slow

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


@cache
def schemas() -> dict[str, Any]:
    return openapi_spec(SPEC_16)["components"]["schemas"]


def check(value: Any, schema: dict[str, Any], where: str) -> None:
    """Every property present (and nothing extra), each with the declared JSON type; recurse into $refs."""
    if "$ref" in schema:
        schema = schemas()[schema["$ref"].rsplit("/", 1)[1]]
    if "properties" in schema:
        assert isinstance(value, dict), where
        assert set(value) == set(schema["properties"]), f"{where}: {sorted(set(value) ^ set(schema['properties']))}"
        for key, prop in schema["properties"].items():
            check(value[key], prop, f"{where}.{key}")
        return
    kind = schema.get("type")
    if kind is None:
        return
    allowed = JSON_TYPES[kind]
    assert isinstance(value, allowed) and not (kind in ("integer", "number") and isinstance(value, bool)), f"{where}: {value!r} is not {kind}"
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            check(item, schema["items"], f"{where}[{index}]")


@pytest.fixture
def raw(local_server: LocalServer) -> Iterator[httpx.Client]:
    with api_client(local_server) as client:
        client.post("/functions", json={"functionId": "fn", "name": "Fn", "runtime": "python-3.12", "execute": ["any"], "events": ["users.*.create"], "scopes": ["users.read"]})
        client.post("/functions/fn/variables", json={"key": "A", "value": "1"})
        yield client


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/functions", "functionList"),
        ("/functions/fn", "function"),
        ("/functions/fn/variables", "variableList"),
        ("/functions/runtimes", "runtimeList"),
        ("/functions/specifications", "specificationList"),
    ],
)
def test_get_responses_match_spec(raw: httpx.Client, path: str, schema: str) -> None:
    response = raw.get(path)
    assert response.status_code == 200
    body = response.json()
    check(body, schemas()[schema], schema)
    assert list(body)[0] == "total" or schema == "function"


def test_write_responses_match_spec(raw: httpx.Client) -> None:
    created = raw.post("/functions", json={"functionId": "two", "name": "Two", "runtime": "node-22"}).json()
    check(created, schemas()["function"], "function")
    check(raw.put("/functions/two", json={"name": "Two!"}).json(), schemas()["function"], "function")
    variable = raw.post("/functions/two/variables", json={"key": "K", "value": "v"}).json()
    check(variable, schemas()["variable"], "variable")
    check(raw.get(f"/functions/two/variables/{variable['$id']}").json(), schemas()["variable"], "variable")
    check(raw.put(f"/functions/two/variables/{variable['$id']}", json={"key": "K2"}).json(), schemas()["variable"], "variable")


def test_errors_match_spec(raw: httpx.Client) -> None:
    body = raw.get("/functions/none").json()
    # the spec's error model calls `code` a string; Appwrite emits the PHP int (see digest §2)
    assert set(body) == set(schemas()["error"]["properties"]) and isinstance(body["code"], int)
