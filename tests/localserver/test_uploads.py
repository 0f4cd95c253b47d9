"""Upload bad inputs through raw httpx: each gets Appwrite's error and leaves no deployment or file behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import wait_until
from tests.localserver.support import MAIN_PY, api_client, make_archive, post_function, running_server

pytestmark = pytest.mark.slow


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[Any]:
    """A server whose size limit is 64 KiB, so oversized uploads are cheap to make."""
    with running_server(tmp_path / "data", size_limit=64 * 1024) as (server, _):
        yield server


@pytest.fixture
def client(small_server: Any) -> Iterator[httpx.Client]:
    with api_client(small_server) as http:
        post_function(http)
        yield http


def assert_nothing_stored(client: httpx.Client, server: Any) -> None:
    assert client.get("/functions/fn/deployments").json()["total"] == 0
    for folder in ("code", "uploads", "builds"):
        assert not [p for p in (server.data_dir / folder).rglob("*") if p.is_file()], folder


def upload(client: httpx.Client, data: dict[str, str] | None = None, code: tuple[str, bytes] | None = ("code.tar.gz", b""), **headers: str) -> httpx.Response:
    files = {"code": code} if code is not None else None
    return client.post("/functions/fn/deployments", data=data if data is not None else {"activate": "true"}, files=files, headers=headers)


@pytest.mark.parametrize(
    ("data", "code", "headers", "status", "type_", "message"),
    [
        ({"activate": "true"}, ("code.zip", make_archive()), {}, 400, "storage_file_type_unsupported", None),
        ({"activate": "true"}, ("code.tar.gz", b""), {}, 400, "storage_file_empty", None),
        ({"activate": "true"}, None, {}, 400, "storage_file_empty", None),
        ({}, ("code.tar.gz", make_archive()), {}, 400, "general_argument_invalid", 'Param "activate" is not optional.'),
        ({"activate": "maybe"}, ("code.tar.gz", make_archive()), {}, 400, "general_argument_invalid", "Invalid `activate` param: Value must be a valid boolean"),
        ({"activate": "1", "entrypoint": ""}, ("code.tar.gz", make_archive()), {}, 400, "general_argument_invalid", None),
        ({"activate": "true"}, ("code.tar.gz", b"x" * (64 * 1024 + 1)), {}, 400, "storage_invalid_file_size", None),
        ({"activate": "true"}, ("code.tar.gz", b"x" * 100), {"Content-Range": f"bytes 0-99/{10**6}"}, 400, "storage_invalid_file_size", None),
        ({"activate": "true"}, ("code.tar.gz", b"x" * 100), {"Content-Range": "bytes 50-10/100"}, 400, "storage_invalid_content_range", None),
        ({"activate": "true"}, ("code.tar.gz", b"x" * 100), {"Content-Range": "bytes 0-200/100"}, 400, "storage_invalid_content_range", None),
        ({"activate": "true"}, ("code.tar.gz", b"x" * 100), {"Content-Range": "garbage"}, 400, "storage_invalid_content_range", None),
        ({"activate": "true"}, ("code.tar.gz", b"x" * 100), {"Content-Range": "bytes 0-99/200", "X-Appwrite-ID": "../etc"}, 400, "general_argument_invalid", None),
    ],
)
def test_bad_upload_is_refused_and_changes_nothing(client: httpx.Client, small_server: Any, data: dict[str, str], code: Any, headers: dict[str, str], status: int, type_: str, message: str | None) -> None:
    response = upload(client, data, code, **headers)
    body = response.json()
    assert (response.status_code, body["type"]) == (status, type_), body
    assert body["code"] == status and body["version"] == "1.6.2"
    if message:
        assert body["message"] == message
    assert_nothing_stored(client, small_server)


def test_function_must_exist_and_have_an_entrypoint(client: httpx.Client, small_server: Any) -> None:
    archive = ("code.tar.gz", make_archive())
    missing = client.post("/functions/nope/deployments", data={"activate": "true"}, files={"code": archive})
    assert (missing.status_code, missing.json()["type"]) == (404, "function_not_found")
    client.post("/functions", json={"functionId": "bare", "name": "Bare", "runtime": "python-3.11"})
    bare = client.post("/functions/bare/deployments", data={"activate": "true"}, files={"code": archive})
    assert (bare.status_code, bare.json()["type"]) == (404, "function_entrypoint_missing")
    assert client.get("/functions/bare/deployments").json()["total"] == 0
    assert_nothing_stored(client, small_server)


def test_cli_header_sets_type(client: httpx.Client) -> None:
    response = upload(client, {"activate": "false"}, ("code.tar.gz", make_archive()), **{"x-sdk-language": "cli"})
    assert response.status_code == 202 and response.json()["type"] == "cli" and response.json()["activate"] is False


def test_chunked_protocol_with_client_chosen_id(client: httpx.Client, small_server: Any) -> None:
    archive = make_archive({"main.py": MAIN_PY, "pad.txt": bytes(range(256)) * 40})
    total = len(archive)
    cut = total // 2
    first = upload(client, {"activate": "true"}, ("code.tar.gz", archive[:cut]), **{"Content-Range": f"bytes 0-{cut - 1}/{total}", "X-Appwrite-ID": "chosen"})
    assert first.status_code == 202, first.text
    assert first.json()["$id"] == "chosen" and first.json()["size"] == total and first.json()["status"] == ""
    # while incomplete: listed as processing, got as waiting, and nothing to download yet
    assert client.get("/functions/fn/deployments").json()["deployments"][0]["status"] == "processing"
    assert client.get("/functions/fn/deployments/chosen").json()["status"] == "waiting"
    assert client.get("/functions/fn/deployments/chosen/download").json()["type"] == "deployment_not_found"
    mismatch = upload(client, {"activate": "true"}, ("code.tar.gz", archive[cut:]), **{"Content-Range": f"bytes {cut}-{total - 1}/{total + 1}", "X-Appwrite-ID": "chosen"})
    assert mismatch.json()["type"] == "storage_invalid_content_range"
    last = upload(client, {"activate": "true"}, ("code.tar.gz", archive[cut:]), **{"Content-Range": f"bytes {cut}-{total - 1}/{total}", "X-Appwrite-ID": "chosen"})
    assert last.status_code == 202 and last.json()["$id"] == "chosen" and last.json()["size"] == total
    wait_until(lambda: client.get("/functions/fn/deployments/chosen").json()["status"] == "ready", timeout=30, what="chunked build")
    assert client.get("/functions/fn/deployments/chosen/download").content == archive
    assert not list((small_server.data_dir / "uploads").rglob("*.part"))
    again = upload(client, {"activate": "true"}, ("code.tar.gz", archive[:cut]), **{"Content-Range": f"bytes 0-{cut - 1}/{total}", "X-Appwrite-ID": "chosen"})
    assert (again.status_code, again.json()["type"]) == (409, "document_already_exists")
    assert client.get("/functions/fn/deployments").json()["total"] == 1


def test_new_activating_upload_clears_older_flags(client: httpx.Client) -> None:
    archive = ("code.tar.gz", make_archive())
    first = upload(client, {"activate": "true"}, archive).json()
    second = upload(client, {"activate": "true"}, archive).json()
    assert client.get(f"/functions/fn/deployments/{first['$id']}").json()["activate"] is False
    assert client.get(f"/functions/fn/deployments/{second['$id']}").json()["activate"] is True
