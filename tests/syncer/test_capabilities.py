"""Negotiation and capabilities: one version read, one format per server, calls shaped by what the server can do.

The client speaks to httpx.MockTransport handlers that answer like each Appwrite version would (NEWER-SERVERS.md),
so these tests pin which path, header and parameter every call uses per version.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from syncer.client import AppwriteClient, Capabilities, Query, ServerVersion, UnsupportedServerVersion
from syncer.client.capabilities import KNOWN_FORMATS

ENDPOINT = "http://appwrite.test/v1"
KEY = "standard_secret_key_0123456789abcdef"
Handler = Callable[[httpx.Request], httpx.Response]


def caps(version: str) -> Capabilities:
    return Capabilities.negotiate(ServerVersion.parse(version))


@pytest.mark.parametrize(
    ("server", "fmt"),
    [
        ("1.6.0", "1.6.0"),
        ("1.6.2", "1.6.0"),
        ("1.7.0", "1.7.0"),
        ("1.7.4", "1.7.0"),
        ("1.8.1", "1.8.0"),
        ("1.9.0", "1.9.0"),
        ("1.9.4", "1.9.0"),
        ("1.9.6", "1.9.5"),
        ("2.0.0", "1.9.5"),
        ("2.5.0", "2.5.0"),
        ("2.5.3", "2.5.0"),
        ("3.1.0", "2.5.0"),
    ],
)
def test_format_is_the_newest_known_not_above_the_server(server: str, fmt: str) -> None:
    assert caps(server).response_format == fmt


def test_only_a_server_past_the_newest_known_release_line_gets_a_notice() -> None:
    assert caps("2.5.3").notice == "" and caps("1.9.6").notice == ""
    assert "3.1.0" in caps("3.1.0").notice and str(KNOWN_FORMATS[-1]) in caps("3.1.0").notice


def test_older_than_1_6_is_refused() -> None:
    with pytest.raises(ValueError):
        caps("1.5.7")


def test_settings_per_version() -> None:
    assert "specification" in caps("1.8.1").settings and "buildSpecification" not in caps("1.8.1").settings
    on_196 = caps("1.9.6").settings
    assert "specification" not in on_196
    assert {"buildSpecification", "runtimeSpecification", "deploymentRetention", "providerBranches", "providerPaths"} <= set(on_196)
    assert "description" not in on_196 and "interval" not in on_196
    assert {"description", "interval", "emailEnabled"} <= set(caps("2.5.0").settings)
    assert caps("1.6.2").since("providerBranches") == "1.9.5"


def test_variables_and_queries_per_version() -> None:
    assert not caps("1.6.2").secret_variables and caps("1.7.0").secret_variables
    assert not caps("1.9.0").variable_paging and caps("1.9.6").variable_paging
    assert "size" in caps("1.6.2").deployment_query_attributes
    assert "size" not in caps("1.9.6").deployment_query_attributes and "sourceSize" in caps("1.9.6").deployment_query_attributes
    assert caps("1.9.6").internal_sequence_attribute == "$sequence" and caps("1.7.4").internal_sequence_attribute == "$internalId"


# --- the client asks the capabilities ---------------------------------------------------------------------------


class Recorder:
    """A fake server of one version: records each request; `routes` maps "METHOD path" to a JSON body."""

    def __init__(self, version: str, routes: dict[str, object] | None = None) -> None:
        self.version = version
        self.routes = routes or {}
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/v1/health/version":
            if "x-appwrite-key" in request.headers:
                return self.error(401, "general_unauthorized_scope")
            return httpx.Response(200, json={"version": self.version})
        body = self.routes.get(f"{request.method} {request.url.path}")
        if callable(body):
            return body(request)
        if body is None:
            return self.error(404, "general_route_not_found")
        return httpx.Response(200, json=body)

    def error(self, status: int, type_: str) -> httpx.Response:
        return httpx.Response(status, json={"message": type_, "code": status, "type": type_, "version": self.version})

    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.seen]


def client_for(recorder: Recorder) -> AppwriteClient:
    return AppwriteClient(ENDPOINT, "proj", KEY, transport=httpx.MockTransport(recorder))


async def test_version_is_read_once_without_a_key_and_every_call_speaks_the_native_format() -> None:
    server = Recorder("1.9.6", {"GET /v1/functions": {"total": 0, "functions": []}})
    async with client_for(server) as client:
        await client.list_functions()
        await client.list_functions()
        assert (await client.capabilities()).response_format == "1.9.5"
    assert server.calls().count("GET /v1/health/version") == 1
    health = server.seen[0]
    assert "x-appwrite-key" not in health.headers and "x-appwrite-response-format" not in health.headers
    assert {r.headers["x-appwrite-response-format"] for r in server.seen[1:]} == {"1.9.5"}


async def test_an_error_body_version_is_the_fallback() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "no", "code": 404, "type": "general_route_not_found", "version": "1.8.1"})

    async with AppwriteClient(ENDPOINT, "proj", KEY, transport=httpx.MockTransport(handler)) as client:
        assert (await client.capabilities()).response_format == "1.8.0"


async def test_a_newer_server_gets_one_notice(caplog: pytest.LogCaptureFixture) -> None:
    server = Recorder("3.0.0", {"GET /v1/functions": {"total": 0, "functions": []}})
    with caplog.at_level(logging.WARNING, logger="syncer.client"):
        async with client_for(server) as client:
            await client.list_functions()
            await client.list_functions()
    notices = [r for r in caplog.records if "newer than fnsync knows" in r.getMessage()]
    assert len(notices) == 1


async def test_a_1_5_server_is_refused() -> None:
    async with client_for(Recorder("1.5.7")) as client:
        with pytest.raises(UnsupportedServerVersion):
            await client.list_functions()


@pytest.mark.parametrize(("version", "keyed"), [("1.6.2", True), ("1.9.6", False), ("2.5.0", False)])
async def test_runtimes_go_without_the_key_where_the_route_is_public(version: str, keyed: bool) -> None:
    server = Recorder(version, {"GET /v1/functions/runtimes": {"total": 0, "runtimes": []}})
    async with client_for(server) as client:
        await client.list_runtimes()
    assert ("x-appwrite-key" in server.seen[-1].headers) is keyed


FN = {"$id": "f", "name": "F", "runtime": "python-3.12"}
DEP = {"$id": "d2", "resourceId": "f", "status": "waiting"}


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.6.2", ["PATCH /v1/functions/f/deployments/d1", "POST /v1/functions/f/deployments/d1/build",
                   "PATCH /v1/functions/f/deployments/d1/build", "GET /v1/functions/f/deployments/d1/download"]),
        ("1.9.6", ["PATCH /v1/functions/f/deployment", "POST /v1/functions/f/deployments/duplicate",
                   "PATCH /v1/functions/f/deployments/d1/status", "GET /v1/functions/f/deployments/d1/download"]),
    ],
)  # fmt: skip
async def test_deployment_calls_use_the_server_s_routes(version: str, expected: list[str]) -> None:
    routes: dict[str, object] = {
        "PATCH /v1/functions/f/deployments/d1": FN,
        "PATCH /v1/functions/f/deployment": FN,
        "POST /v1/functions/f/deployments/d1/build": DEP,
        "POST /v1/functions/f/deployments/duplicate": DEP,
        "PATCH /v1/functions/f/deployments/d1/build": DEP,
        "PATCH /v1/functions/f/deployments/d1/status": DEP,
        "GET /v1/functions/f/deployments/d1/download": lambda r: httpx.Response(200, content=b"tgz"),
    }
    server = Recorder(version, routes)
    async with client_for(server) as client:
        await client.activate_deployment("f", "d1")
        assert (await client.rebuild_deployment("f", "d1")).id == "d2"
        await client.cancel_build("f", "d1")
        assert await client.download_deployment("f", "d1") == b"tgz"
    assert server.calls()[1:] == expected
    download = server.seen[-1]
    assert download.url.params.get("type") == ("source" if version != "1.6.2" else None)
    if version == "1.9.6":
        assert json.loads(server.seen[1].content) == {"deploymentId": "d1"}
        assert json.loads(server.seen[2].content) == {"deploymentId": "d1"}


async def test_a_removed_query_attribute_is_refused_before_sending() -> None:
    server = Recorder("1.9.6", {"GET /v1/functions/f/deployments": {"total": 0, "deployments": []}})
    async with client_for(server) as client:
        with pytest.raises(ValueError, match="size"):
            await client.list_deployments("f", [Query.greater_than("size", 10)])
        await client.list_deployments("f", [Query.greater_than("sourceSize", 10)])
    assert server.calls().count("GET /v1/functions/f/deployments") == 1


async def test_variables_page_on_1_9_5_and_above() -> None:
    variables = [{"$id": f"v{i:02}", "key": f"K{i:02}", "value": "x", "secret": False} for i in range(30)]

    def page(request: httpx.Request) -> httpx.Response:
        queries = [json.loads(q) for q in request.url.params.get_list("queries[]")]
        limit = next(q["values"][0] for q in queries if q["method"] == "limit")
        after = next((q["values"][0] for q in queries if q["method"] == "cursorAfter"), None)
        start = 0 if after is None else next(i for i, v in enumerate(variables) if v["$id"] == after) + 1
        return httpx.Response(200, json={"total": 30, "variables": variables[start : start + min(limit, 25)]})

    server = Recorder("1.9.6", {"GET /v1/functions/f/variables": page})
    async with client_for(server) as client:
        client.page_size = 25
        listed = await client.list_variables("f")
    assert [v.key for v in listed] == [v["key"] for v in variables]
    assert server.calls().count("GET /v1/functions/f/variables") == 2


@pytest.mark.parametrize(
    ("version", "body"),
    [
        ("1.6.2", {"key": "K", "value": "v"}),
        ("1.8.1", {"key": "K", "value": "v", "secret": False}),
        ("1.9.6", {"variableId": "unique()", "key": "K", "value": "v", "secret": False}),
    ],
)
async def test_variable_create_sends_what_the_server_needs(version: str, body: dict[str, object]) -> None:
    created = {"$id": "v1", "key": "K", "value": "v"}
    server = Recorder(version, {"POST /v1/functions/f/variables": created})
    async with client_for(server) as client:
        await client.create_variable("f", "K", "v")
        if version == "1.6.2":
            with pytest.raises(ValueError, match="1.7.0"):
                await client.create_variable("f", "K", "v", secret=True)
    assert json.loads(server.seen[1].content) == body


async def test_creation_limit_is_read_from_the_headers_of_a_refused_probe() -> None:
    def create(request: httpx.Request) -> httpx.Response:
        headers = {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1900000000"}
        body = {"message": "taken", "code": 409, "type": "function_already_exists", "version": "1.9.6"}
        return httpx.Response(409, headers=headers, json=body)

    server = Recorder("1.9.6", {"POST /v1/functions": create})
    async with client_for(server) as client:
        from syncer.client.models import Function

        limit = await client.probe_creation_limit(Function.model_validate(FN))
    assert limit is not None and (limit.limit, limit.remaining, limit.reset) == (50, 3, 1_900_000_000.0)
    assert json.loads(server.seen[-1].content)["functionId"] == "f"  # collides with an existing function


async def test_a_1_9_function_reads_both_specifications_and_new_settings(tmp_path: Path) -> None:
    doc = {**FN, "buildSpecification": "s-1vcpu-1gb", "runtimeSpecification": "s-2vcpu-2gb", "deploymentRetention": 7,
           "providerBranches": ["main"], "providerPaths": [], "providerSilentMode": True}  # fmt: skip
    server = Recorder("1.9.6", {"GET /v1/functions/f": doc})
    async with client_for(server) as client:
        fn = await client.get_function("f")
    assert fn is not None
    assert fn.specification == "s-1vcpu-1gb"  # one spec for readers that want one
    assert fn.setting("runtimeSpecification") == "s-2vcpu-2gb" and fn.setting("providerBranches") == ["main"]
    assert fn.setting("deploymentRetention") == 7
