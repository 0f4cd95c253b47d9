"""AppwriteClient against the real local server (and through the fault proxy): CRUD, paging, errors, deployments."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from syncer.client import (
    AppwriteClient,
    AppwriteConnectionError,
    AppwriteResponseError,
    FunctionSettings,
    Query,
    RetryPolicy,
    is_duplicate_of_own_create,
)
from syncer.manifest.models import FunctionSpec
from syncer.packaging import HEADER_PROBE_BYTES, code_hash_from_header, package_function
from tests.conftest import LocalServer
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.slow

RUNTIME = "python-3.12"
MAIN_PY = "def main(context):\n    return context.res.text('hello ' + context.req.path)\n"


class NoWait:
    """Retry sleeps that record the delay and return at once (polling uses real time with deadlines)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def connect(endpoint: str, server: LocalServer, **kwargs: object) -> AppwriteClient:
    return AppwriteClient(endpoint, server.project, server.api_key, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def client(local_server: LocalServer) -> AsyncIterator[AppwriteClient]:
    async with connect(local_server.endpoint, local_server) as c:
        yield c


def settings(name: str = "Hello", **kw: object) -> FunctionSettings:
    return FunctionSettings(name=name, runtime=RUNTIME, entrypoint="main.py", **kw)  # type: ignore[arg-type]


def package(tmp_path: Path, files: dict[str, bytes | str], fid: str = "hello") -> Path:
    folder = tmp_path / "src" / fid
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    spec = FunctionSpec(id=fid, name=fid, runtime=RUNTIME, path=folder, entrypoint="main.py")
    return package_function(spec, tmp_path / "out", root=tmp_path / "src").archive


# -- basics ---------------------------------------------------------------------------------------------------------


async def test_health_runtimes_and_specifications(client: AppwriteClient, local_server: LocalServer) -> None:
    assert await client.health_version() == local_server.config.appwrite_version
    runtimes = {r.id for r in await client.list_runtimes()}
    assert RUNTIME in runtimes
    specs = {s.slug for s in await client.list_specifications()}
    assert "s-1vcpu-512mb" in specs


async def test_function_crud_round_trip(client: AppwriteClient) -> None:
    assert await client.get_function("hello") is None
    created = await client.create_function("hello", settings(execute=("any",), timeout=20))
    assert created.id == "hello" and created.execute == ("any",) and created.timeout == 20 and created.live
    updated = await client.update_function("hello", settings(name="Hello 2", schedule="@daily"))
    assert updated.name == "Hello 2" and updated.schedule == "@daily"
    assert updated.execute == ()  # PUT is a full replacement
    fetched = await client.get_function("hello")
    assert fetched is not None and FunctionSettings.from_function(fetched).name == "Hello 2"
    assert [f.id for f in await client.list_functions(search="hello")] == ["hello"]
    await client.delete_function("hello")
    assert await client.get_function("hello") is None
    with pytest.raises(AppwriteResponseError) as info:
        await client.delete_function("hello")
    assert info.value.type == "function_not_found" and not info.value.retried


async def test_duplicate_id_is_already_exists_not_own_create(client: AppwriteClient, local_server: LocalServer) -> None:
    await client.create_function("dup", settings())
    with pytest.raises(AppwriteResponseError) as info:
        await client.create_function("dup", settings())
    assert info.value.status == 409 and info.value.already_exists and not is_duplicate_of_own_create(info.value)
    assert info.value.version == local_server.config.appwrite_version


async def test_list_functions_pages_through_everything(local_server: LocalServer) -> None:
    async with connect(local_server.endpoint, local_server, page_size=2) as client:
        ids = [f"fn-{i}" for i in range(5)]
        for fid in ids:
            await client.create_function(fid, settings(name=fid))
        client.stats.reset()
        assert [f.id for f in await client.list_functions()] == ids
        assert client.stats.reads == 3 and client.stats.writes == 0
        page = await client.list_functions(queries=[Query.equal("name", ["fn-3"])])
        assert [f.id for f in page] == ["fn-3"]


async def test_server_validation_errors_are_mapped(client: AppwriteClient) -> None:
    with pytest.raises(AppwriteResponseError) as info:
        await client.create_function("bad", settings(timeout=0))
    assert info.value.status == 400 and info.value.type == "general_argument_invalid"
    assert str(info.value).startswith("POST /v1/functions -> 400 general_argument_invalid: ")


async def test_wrong_key_is_unauthorized_and_key_not_in_error(local_server: LocalServer) -> None:
    async with AppwriteClient(local_server.endpoint, local_server.project, "wrong-key-0123456789") as client:
        with pytest.raises(AppwriteResponseError) as info:
            await client.list_functions()
    assert info.value.status == 401 and "wrong-key-0123456789" not in str(info.value)


async def test_variables_crud(client: AppwriteClient) -> None:
    await client.create_function("vars", settings())
    a = await client.create_variable("vars", "A", "1")
    b = await client.create_variable("vars", "B", "2")
    assert [(v.key, v.value) for v in await client.list_variables("vars")] == [("A", "1"), ("B", "2")]
    with pytest.raises(AppwriteResponseError) as info:
        await client.create_variable("vars", "A", "again")
    assert info.value.type == "variable_already_exists" and info.value.already_exists
    renamed = await client.update_variable("vars", a.id, "A2", "one")
    assert (renamed.key, renamed.value) == ("A2", "one")
    kept = await client.update_variable("vars", b.id, "B", None)
    assert kept.value == "2"
    await client.delete_variable("vars", b.id)
    assert [v.key for v in await client.list_variables("vars")] == ["A2"]
    fn = await client.get_function("vars")
    assert fn is not None and [v.key for v in fn.vars] == ["A2"]


# -- deployments ----------------------------------------------------------------------------------------------------


async def test_deploy_build_activate_download_and_execute(client: AppwriteClient, tmp_path: Path) -> None:
    await client.create_function("hello", settings())
    archive = package(tmp_path, {"main.py": MAIN_PY})
    seen: list[str] = []
    deployment = await client.create_deployment("hello", archive, activate=True)
    assert deployment.size == archive.stat().st_size
    built = await client.wait_for_build("hello", deployment.id, timeout=60, poll_interval=0.05, on_status=lambda d: seen.append(d.status))
    assert built.status == "ready", built.build_logs
    assert seen[-1] == "ready"
    fn = await client.get_function("hello")
    assert fn is not None and fn.deployment == deployment.id

    assert await client.download_deployment("hello", deployment.id) == archive.read_bytes()
    head = await client.download_deployment("hello", deployment.id, byte_range=(0, HEADER_PROBE_BYTES - 1))
    assert code_hash_from_header(head) is not None and head == archive.read_bytes()[:HEADER_PROBE_BYTES]
    assert await client.download_deployment("hello", deployment.id, byte_range=(0, 99)) == archive.read_bytes()[:100]
    target = tmp_path / "dl.tar.gz"
    assert await client.download_deployment_to("hello", deployment.id, target) == archive.stat().st_size
    assert target.read_bytes() == archive.read_bytes()

    latest = await client.latest_deployment("hello")
    assert latest is not None and latest.id == deployment.id
    assert (await client.activate_deployment("hello", deployment.id)).deployment == deployment.id

    execution = await client.create_execution("hello", path="/x")
    assert execution.status == "completed" and execution.response_body == "hello /x"
    assert (await client.get_execution("hello", execution.id)).id == execution.id
    assert [e.id for e in await client.list_executions("hello")] == [execution.id]


async def test_chunked_upload_against_server(local_server: LocalServer, tmp_path: Path) -> None:
    archive = package(tmp_path, {"main.py": MAIN_PY, "blob.bin": os.urandom(300_000)})
    async with connect(local_server.endpoint, local_server, chunk_size=64 * 1024) as client:
        await client.create_function("big", settings())
        progress = []
        deployment = await client.create_deployment("big", archive, activate=True, on_progress=progress.append)
        assert len(progress) == progress[-1].chunks_total > 4
        assert client.stats.writes == 1 + len(progress)
        built = await client.wait_for_build("big", deployment.id, timeout=60, poll_interval=0.05)
        assert built.status == "ready", built.build_logs
        assert await client.download_deployment("big", deployment.id) == archive.read_bytes()


async def test_archive_of_exactly_one_chunk_goes_up_whole(local_server: LocalServer, tmp_path: Path) -> None:
    """Appwrite 1.6.2 never completes a lone chunk whose range covers the whole file (node-appwrite sends those whole)."""
    archive = package(tmp_path, {"main.py": MAIN_PY, "blob.bin": os.urandom(100_000)})
    async with connect(local_server.endpoint, local_server, chunk_size=archive.stat().st_size) as client:
        await client.create_function("exact", settings())
        deployment = await client.create_deployment("exact", archive, activate=True)
        assert client.stats.writes == 2
        built = await client.wait_for_build("exact", deployment.id, timeout=60, poll_interval=0.05)
        assert built.status == "ready", built.build_logs
        assert await client.download_deployment("exact", deployment.id) == archive.read_bytes()


async def test_rebuild_and_cancel(client: AppwriteClient, tmp_path: Path) -> None:
    await client.create_function("hello", settings(commands=""))
    archive = package(tmp_path, {"main.py": MAIN_PY})
    first = await client.create_deployment("hello", archive, activate=False)
    await client.wait_for_build("hello", first.id, timeout=60, poll_interval=0.05)
    rebuilt = await client.rebuild_deployment("hello", first.id)
    assert rebuilt.id != first.id
    done = await client.wait_for_build("hello", rebuilt.id, timeout=60, poll_interval=0.05)
    assert done.status == "ready"
    with pytest.raises(AppwriteResponseError) as info:
        await client.cancel_build("hello", rebuilt.id)
    assert info.value.type == "build_already_completed"
    await client.delete_deployment("hello", first.id)
    assert [d.id for d in await client.list_deployments("hello")] == [rebuilt.id]


async def test_failed_build_is_returned_not_raised(client: AppwriteClient, tmp_path: Path) -> None:
    await client.create_function("broken", settings(commands="exit 3"))
    archive = package(tmp_path, {"main.py": MAIN_PY}, fid="broken")
    deployment = await client.create_deployment("broken", archive, activate=True)
    built = await client.wait_for_build("broken", deployment.id, timeout=60, poll_interval=0.05)
    assert built.status == "failed"


# -- through the fault proxy ----------------------------------------------------------------------------------------


async def test_create_lost_after_server_applied_it_is_reported_as_own_create(local_server: LocalServer) -> None:
    wait = NoWait()
    with FaultProxy(local_server.endpoint) as proxy:
        proxy.drop(method="POST", path="/v1/functions", after_forward=True)
        async with connect(proxy.endpoint, local_server, sleep=wait) as client:
            with pytest.raises(AppwriteResponseError) as info:
                await client.create_function("once", settings())
            assert is_duplicate_of_own_create(info.value)
            assert proxy.forwarded("POST", "/v1/functions") == 2
            assert [f.id for f in await client.list_functions()] == ["once"]
    assert len(wait.delays) == 1


async def test_reads_survive_5xx_drops_and_rate_limits(local_server: LocalServer) -> None:
    wait = NoWait()
    with FaultProxy(local_server.endpoint) as proxy:
        async with connect(proxy.endpoint, local_server, sleep=wait, retry=RetryPolicy(max_attempts=5)) as client:
            await client.create_function("r", settings())
            proxy.fail(503, method="GET", times=1)
            proxy.drop(method="GET", times=1)
            proxy.rate_limit(retry_after=4, method="GET", times=1)
            fn = await client.get_function("r")
            assert fn is not None and fn.id == "r"
            assert client.stats.read_retries == 3
    assert 4 in wait.delays


async def test_execution_not_repeated_when_answer_lost(local_server: LocalServer, tmp_path: Path) -> None:
    wait = NoWait()
    with FaultProxy(local_server.endpoint) as proxy:
        async with connect(proxy.endpoint, local_server, sleep=wait) as client:
            await client.create_function("hello", settings())
            dep = await client.create_deployment("hello", package(tmp_path, {"main.py": MAIN_PY}), activate=True)
            await client.wait_for_build("hello", dep.id, timeout=60, poll_interval=0.05)
            proxy.drop(method="POST", path="*/executions", after_forward=True)
            with pytest.raises(AppwriteConnectionError) as info:
                await client.create_execution("hello")
            assert info.value.maybe_applied
            assert proxy.forwarded("POST", "*/executions") == 1
            assert len(await client.list_executions("hello")) == 1


async def test_chunk_retried_on_its_own_through_proxy(local_server: LocalServer, tmp_path: Path) -> None:
    archive = package(tmp_path, {"main.py": MAIN_PY, "blob.bin": os.urandom(200_000)})
    wait = NoWait()
    with FaultProxy(local_server.endpoint) as proxy:
        async with connect(proxy.endpoint, local_server, sleep=wait, chunk_size=64 * 1024) as client:
            await client.create_function("big", settings())
            proxy.fail(500, method="POST", path="*/deployments", skip=1, times=1)  # 2nd chunk, not forwarded
            proxy.drop(method="POST", path="*/deployments", skip=3, times=1, after_forward=True)  # last chunk lost
            deployment = await client.create_deployment("big", archive, activate=True)
            built = await client.wait_for_build("big", deployment.id, timeout=60, poll_interval=0.05)
            assert built.status == "ready", built.build_logs
            assert await client.download_deployment("big", deployment.id) == archive.read_bytes()
            assert len(await client.list_deployments("big")) == 1
