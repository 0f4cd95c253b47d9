"""Self-test of tests/faultproxy.py in front of the real local server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LocalServer
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.slow

HEALTH = "/v1/health/version"


@pytest.fixture
def proxy(local_server: LocalServer) -> Iterator[FaultProxy]:
    with FaultProxy(local_server.endpoint) as running:
        yield running


def test_forwards_requests_and_keeps_connections_alive(proxy: FaultProxy, local_server: LocalServer) -> None:
    assert proxy.endpoint.endswith("/v1") and proxy.endpoint != local_server.endpoint
    with httpx.Client(base_url=proxy.url) as client:
        for _ in range(3):
            response = client.get(HEALTH, headers={"X-Appwrite-Project": local_server.project})
            assert response.status_code == 200 and response.json() == {"version": local_server.config.appwrite_version}
        missing = client.get("/v1/functions", headers={"X-Appwrite-Project": local_server.project})
        assert missing.status_code in (401, 404)  # the server's own answer passes through
    assert proxy.hits("GET", HEALTH) == 3 and proxy.forwarded("GET", HEALTH) == 3


def test_fail_by_count_and_skip(proxy: FaultProxy) -> None:
    proxy.fail(503, method="GET", path="/v1/health/*", times=2, skip=1)
    with httpx.Client(base_url=proxy.url) as client:
        statuses = [client.get(HEALTH).status_code for _ in range(4)]
    assert statuses == [200, 503, 503, 200]
    assert proxy.forwarded(path=HEALTH) == 2
    with httpx.Client(base_url=proxy.url) as client:
        proxy.fail(500, path=HEALTH, times=1)
        body = client.get(HEALTH).json()
    assert body["type"] == "general_server_error" and body["code"] == 500


def test_fail_after_forward_reaches_server(proxy: FaultProxy) -> None:
    proxy.fail(500, path=HEALTH, after_forward=True)
    with httpx.Client(base_url=proxy.url) as client:
        assert client.get(HEALTH).status_code == 500
    assert proxy.forwarded(path=HEALTH) == 1


def test_rate_limit_sends_retry_after_and_reset(proxy: FaultProxy) -> None:
    proxy.rate_limit(retry_after=7, method="GET")
    with httpx.Client(base_url=proxy.url) as client:
        limited = client.get(HEALTH)
        ok = client.get(HEALTH)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json()["type"] == "general_rate_limit_exceeded"
    assert int(limited.headers["X-RateLimit-Reset"]) > 0 and ok.status_code == 200
    assert proxy.forwarded() == 1


@pytest.mark.parametrize("after_forward", [False, True])
def test_drop_closes_without_answer(proxy: FaultProxy, after_forward: bool) -> None:
    proxy.drop(path=HEALTH, after_forward=after_forward)
    with httpx.Client(base_url=proxy.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(HEALTH)
        assert client.get(HEALTH).status_code == 200  # the next request gets a fresh connection
    assert proxy.events[0].status is None and proxy.events[0].forwarded is after_forward


def test_truncate_cuts_the_body(proxy: FaultProxy) -> None:
    proxy.truncate(path=HEALTH)
    with httpx.Client(base_url=proxy.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(HEALTH)
    assert proxy.forwarded() == 1


def test_delay_then_forward(proxy: FaultProxy) -> None:
    proxy.delay(0.3, path=HEALTH, times=1)
    with httpx.Client(base_url=proxy.url, timeout=httpx.Timeout(5.0, read=0.1)) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(HEALTH)
        assert client.get(HEALTH).status_code == 200


def test_rules_only_match_their_method_and_path(proxy: FaultProxy) -> None:
    proxy.fail(503, method="POST", path=HEALTH, times=None)
    proxy.fail(503, path="/v1/other*", times=None)
    with httpx.Client(base_url=proxy.url) as client:
        assert client.get(HEALTH).status_code == 200
        assert client.post(HEALTH).status_code == 503
    proxy.clear()
    with httpx.Client(base_url=proxy.url) as client:
        assert client.post(HEALTH).status_code != 503
