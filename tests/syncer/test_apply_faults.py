"""apply through a fault-injecting proxy: 5xx, 429 with Retry-After, latency and dropped connections.

Whatever the faults, a re-run converges and nothing is created twice (functions, variables, deployments).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from syncer.apply import reconcile
from syncer.client import AppwriteClient, RetryPolicy
from tests.conftest import LocalServer
from tests.faultproxy import FaultProxy
from tests.syncer.support import Project, open_client

pytestmark = pytest.mark.slow

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.2, max_elapsed=20)


@pytest.fixture
def proxy(local_server: LocalServer) -> Iterator[FaultProxy]:
    with FaultProxy(local_server.endpoint) as p:
        yield p


@pytest.fixture
async def direct(local_server: LocalServer) -> AsyncIterator[AppwriteClient]:
    async with open_client(local_server) as c:
        yield c


async def converge(project: Project, endpoint: str, server: LocalServer, attempts: int = 4) -> list[bool]:
    """Re-run apply until it succeeds (what a user or the webhook worker does), returning each run's ok."""
    runs: list[bool] = []
    manifest = project.load()
    for _ in range(attempts):
        async with AppwriteClient(endpoint, server.project, server.api_key, retry=FAST_RETRY) as client:
            result = await reconcile(manifest, client)
        runs.append(result.ok)
        if result.ok:
            break
    return runs


async def assert_exactly_once(direct: AppwriteClient, ids: list[str], variables: dict[str, str]) -> None:
    functions = await direct.list_functions()
    assert sorted(f.id for f in functions) == sorted(ids)
    for fid in ids:
        fn = next(f for f in functions if f.id == fid)
        assert {v.key: v.value for v in fn.vars} == variables
        assert fn.deployment and fn.live
        assert len(await direct.list_deployments(fid)) == 1, f"{fid} was deployed more than once"


async def test_converges_through_5xx_429_latency(project_dir: Path, proxy: FaultProxy, local_server: LocalServer, direct: AppwriteClient) -> None:
    project = Project(project_dir)
    for fid in ("a", "b", "c"):
        project.add(fid, variables={"K1": "v1", "K2": "v2"})
    proxy.fail(503, method="GET", path="/v1/functions", times=2)
    proxy.fail(500, method="POST", path="/v1/functions", times=2)
    proxy.rate_limit(retry_after=0.2, method="POST", path="/v1/functions", times=2)
    proxy.fail(502, method="POST", path="/v1/functions/*/variables", times=3)
    proxy.fail(503, method="GET", path="/v1/functions/*/deployments/*", times=3)
    proxy.delay(0.05, path="/v1/functions/*")

    runs = await converge(project, proxy.endpoint, local_server)

    assert runs[-1] is True
    await assert_exactly_once(direct, ["a", "b", "c"], {"K1": "v1", "K2": "v2"})
    async with AppwriteClient(proxy.endpoint, local_server.project, local_server.api_key) as client:
        again = await reconcile(project.load(), client)
    assert again.ok and again.writes == 0


async def test_dropped_connections_after_the_server_applied(project_dir: Path, proxy: FaultProxy, local_server: LocalServer, direct: AppwriteClient) -> None:
    project = Project(project_dir)
    for fid in ("a", "b"):
        project.add(fid, variables={"K": "v"})
    # The server does the work, the answer is lost: the client cannot know whether it happened.
    proxy.drop(method="POST", path="/v1/functions", times=2, after_forward=True)
    proxy.drop(method="POST", path="/v1/functions/*/variables", times=1, after_forward=True)
    proxy.drop(method="POST", path="/v1/functions/*/deployments", times=2, after_forward=True)
    proxy.drop(method="PATCH", path="/v1/functions/*/deployments/*", times=1, after_forward=True)

    runs = await converge(project, proxy.endpoint, local_server)

    assert runs[-1] is True
    await assert_exactly_once(direct, ["a", "b"], {"K": "v"})


async def test_a_failed_function_does_not_stop_the_others(project_dir: Path, proxy: FaultProxy, local_server: LocalServer, direct: AppwriteClient) -> None:
    project = Project(project_dir)
    for fid in ("a", "b", "c"):
        project.add(fid)
    proxy.fail(400, method="POST", path="/v1/functions/b/deployments", times=1)  # not retryable

    async with AppwriteClient(proxy.endpoint, local_server.project, local_server.api_key, retry=FAST_RETRY) as client:
        result = await reconcile(project.load(), client)
    assert result.failed == ["b"]
    b = next(fr for fr in result.functions if fr.function_id == "b")
    assert [(o.action, o.status) for o in b.outcomes] == [("create", "done"), ("deploy", "failed")]
    for fid in ("a", "c"):
        fn = await direct.get_function(fid)
        assert fn is not None and fn.deployment

    assert (await converge(project, proxy.endpoint, local_server))[-1] is True
    await assert_exactly_once(direct, ["a", "b", "c"], {})


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return tmp_path / "project"
