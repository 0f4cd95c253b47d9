"""Function templates through raw HTTP (no official server SDK has these console calls in 1.6).

Cases ported from Appwrite 1.6.2's tests/e2e/Services/Functions/FunctionsCustomClientTest.php (testListTemplates,
testGetTemplate) and FunctionsCustomServerTest.php (testCreateFunctionAndDeploymentFromTemplate, the template half).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from localserver.templates import TEMPLATE_FIELDS, TEMPLATE_RUNTIME_FIELDS, TEMPLATE_VARIABLE_FIELDS
from tests.localserver.support import api_client

pytestmark = pytest.mark.slow


@pytest.fixture
def guest(local_server: Any) -> Iterator[httpx.Client]:
    """A client-side caller: the project header, no key (as the e2e client tests call)."""
    with httpx.Client(base_url=local_server.endpoint, headers={"X-Appwrite-Project": local_server.project}, timeout=30) as client:
        yield client


def listed(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/functions/templates", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_list_templates(guest: httpx.Client) -> None:
    """testListTemplates, SUCCESS part."""
    everything = listed(guest)
    assert list(everything) == ["total", "templates"]
    assert everything["total"] == len(everything["templates"]) > 0
    for template in everything["templates"]:
        assert list(template) == [name for name, _ in TEMPLATE_FIELDS]
        for runtime in template["runtimes"]:
            assert list(runtime) == [name for name, _ in TEMPLATE_RUNTIME_FIELDS]
        for variable in template["variables"]:
            assert list(variable) == [name for name, _ in TEMPLATE_VARIABLE_FIELDS]

    page = listed(guest, limit=1, offset=2)
    assert page["total"] == 1 and page["templates"][0]["id"] == everything["templates"][2]["id"]

    filtered = listed(guest, **{"useCases[]": ["starter", "ai"], "runtimes[]": ["bun-1.0", "dart-2.16"]})
    assert filtered["total"] >= 3
    assert all(template["useCases"][0] in ("starter", "ai") for template in filtered["templates"])
    assert "bun-1.0" in [runtime["name"] for runtime in filtered["templates"][0]["runtimes"]]

    # PHP's http_build_query spelling (useCases[0]=…) and paging on top of filters: 1.6.2 counts the page
    databases = listed(guest, **{"limit": 5, "offset": 2, "useCases[0]": "databases", "runtimes[0]": "node-16.0"})
    assert databases["total"] == 5
    assert all(template["useCases"][0] == "databases" for template in databases["templates"])
    assert "node-16.0" in [runtime["name"] for runtime in databases["templates"][0]["runtimes"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 5001, "offset": 10}, "Invalid `limit` param: Value must be a valid range between 1 and 5,000"),
        ({"limit": 5, "offset": 5001}, "Invalid `offset` param: Value must be a valid range between 0 and 5,000"),
        ({"limit": 0}, "Invalid `limit` param: Value must be a valid range between 1 and 5,000"),
        ({"limit": "many"}, "Invalid `limit` param: Value must be a valid range between 1 and 5,000"),
        ({"useCases[]": "games"}, "Invalid `useCases` param: Value must a valid array no longer than 100 items and Value must be one of (dev-tools, starter, databases, ai, messaging, utilities)"),
        ({"runtimes[]": "dart-2.19"}, None),  # in the template catalogue, but not a runtime of 1.6.2
    ],
)
def test_list_templates_refuses_bad_params(guest: httpx.Client, params: dict[str, Any], message: str | None) -> None:
    """testListTemplates, FAILURE part (plus the whitelists)."""
    response = guest.get("/functions/templates", params=params)
    body = response.json()
    assert (response.status_code, body["type"]) == (400, "general_argument_invalid"), body
    if message:
        assert body["message"] == message


def test_get_template(guest: httpx.Client) -> None:
    """testGetTemplate."""
    response = guest.get("/functions/templates/query-neo4j-auradb")
    assert response.status_code == 200
    template = response.json()
    assert template["id"] == "query-neo4j-auradb" and template["name"] == "Query Neo4j AuraDB"
    assert template["icon"] == "icon-neo4j"
    assert template["tagline"] == "Graph database with focus on relations between data."
    assert template["useCases"] == ["databases"] and template["vcsProvider"] == "github"
    assert isinstance(template["runtimes"], list) and isinstance(template["scopes"], list)
    assert [variable["name"] for variable in template["variables"]] == ["NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"]

    missing = guest.get("/functions/templates/invalid-template-id")
    assert missing.status_code == 404
    assert missing.json()["type"] == "function_template_not_found"
    assert missing.json()["message"] == "Function Template with the requested ID could not be found."


def test_starter_template_creates_a_function(guest: httpx.Client, local_server: Any) -> None:
    """testCreateFunctionAndDeploymentFromTemplate: the starter's settings make a valid function (building it
    from the template repository needs GitHub, which the local server does not reach)."""
    starter = guest.get("/functions/templates/starter").json()
    python = next(runtime for runtime in starter["runtimes"] if runtime["name"] == "python-3.12")
    assert python == {"name": "python-3.12", "commands": "pip install -r requirements.txt", "entrypoint": "src/main.py",
                      "providerRootDirectory": "python/starter"}
    assert starter["variables"] == [] and starter["providerVersion"] == "0.2.*"
    with api_client(local_server) as admin:
        created = admin.post("/functions", json={
            "functionId": "from-template", "name": starter["name"], "runtime": "python-3.12", "execute": starter["permissions"],
            "entrypoint": python["entrypoint"], "events": starter["events"], "schedule": starter["cron"],
            "timeout": starter["timeout"], "commands": python["commands"], "scopes": starter["scopes"],
            "templateRepository": starter["providerRepositoryId"], "templateOwner": starter["providerOwner"],
            "templateRootDirectory": python["providerRootDirectory"], "templateVersion": starter["providerVersion"],
        })
    assert created.status_code == 201, created.text
    assert created.json()["scopes"] == ["users.read"] and created.json()["execute"] == ["any"]


def test_access_follows_the_public_scope(local_server: Any) -> None:
    """Listing needs the `public` scope, which in 1.6.2 only guests hold; getting one template checks nothing."""
    def call(path: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.get(f"{local_server.endpoint}{path}", headers=headers, timeout=30)

    assert call("/functions/templates", {}).status_code == 200  # no project: the console's guests
    assert call("/functions/templates", {"X-Appwrite-Project": "elsewhere"}).json()["type"] == "project_not_found"
    keyed = call("/functions/templates", {"X-Appwrite-Project": local_server.project, "X-Appwrite-Key": local_server.api_key})
    assert keyed.status_code == 401 and keyed.json()["type"] == "general_unauthorized_scope"
    assert keyed.json()["message"] == f"app.{local_server.project}@service.127.0.0.1 (role: applications) missing scope (public)"
    wrong = call("/functions/templates", {"X-Appwrite-Project": local_server.project, "X-Appwrite-Key": "nope"})
    assert (wrong.status_code, wrong.json()["type"]) == (401, "user_unauthorized")
    for headers in ({}, {"X-Appwrite-Project": "elsewhere", "X-Appwrite-Key": "nope"}):
        assert call("/functions/templates/starter", headers).json()["id"] == "starter"
