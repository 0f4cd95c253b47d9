"""Project and key checks on the functions and variables routes (Appwrite's auth outcomes)."""

from __future__ import annotations

import httpx
import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.functions import Functions

from tests.conftest import LocalServer

pytestmark = pytest.mark.slow

ROUTES = [
    ("GET", "/functions", "functions.read"),
    ("POST", "/functions", "functions.write"),
    ("GET", "/functions/runtimes", "functions.read"),
    ("GET", "/functions/specifications", "functions.read"),
    ("GET", "/functions/fn", "functions.read"),
    ("PUT", "/functions/fn", "functions.write"),
    ("DELETE", "/functions/fn", "functions.write"),
    ("GET", "/functions/fn/variables", "functions.read"),
    ("POST", "/functions/fn/variables", "functions.write"),
    ("PUT", "/functions/fn/variables/v1", "functions.write"),
    ("DELETE", "/functions/fn/variables/v1", "functions.write"),
]


@pytest.fixture
def seeded(local_server: LocalServer) -> LocalServer:
    headers = {"X-Appwrite-Project": local_server.project, "X-Appwrite-Key": local_server.api_key}
    httpx.post(f"{local_server.endpoint}/functions", headers=headers, json={"functionId": "fn", "name": "Fn", "runtime": "python-3.12"})
    return local_server


def _state(server: LocalServer) -> object:
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key}
    return httpx.get(f"{server.endpoint}/functions", headers=headers).json()


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_wrong_key_wrong_project_and_no_key(seeded: LocalServer, method: str, path: str, scope: str) -> None:
    before = _state(seeded)
    body = {"functionId": "x", "name": "X", "runtime": "python-3.12", "key": "K", "value": "v"}
    cases = [
        ({"X-Appwrite-Project": seeded.project, "X-Appwrite-Key": "wrong"}, 401, "user_unauthorized"),
        ({"X-Appwrite-Project": "elsewhere", "X-Appwrite-Key": seeded.api_key}, 404, "project_not_found"),
        ({"X-Appwrite-Project": seeded.project}, 401, "general_unauthorized_scope"),
        ({}, 401, "general_unauthorized_scope"),
    ]
    for headers, status, error_type in cases:
        response = httpx.request(method, seeded.endpoint + path, headers=headers, json=body if method in ("POST", "PUT") else None)
        assert response.status_code == status, (headers, response.text)
        assert response.json()["type"] == error_type
        assert response.headers["cache-control"] == "no-cache, no-store, must-revalidate"
    response = httpx.request(method, seeded.endpoint + path, headers={"X-Appwrite-Project": seeded.project})
    assert response.json()["message"] == f"User (role: guests) missing scope ({scope})"
    assert _state(seeded) == before


def test_project_query_param_is_accepted(seeded: LocalServer) -> None:
    response = httpx.get(f"{seeded.endpoint}/functions", params={"project": seeded.project}, headers={"X-Appwrite-Key": seeded.api_key})
    assert response.status_code == 200 and response.json()["total"] == 1


def test_sdk_with_wrong_key_raises_appwrite_exception(seeded: LocalServer) -> None:
    client = Client().set_endpoint(seeded.endpoint).set_project(seeded.project).set_key("nope")
    with pytest.raises(AppwriteException) as info:
        Functions(client).list()
    assert info.value.code == 401 and info.value.type == "user_unauthorized"


def test_health_version_needs_no_key(local_server: LocalServer) -> None:
    response = httpx.get(f"{local_server.endpoint}/health/version")
    assert response.status_code == 200 and response.json() == {"version": "1.6.2"}
