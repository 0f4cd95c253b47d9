"""Formats 1.4.0 and 1.5.0 (the 1.4/1.5 SDKs) through the same filter chain: V17 (string queries) and V18."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from localserver.errors import AppwriteError
from localserver.versions.v17 import old_query
from tests.conftest import LocalServer
from tests.localserver.support import api_client, post_function

F14 = {"X-Appwrite-Response-Format": "1.4.0"}
F15 = {"X-Appwrite-Response-Format": "1.5.0"}


@pytest.fixture(params=["1.6.2", "1.9.6"])
def appwrite_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def raw(local_server: LocalServer) -> Iterator[httpx.Client]:
    with api_client(local_server) as client:
        post_function(client, "alpha", "python-3.12", scopes=["users.read"])
        post_function(client, "beta", "node-22")
        yield client


def test_v17_parses_1_4_queries() -> None:
    assert old_query('equal("name", ["a", "b"])') == {"method": "equal", "attribute": "name", "values": ["a", "b"]}
    assert old_query("limit(25)") == {"method": "limit", "values": [25]}
    assert old_query('orderDesc("")') == {"method": "orderDesc"}
    assert old_query('between("timeout", 1, 20)') == {"method": "between", "attribute": "timeout", "values": [1, 20]}
    with pytest.raises(AppwriteError):
        old_query("equal(name")


def test_v17_string_queries_filter_like_json_ones(raw: httpx.Client) -> None:
    listed = raw.get("/functions", params=[("queries[]", 'equal("runtime", ["node-22"])'), ("queries[]", "limit(5)")], headers=F14).json()
    assert [f["$id"] for f in listed["functions"]] == ["beta"]
    bad = raw.get("/functions", params={"queries[]": "equal(runtime"}, headers=F14)
    assert (bad.status_code, bad.json()["type"]) == (400, "general_query_invalid")
    # A 1.5 client already sends JSON queries: no conversion.
    json_query = raw.get("/functions", params={"queries[]": '{"method":"limit","values":[1]}'}, headers=F15).json()
    assert len(json_query["functions"]) == 1


def test_v18_function_and_runtime_shapes(raw: httpx.Client, local_server: LocalServer) -> None:
    function = raw.get("/functions/alpha", headers=F15).json()
    assert "scopes" not in function and "specification" not in function and "deployment" in function
    public = "functions.listRuntimes" in local_server.config.profile.public_routes  # 1.7+: no key
    keyless = {"X-Appwrite-Project": local_server.project, **F15}
    listed = httpx.get(f"{local_server.endpoint}/functions/runtimes", headers=keyless) if public else raw.get("/functions/runtimes", headers=F15)
    runtimes = listed.json()["runtimes"]
    assert runtimes and all("key" not in runtime and "name" in runtime for runtime in runtimes)
    assert raw.get("/functions/alpha", headers={"X-Appwrite-Response-Format": "1.6.0"}).json()["scopes"] == ["users.read"]


def test_v18_template_branch_becomes_template_version(raw: httpx.Client) -> None:
    created = raw.post("/functions", json={"functionId": "gamma", "name": "G", "runtime": "python-3.12", "templateBranch": "main"}, headers=F15)
    assert created.status_code == 201
