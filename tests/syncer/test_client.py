"""AppwriteClient against httpx.MockTransport: headers, paging, errors, retries (fake clock), uploads, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from syncer.client import (
    AppwriteClient,
    AppwriteConnectionError,
    AppwriteProtocolError,
    AppwriteResponseError,
    BuildWaitTimeout,
    Capabilities,
    FunctionSettings,
    Query,
    RetryPolicy,
    ServerVersion,
    is_already_exists,
    is_duplicate_of_own_create,
    is_transient,
)
from syncer.client.capabilities import SETTINGS_SINCE
from syncer.client.retry import retry_after_seconds
from syncer.client.upload import chunk_ranges
from tests.helpers import SPEC_16, openapi_spec

ENDPOINT = "http://appwrite.test/v1"
KEY = "standard_secret_key_0123456789abcdef"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fn_doc(fid: str, **extra: object) -> dict[str, object]:
    return {"$id": fid, "name": fid, "runtime": "python-3.12", **extra}


def error(status: int, type_: str, message: str = "boom", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"message": message, "code": status, "type": type_, "version": "1.6.2"}, headers=headers)


CAPS_16 = Capabilities.negotiate(ServerVersion.parse("1.6.2"))


def make_client(handler: Handler, fake: FakeTime | None = None, **kwargs: object) -> AppwriteClient:
    """A client on `handler`, as negotiated with a 1.6.2 server unless `capabilities=` says otherwise."""
    fake = fake or FakeTime()
    kwargs.setdefault("capabilities", CAPS_16)
    return AppwriteClient(
        ENDPOINT,
        "proj",
        KEY,
        transport=httpx.MockTransport(handler),
        sleep=fake.sleep,
        clock=fake.clock,
        wall_clock=fake.wall,
        rng=lambda: 1.0,
        **kwargs,  # type: ignore[arg-type]
    )


# -- headers --------------------------------------------------------------------------------------------------------


async def test_sends_project_key_format_and_sdk_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=fn_doc("a"))

    async with make_client(handler) as client:
        await client.get_function("a")
    h = seen[0].headers
    assert seen[0].url == httpx.URL("http://appwrite.test/v1/functions/a")
    assert h["X-Appwrite-Project"] == "proj"
    assert h["X-Appwrite-Key"] == KEY
    assert h["X-Appwrite-Response-Format"] == "1.6.0"
    assert h["User-Agent"].startswith("fnsync/")
    assert h["x-sdk-name"] == "fnsync"


async def test_health_version_sends_no_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"version": "1.6.2"})

    async with make_client(handler) as client:
        assert await client.health_version() == "1.6.2"
    assert seen[0].url.path == "/v1/health/version"
    assert "X-Appwrite-Key" not in seen[0].headers


async def test_client_repr_hides_key() -> None:
    client = make_client(lambda r: httpx.Response(200))
    assert KEY not in repr(client) and KEY not in str(vars(client).get("_http").headers)  # type: ignore[union-attr]
    await client.aclose()


# -- lists and queries ----------------------------------------------------------------------------------------------


def test_query_strings_match_sdk_format() -> None:
    assert Query.equal("name", ["a", "b"]) == '{"method":"equal","attribute":"name","values":["a","b"]}'
    assert Query.limit(100) == '{"method":"limit","values":[100]}'
    assert Query.offset(200) == '{"method":"offset","values":[200]}'
    assert Query.cursor_after("x") == '{"method":"cursorAfter","values":["x"]}'
    assert Query.orderDesc("$createdAt") == '{"method":"orderDesc","attribute":"$createdAt"}'
    assert Query.equal("enabled", True) == '{"method":"equal","attribute":"enabled","values":[true]}'


async def test_list_functions_pages_with_cursor_until_short_page() -> None:
    all_ids = [f"f{i:03d}" for i in range(7)]
    calls: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        queries = request.url.params.get_list("queries[]")
        calls.append(queries)
        parsed = [json.loads(q) for q in queries]
        limit = next(q["values"][0] for q in parsed if q["method"] == "limit")
        after = next((q["values"][0] for q in parsed if q["method"] == "cursorAfter"), None)
        start = all_ids.index(after) + 1 if after else 0
        page = all_ids[start : start + limit]
        return httpx.Response(200, json={"total": len(all_ids), "functions": [fn_doc(i) for i in page]})

    async with make_client(handler, page_size=3) as client:
        functions = await client.list_functions(search="abc")
    assert [f.id for f in functions] == all_ids
    assert len(calls) == 3
    assert calls[0] == [Query.limit(3)]
    assert calls[1] == [Query.limit(3), Query.cursor_after("f002")]
    assert client.stats.reads == 3 and client.stats.writes == 0


async def test_list_exact_page_multiple_makes_one_extra_empty_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        after = [q for q in request.url.params.get_list("queries[]") if "cursorAfter" in q]
        return httpx.Response(200, json={"total": 2, "functions": [] if after else [fn_doc("a"), fn_doc("b")]})

    async with make_client(handler, page_size=2) as client:
        assert [f.id for f in await client.list_functions()] == ["a", "b"]
        assert client.stats.reads == 2


async def test_empty_search_is_omitted_and_search_sent_otherwise() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"total": 0, "functions": []})

    async with make_client(handler) as client:
        await client.list_functions(search="")
        await client.list_functions(search="hello")
    assert "search" not in seen[0].url.params
    assert seen[1].url.params["search"] == "hello"


async def test_latest_deployment_uses_caller_paging_once() -> None:
    seen: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params.get_list("queries[]"))
        return httpx.Response(200, json={"total": 5, "deployments": [{"$id": "d9", "status": "ready"}]})

    async with make_client(handler) as client:
        latest = await client.latest_deployment("fn")
    assert latest is not None and latest.id == "d9"
    assert seen == [[Query.order_desc("$createdAt"), Query.limit(1)]]


async def test_list_body_without_items_is_protocol_error() -> None:
    async with make_client(lambda r: httpx.Response(200, json={"total": 0})) as client:
        with pytest.raises(AppwriteProtocolError):
            await client.list_runtimes()


# -- errors ---------------------------------------------------------------------------------------------------------


async def test_get_function_none_on_function_not_found_but_raises_route_not_found() -> None:
    async with make_client(lambda r: error(404, "function_not_found")) as client:
        assert await client.get_function("nope") is None
    async with make_client(lambda r: error(404, "general_route_not_found", "Route not found")) as client:
        with pytest.raises(AppwriteResponseError) as info:
            await client.get_function("nope")
    assert info.value.type == "general_route_not_found"


async def test_error_envelope_mapping_and_text() -> None:
    async with make_client(lambda r: error(400, "general_argument_invalid", "Invalid `timeout` param")) as client:
        with pytest.raises(AppwriteResponseError) as info:
            await client.update_function("fx", name="n", timeout=0)
    err = info.value
    assert (err.status, err.type, err.version) == (400, "general_argument_invalid", "1.6.2")
    assert err.request_method == "PUT" and err.request_path == "/v1/functions/fx"
    assert str(err) == "PUT /v1/functions/fx -> 400 general_argument_invalid: Invalid `timeout` param"
    assert not err.retried


async def test_non_json_error_body_still_maps() -> None:
    async with make_client(lambda r: httpx.Response(418, text="<html>teapot</html>")) as client:
        with pytest.raises(AppwriteResponseError) as info:
            await client.list_functions()
    assert info.value.status == 418 and info.value.type == "" and "teapot" in info.value.message


async def test_connection_error_wraps_and_flags_timeouts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with make_client(handler, retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(AppwriteConnectionError) as info:
            await client.get_function("a")
    assert info.value.timeout and info.value.maybe_applied
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert "GET /v1/functions/a" in str(info.value)


async def test_invalid_success_body_is_protocol_error() -> None:
    async with make_client(lambda r: httpx.Response(200, json={"$id": "a"})) as client:
        with pytest.raises(AppwriteProtocolError):
            await client.get_function("a")


async def test_bad_input_is_refused_before_any_request() -> None:
    async with make_client(lambda r: httpx.Response(500)) as client:
        with pytest.raises(ValueError):
            await client.get_function("")
        with pytest.raises(ValueError, match="unknown function setting"):
            await client.update_function("a", name="n", timout=3)
        with pytest.raises(ValueError, match="required: runtime"):
            await client.create_function("a", name="n")
        with pytest.raises(ValueError):
            await client.create_variable("a", "", "v")
        with pytest.raises(ValueError):
            await client.download_deployment("a", "d", byte_range=(5, 1))
        assert client.stats.requests == 0
    with pytest.raises(ValueError):
        AppwriteClient("appwrite.test/v1", "p", KEY)


async def test_api_key_never_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def echoing(request: httpx.Request) -> httpx.Response:
        return error(401, "user_unauthorized", f"key {request.headers['X-Appwrite-Key']} is invalid")

    def exploding(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect using {request.headers['X-Appwrite-Key']}", request=request)

    texts: list[str] = []
    for handler in (echoing, exploding):
        async with make_client(handler, retry=RetryPolicy(max_attempts=2)) as client:
            with pytest.raises(Exception) as info:
                await client.list_functions()
        err = info.value
        texts += [str(err), repr(err), *map(str, err.args)]
        cause = err.__cause__
        while cause is not None:
            texts.append(f"{cause!s} {cause!r}")
            cause = cause.__cause__
    texts += [record.getMessage() for record in caplog.records]
    assert texts and not [t for t in texts if KEY in t]
    assert any("[redacted]" in t for t in texts)


# -- settings bodies ------------------------------------------------------------------------------------------------


async def test_create_and_update_send_full_settings_without_nulls() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(201 if request.method == "POST" else 200, json=fn_doc("fx"))

    settings = FunctionSettings(name="Fx", runtime="python-3.12", execute=("any",), timeout=30)
    async with make_client(handler) as client:
        await client.create_function("fx", settings)
        await client.update_function("fx", settings.to_api(), specification=None, schedule="@daily")
    assert bodies[0]["functionId"] == "fx" and bodies[0]["execute"] == ["any"] and bodies[0]["timeout"] == 30
    assert all(v is not None for body in bodies for v in body.values())
    assert "specification" not in bodies[0] and "installationId" not in bodies[0]
    assert "functionId" not in bodies[1] and bodies[1]["schedule"] == "@daily"


# -- retries --------------------------------------------------------------------------------------------------------


def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"}), now) == 7
    assert retry_after_seconds(httpx.Headers({"Retry-After": formatdate(now + 30, usegmt=True)}), now) == pytest.approx(30)
    assert retry_after_seconds(httpx.Headers({"X-RateLimit-Reset": str(int(now + 12))}), now) == pytest.approx(12)
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"}), now) is None
    assert retry_after_seconds(httpx.Headers({}), now) is None


async def test_get_retries_5xx_and_connection_errors_with_capped_exponential_backoff() -> None:
    fake = FakeTime()
    answers: list[Callable[[httpx.Request], httpx.Response]] = [
        lambda r: error(503, "general_server_error"),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
        lambda r: error(502, "general_server_error"),
        lambda r: httpx.Response(200, json=fn_doc("a")),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)(request)

    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=3.0, max_elapsed=100)
    async with make_client(handler, fake, retry=policy) as client:
        fn = await client.get_function("a")
    assert fn is not None and fn.id == "a"
    assert fake.sleeps == [1.0, 2.0, 3.0]  # rng=1.0 picks the top of each jitter window; capped at max_delay
    assert client.stats.reads == 4 and client.stats.read_retries == 3


async def test_full_jitter_stays_inside_window() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4)
    assert policy.backoff(1, lambda: 0.0) == 0.0
    assert policy.backoff(3, lambda: 0.5) == pytest.approx(1.0)
    assert policy.backoff(10, lambda: 0.999) < 4


async def test_429_honours_retry_after_for_any_request() -> None:
    fake = FakeTime()
    answers = [error(429, "general_rate_limit_exceeded", headers={"Retry-After": "5"}), httpx.Response(201, json=fn_doc("x"))]
    async with make_client(lambda r: answers.pop(0), fake) as client:
        await client.create_function("x", name="x", runtime="python-3.12")
    assert fake.sleeps == [5.0]
    assert client.stats.writes == 2 and client.stats.write_retries == 1


async def test_rate_limit_reset_header_used_when_no_retry_after() -> None:
    fake = FakeTime()
    reset = int(fake.wall() + 9)
    answers = [error(429, "general_rate_limit_exceeded", headers={"X-RateLimit-Reset": str(reset)}), httpx.Response(200, json=fn_doc("x"))]
    async with make_client(lambda r: answers.pop(0), fake) as client:
        await client.get_function("x")
    assert fake.sleeps == [pytest.approx(9)]


async def test_retry_after_beyond_time_budget_gives_up_without_sleeping() -> None:
    fake = FakeTime()
    async with make_client(
        lambda r: error(429, "general_rate_limit_exceeded", headers={"Retry-After": "3600"}), fake, retry=RetryPolicy(max_elapsed=60)
    ) as client:
        with pytest.raises(AppwriteResponseError) as info:
            await client.list_functions()
    assert info.value.status == 429 and fake.sleeps == []


async def test_attempts_are_bounded() -> None:
    fake = FakeTime()
    async with make_client(lambda r: error(500, "general_server_error"), fake, retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(AppwriteResponseError):
            await client.list_runtimes()
    assert client.stats.reads == 3 and len(fake.sleeps) == 2


async def test_total_time_is_bounded() -> None:
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=100, base_delay=10, max_delay=10, max_elapsed=35)
    async with make_client(lambda r: error(503, "general_server_error"), fake, retry=policy) as client:
        with pytest.raises(AppwriteResponseError):
            await client.list_runtimes()
    assert sum(fake.sleeps) <= 35 and client.stats.reads == 4


async def test_4xx_is_not_retried() -> None:
    async with make_client(lambda r: error(400, "general_argument_invalid")) as client:
        with pytest.raises(AppwriteResponseError):
            await client.list_functions()
    assert client.stats.reads == 1


async def test_keyed_create_retried_after_ambiguous_failure_reports_duplicate_of_own_create() -> None:
    answers: list[Callable[[httpx.Request], httpx.Response]] = [
        lambda r: (_ for _ in ()).throw(httpx.RemoteProtocolError("Server disconnected", request=r)),
        lambda r: error(409, "document_already_exists", "Document with the requested ID already exists."),
    ]
    async with make_client(lambda r: answers.pop(0)(r)) as client:
        with pytest.raises(AppwriteResponseError) as info:
            await client.create_function("fx", name="fx", runtime="python-3.12")
    err = info.value
    assert err.retried and err.already_exists and is_duplicate_of_own_create(err)
    assert client.stats.writes == 2


async def test_plain_conflict_is_not_flagged_as_own_create() -> None:
    for type_ in ("document_already_exists", "function_already_exists", "variable_already_exists"):
        async with make_client(lambda r: error(409, type_)) as client:
            with pytest.raises(AppwriteResponseError) as info:
                await client.create_function("fx", name="fx", runtime="python-3.12")
        assert is_already_exists(info.value) and not is_duplicate_of_own_create(info.value)
    async with make_client(lambda r: error(409, "variable_already_exists")) as client:
        with pytest.raises(AppwriteResponseError) as info:
            await client.create_variable("fx", "K", "v")
    assert info.value.already_exists and not info.value.retried


async def test_unsafe_post_not_retried_after_maybe_applied_failure() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return error(500, "general_server_error")

    async with make_client(handler) as client:
        with pytest.raises(AppwriteResponseError):
            await client.create_execution("fx", body="x")
    assert calls == 1

    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    async with make_client(dropped) as client:
        with pytest.raises(AppwriteConnectionError) as info:
            await client.create_execution("fx")
    assert client.stats.writes == 1 and info.value.maybe_applied


async def test_unsafe_post_retried_when_certainly_not_sent() -> None:
    answers: list[Callable[[httpx.Request], httpx.Response]] = [
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
        lambda r: httpx.Response(201, json={"$id": "e1", "status": "completed"}),
    ]
    async with make_client(lambda r: answers.pop(0)(r)) as client:
        execution = await client.create_execution("fx", method="POST", headers={"a": "b"}, async_=False)
    assert execution.id == "e1" and client.stats.writes == 2


async def test_delete_404_after_retry_counts_as_done_but_plain_404_raises() -> None:
    answers = [error(502, "general_server_error"), error(404, "function_not_found")]
    async with make_client(lambda r: answers.pop(0)) as client:
        await client.delete_function("fx")
        assert client.stats.recovered == 1
    async with make_client(lambda r: error(404, "function_not_found")) as client:
        with pytest.raises(AppwriteResponseError):
            await client.delete_function("fx")


# -- deployments ----------------------------------------------------------------------------------------------------


def _multipart_parts(request: httpx.Request) -> dict[str, bytes]:
    content_type = request.headers["Content-Type"]
    boundary = content_type.split("boundary=")[1].encode()
    parts: dict[str, bytes] = {}
    for raw in request.content.split(b"--" + boundary)[1:-1]:
        head, _, body = raw.strip(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        parts[name] = body
        if b"filename=" in head:
            parts["_filename"] = head.split(b'filename="')[1].split(b'"')[0]
    return parts


async def test_small_archive_is_one_multipart_request(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + b"x" * 1000)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"$id": "d1", "status": ""})

    progress = []
    async with make_client(handler) as client:
        dep = await client.create_deployment("fx", archive, activate=True, entrypoint="main.py", on_progress=progress.append)
    assert dep.id == "d1" and len(seen) == 1
    parts = _multipart_parts(seen[0])
    assert parts["code"] == archive.read_bytes() and parts["_filename"] == b"code.tar.gz"
    assert parts["activate"] == b"true" and parts["entrypoint"] == b"main.py" and "commands" not in parts
    assert "Content-Range" not in seen[0].headers and "X-Appwrite-ID" not in seen[0].headers
    assert int(seen[0].headers["Content-Length"]) == len(seen[0].content)
    assert progress[-1].uploaded == progress[-1].total == 1002


async def test_large_archive_uses_5mib_chunks_with_content_range_and_id(tmp_path: Path) -> None:
    chunk = 5 * 1024 * 1024
    total = 2 * chunk + 12345
    archive = tmp_path / "big.tar.gz"
    payload = bytes(range(256)) * (total // 256) + b"z" * (total % 256)
    archive.write_bytes(payload)
    seen: list[httpx.Request] = []
    fail_once = {"2": True}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 2 and fail_once.pop("2", False):
            return error(503, "general_server_error")  # the 2nd chunk is retried on its own
        return httpx.Response(202, json={"$id": "dep123", "status": "", "size": total})

    progress = []
    async with make_client(handler) as client:
        dep = await client.create_deployment("fx", archive, activate=False, commands="pip install", on_progress=progress.append)
    assert dep.id == "dep123"
    ranges = [r.headers["Content-Range"] for r in seen]
    assert ranges == [
        f"bytes 0-{chunk - 1}/{total}",
        f"bytes {chunk}-{2 * chunk - 1}/{total}",
        f"bytes {chunk}-{2 * chunk - 1}/{total}",
        f"bytes {2 * chunk}-{total - 1}/{total}",
    ]
    assert "X-Appwrite-ID" not in seen[0].headers
    assert [r.headers["X-Appwrite-ID"] for r in seen[1:]] == ["dep123"] * 3
    bodies = [_multipart_parts(r) for r in (seen[0], seen[2], seen[3])]
    assert b"".join(p["code"] for p in bodies) == payload
    assert all(p["activate"] == b"false" and p["commands"] == b"pip install" for p in bodies)
    assert [p.chunks_uploaded for p in progress] == [1, 2, 3] and progress[-1].uploaded == total
    assert client.stats.writes == 4 and client.stats.write_retries == 1


def test_chunk_ranges_edges() -> None:
    assert chunk_ranges(10, 5) == [(0, 4), (5, 9)]
    assert chunk_ranges(11, 5) == [(0, 4), (5, 9), (10, 10)]
    with pytest.raises(ValueError):
        chunk_ranges(0, 5)


async def test_first_chunk_not_retried_after_maybe_applied_failure(tmp_path: Path) -> None:
    archive = tmp_path / "big.tar.gz"
    archive.write_bytes(b"a" * 25)
    async with make_client(lambda r: error(500, "general_server_error"), chunk_size=10) as client:
        with pytest.raises(AppwriteResponseError):
            await client.create_deployment("fx", archive, activate=True)
    assert client.stats.writes == 1


async def test_missing_or_empty_archive_is_refused(tmp_path: Path) -> None:
    async with make_client(lambda r: httpx.Response(500)) as client:
        with pytest.raises(FileNotFoundError):
            await client.create_deployment("fx", tmp_path / "missing.tar.gz", activate=True)
        (tmp_path / "empty.tar.gz").write_bytes(b"")
        with pytest.raises(ValueError):
            await client.create_deployment("fx", tmp_path / "empty.tar.gz", activate=True)
        assert client.stats.requests == 0


async def test_wait_for_build_polls_with_backoff_and_reports_status_changes() -> None:
    fake = FakeTime()
    statuses = ["waiting", "processing", "building", "building", "building", "ready"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"$id": "d1", "status": statuses.pop(0)})

    changes: list[str] = []
    async with make_client(handler, fake) as client:
        dep = await client.wait_for_build("fx", "d1", timeout=60, poll_interval=1, on_status=lambda d: changes.append(d.status))
    assert dep.status == "ready"
    assert changes == ["waiting", "processing", "building", "ready"]
    assert fake.sleeps == [1, 1.5, 2.25, 3.375, 5.0]


async def test_wait_for_build_times_out_with_last_deployment() -> None:
    fake = FakeTime()
    async with make_client(lambda r: httpx.Response(200, json={"$id": "d1", "status": "building"}), fake) as client:
        with pytest.raises(BuildWaitTimeout) as info:
            await client.wait_for_build("fx", "d1", timeout=10, poll_interval=2)
    assert info.value.deployment.status == "building" and sum(fake.sleeps) == pytest.approx(10)


async def test_rebuild_finds_new_deployment_on_204_and_parses_202_body() -> None:
    def handler_16(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(204)
        return httpx.Response(200, json={"total": 2, "deployments": [{"$id": "new"}]})

    async with make_client(handler_16) as client:
        assert (await client.rebuild_deployment("fx", "old")).id == "new"

    async with make_client(lambda r: httpx.Response(202, json={"$id": "dup", "status": "waiting"})) as client:
        assert (await client.rebuild_deployment("fx", "old")).id == "dup"
        assert client.stats.reads == 0


async def test_download_range_and_streamed_download(tmp_path: Path) -> None:
    blob = bytes(range(256)) * 100
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "Range" in request.headers:
            start, end = map(int, request.headers["Range"].removeprefix("bytes=").split("-"))
            return httpx.Response(206, content=blob[start : end + 1])
        return httpx.Response(200, content=blob)

    async with make_client(handler) as client:
        assert await client.download_deployment("fx", "d1", byte_range=(0, 9)) == blob[:10]
        target = tmp_path / "out.tar.gz"
        assert await client.download_deployment_to("fx", "d1", target) == len(blob)
    assert seen[0].headers["Range"] == "bytes=0-9"
    assert seen[0].url.path == "/v1/functions/fx/deployments/d1/download"
    assert target.read_bytes() == blob and not (tmp_path / "out.tar.gz.part").exists()


async def test_download_range_past_the_end_falls_back_to_whole_archive() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "Range" in request.headers:
            return error(416, "storage_invalid_range")
        return httpx.Response(200, content=b"tiny")

    async with make_client(handler) as client:
        assert await client.download_deployment("fx", "d1", byte_range=(0, 511)) == b"tiny"
        assert client.stats.reads == 2


async def test_download_range_ignored_by_server_is_sliced_locally() -> None:
    async with make_client(lambda r: httpx.Response(200, content=b"0123456789")) as client:
        assert await client.download_deployment("fx", "d1", byte_range=(2, 4)) == b"234"


async def test_activate_returns_function_and_cancel_returns_build() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/build"):
            return httpx.Response(200, json={"$id": "b1", "deploymentId": "d1", "status": "canceled"})
        return httpx.Response(200, json=fn_doc("fx", deployment="d1"))

    async with make_client(handler) as client:
        assert (await client.activate_deployment("fx", "d1")).deployment == "d1"
        assert (await client.cancel_build("fx", "d1")).status == "canceled"
        assert client.stats.by_method["PATCH"] == 2 and client.stats.writes == 2


async def test_ids_are_path_quoted() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return error(404, "function_not_found")

    async with make_client(handler) as client:
        assert await client.get_function("a/b") is None
    assert seen[0].url.raw_path == b"/v1/functions/a%2Fb"


async def test_stats_snapshot_and_reset() -> None:
    async with make_client(lambda r: httpx.Response(200, json={"total": 0, "variables": []})) as client:
        await client.list_variables("fx")
        snap = client.stats.snapshot()
        client.stats.reset()
        assert snap.reads == 1 and client.stats.reads == 0 and snap.by_method["GET"] == 1


# -- conformance with the official 1.6 OpenAPI spec -----------------------------------------------------------------

def _spec() -> dict[str, object]:
    return openapi_spec(SPEC_16)


def test_function_settings_are_the_specs_create_and_update_fields() -> None:
    paths = _spec()["paths"]  # type: ignore[index]
    create = set(paths["/functions"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"])  # type: ignore[index]
    update = set(paths["/functions/{functionId}"]["put"]["requestBody"]["content"]["application/json"]["schema"]["properties"])  # type: ignore[index]
    fields = {f.alias or n for n, f in FunctionSettings.model_fields.items()}
    newer = {name for name, since in SETTINGS_SINCE.items() if since != "1.6.0"}  # 1.9 and 2.5 settings
    assert fields - newer == update  # this spec is 1.6's
    assert (fields - newer) | {"functionId", "templateRepository", "templateOwner", "templateRootDirectory", "templateVersion"} == create


async def test_every_request_the_client_makes_is_in_the_spec(tmp_path: Path) -> None:
    import re

    paths: dict[str, dict[str, object]] = _spec()["paths"]  # type: ignore[assignment]
    templates = [(re.compile("^/v1" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in paths]
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        matches = [t for rx, t in templates if rx.match(path)]
        literal = [t for t in matches if "{" not in t]  # /functions/runtimes beats /functions/{functionId}
        template = (literal or matches or [path])[0]
        seen.append((request.method.lower(), template))
        body: dict[str, object] = {"$id": "x", "name": "x", "runtime": "python-3.12", "key": "k", "version": "1.6.2", "slug": "s"}
        for plural in ("functions", "runtimes", "specifications", "variables", "deployments", "executions"):
            body[plural] = []
        return httpx.Response(200, json=body)

    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"x" * 30)
    async with make_client(handler, chunk_size=16) as client:
        await client.list_functions()
        await client.get_function("f")
        await client.create_function("f", name="f", runtime="python-3.12")
        await client.update_function("f", name="f")
        await client.delete_function("f")
        await client.list_runtimes()
        await client.list_specifications()
        await client.list_variables("f")
        await client.create_variable("f", "k", "v")
        await client.update_variable("f", "v", "k", "v")
        await client.delete_variable("f", "v")
        await client.list_deployments("f")
        await client.get_deployment("f", "d")
        await client.create_deployment("f", archive, activate=True)
        await client.activate_deployment("f", "d")
        await client.delete_deployment("f", "d")
        await client.cancel_build("f", "d")
        await client.download_deployment("f", "d")
        await client.create_execution("f")
        await client.get_execution("f", "e")
        await client.list_executions("f")
    unknown = [(m, t) for m, t in seen if t not in paths or m not in paths[t]]
    assert not unknown, unknown
    assert len({t for _, t in seen}) >= 11


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (AppwriteConnectionError("GET /functions -> no response: timed out"), True),
        (AppwriteResponseError(status=503, type="general_server_error", message="down"), True),
        (AppwriteResponseError(status=429, type="general_rate_limit_exceeded", message="slow down"), True),
        (AppwriteResponseError(status=404, type="function_not_found", message="nope"), False),
        (AppwriteResponseError(status=400, type="general_argument_invalid", message="bad"), False),
        (ValueError("not an Appwrite error"), False),
    ],
)
def test_is_transient_separates_retryable_failures(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
