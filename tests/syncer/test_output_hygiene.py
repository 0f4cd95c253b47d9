"""Output hygiene (issue 13, point 8) against the local server as 1.6.2 and 1.9.6: request counts, sensitivity labels."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import LocalServer
from tests.faultproxy import FaultProxy
from tests.syncer.support import Project, fnsync, server_env


@pytest.fixture
def proxy(local_server: LocalServer) -> Iterator[FaultProxy]:
    with FaultProxy(local_server.endpoint) as p:
        yield p


def seen_by_server(proxy: FaultProxy) -> tuple[int, int]:
    """(reads, writes) the server received, as the client counts them (GET/HEAD are reads)."""
    reads = sum(1 for e in proxy.events if e.forwarded and e.method in ("GET", "HEAD"))
    return reads, sum(1 for e in proxy.events if e.forwarded) - reads


def test_apply_json_counts_every_request_it_made(project: Project, local_server: LocalServer, proxy: FaultProxy) -> None:
    env = server_env(local_server) | {"APPWRITE_ENDPOINT": proxy.endpoint}
    first = fnsync(project, env, "apply", "--yes", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["requests"] == dict(zip(("reads", "writes"), seen_by_server(proxy), strict=True))

    proxy.events.clear()
    again = fnsync(project, env, "apply", "--yes", "--json")
    assert again.exit_code == 0, again.output
    document = json.loads(again.stdout)
    assert document["plan"]["changes"] == []
    reads, writes = seen_by_server(proxy)
    assert reads > 0 and writes == 0
    assert document["requests"] == {"reads": reads, "writes": 0}
    assert proxy.hits("GET", "/v1/health/version") == 1  # the version probe is one of the counted reads

    proxy.events.clear()
    project.code("api", 2)
    text = fnsync(project, env, "apply", "--yes")
    assert text.exit_code == 0, text.output
    reads, writes = seen_by_server(proxy)
    assert writes > 0 and f"({reads} reads, {writes} writes)" in text.stdout  # the summary line counts them all too
