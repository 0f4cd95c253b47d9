"""Deployment endpoints through the official `appwrite` 7.1.0 SDK and raw httpx: upload, chunked upload,
download (with ranges), activate, rebuild, cancel, delete, list queries and search."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.query import Query

from tests.helpers import SPEC_16, openapi_spec, wait_until
from tests.localserver.support import MAIN_PY, api_client, create_function, make_archive, upload, wait_built

pytestmark = pytest.mark.slow



def test_small_upload_builds_and_activates(appwrite_sdk: Any) -> None:
    create_function(appwrite_sdk)
    created = upload(appwrite_sdk)
    assert created["status"] == "" and created["type"] == "manual" and created["resourceType"] == "functions"
    assert created["activate"] is True and created["entrypoint"] == "main.py"
    done = wait_built(appwrite_sdk, "fn", created["$id"])
    assert done["status"] == "ready", done["buildLogs"]
    assert done["buildId"] and done["buildSize"] > 0 and isinstance(done["buildTime"], int)
    function = appwrite_sdk.get("fn")
    assert function["deployment"] == created["$id"] and function["live"] is True
    listed = appwrite_sdk.list_deployments("fn")
    assert listed["total"] == 1 and listed["deployments"][0]["status"] == "ready"


def test_models_match_the_openapi_spec(appwrite_sdk: Any, local_server: Any) -> None:
    schemas = openapi_spec(SPEC_16)["components"]["schemas"]
    create_function(appwrite_sdk)
    created = upload(appwrite_sdk)
    assert list(created) == list(schemas["deployment"]["properties"])
    wait_built(appwrite_sdk, "fn", created["$id"])
    with api_client(local_server) as client:
        # a ready build cannot be canceled; a fresh incomplete upload can: both paths return spec shapes
        assert client.patch(f"/functions/fn/deployments/{created['$id']}/build").json()["type"] == "build_already_completed"
        part = make_archive()
        first = client.post(
            "/functions/fn/deployments", data={"activate": "false"}, files={"code": ("code.tar.gz", part[:10])},
            headers={"Content-Range": f"bytes 0-9/{len(part)}"},
        ).json()
        build = client.patch(f"/functions/fn/deployments/{first['$id']}/build").json()
    assert list(build) == list(schemas["build"]["properties"])
    assert build["status"] == "canceled" and build["deploymentId"] == first["$id"]


def test_chunked_upload_and_download_round_trip(appwrite_sdk: Any, local_server: Any, tmp_path: Path) -> None:
    create_function(appwrite_sdk)
    archive = tmp_path / "code.tar.gz"
    archive.write_bytes(make_archive({"main.py": MAIN_PY, "blob.bin": os.urandom(6 * 1024 * 1024)}))
    size = archive.stat().st_size
    assert size > 5 * 1024 * 1024  # random bytes don't compress: the SDK must chunk
    created = appwrite_sdk.create_deployment("fn", InputFile.from_path(str(archive)), True)
    assert created["size"] == size
    assert wait_built(appwrite_sdk, "fn", created["$id"])["status"] == "ready"
    assert appwrite_sdk.list_deployments("fn")["total"] == 1
    assert appwrite_sdk.get_deployment_download("fn", created["$id"]) == archive.read_bytes()

    original = archive.read_bytes()
    url = f"/functions/fn/deployments/{created['$id']}/download"
    with api_client(local_server) as client:
        whole = client.get(url)
        assert whole.status_code == 200 and whole.headers["content-type"] == "application/gzip"
        assert whole.headers["content-disposition"] == f'attachment; filename="{created["$id"]}.tar.gz"'
        part = client.get(url, headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206 and part.content == original[100:1100]
        assert part.headers["content-range"] == f"bytes 100-1099/{size}" and part.headers["accept-ranges"] == "bytes"
        tail = client.get(url, headers={"Range": f"bytes={size - 10}-"})
        assert tail.status_code == 206 and tail.content == original[-10:]
        for bad in ("bytes=5-5", f"bytes=0-{size}", "items=0-10", "bytes=abc"):
            response = client.get(url, headers={"Range": bad})
            assert response.status_code == 416 and response.json()["type"] == "storage_invalid_range", bad


def test_inactive_upload_waits_for_patch(appwrite_sdk: Any) -> None:
    create_function(appwrite_sdk)
    first = upload(appwrite_sdk)
    wait_built(appwrite_sdk, "fn", first["$id"])
    second = upload(appwrite_sdk, activate=False)
    assert wait_built(appwrite_sdk, "fn", second["$id"])["status"] == "ready"
    assert appwrite_sdk.get("fn")["deployment"] == first["$id"]
    function = appwrite_sdk.update_deployment("fn", second["$id"])
    assert function["deployment"] == second["$id"] and "vars" in function
    assert appwrite_sdk.get("fn")["deployment"] == second["$id"]


def test_patch_needs_a_ready_build(appwrite_sdk: Any, local_server: Any) -> None:
    create_function(appwrite_sdk)
    broken = upload(appwrite_sdk, commands="exit 3")
    assert wait_built(appwrite_sdk, "fn", broken["$id"])["status"] == "failed"
    with pytest.raises(AppwriteException) as error:
        appwrite_sdk.update_deployment("fn", broken["$id"])
    assert error.value.type == "build_not_ready" and error.value.code == 400
    with api_client(local_server) as client:
        part = make_archive()
        pending = client.post(
            "/functions/fn/deployments", data={"activate": "true"}, files={"code": ("code.tar.gz", part[:10])},
            headers={"Content-Range": f"bytes 0-9/{len(part)}"},
        ).json()
    assert appwrite_sdk.get_deployment("fn", pending["$id"])["status"] == "waiting"
    with pytest.raises(AppwriteException) as error:
        appwrite_sdk.update_deployment("fn", pending["$id"])
    assert error.value.type == "build_not_found" and error.value.code == 404
    assert appwrite_sdk.get("fn")["deployment"] == ""


def test_rebuild_copies_code_with_current_settings(appwrite_sdk: Any) -> None:
    create_function(appwrite_sdk, entrypoint="other.py")
    files = {"main.py": MAIN_PY, "other.py": MAIN_PY}
    source = upload(appwrite_sdk, files=files, entrypoint="main.py")
    assert wait_built(appwrite_sdk, "fn", source["$id"])["status"] == "ready"
    assert appwrite_sdk.create_build("fn", source["$id"]) == b""  # 204: no body, no id
    listed = appwrite_sdk.list_deployments("fn", [Query.order_desc("$createdAt"), Query.limit(1)])
    rebuilt = listed["deployments"][0]
    assert rebuilt["$id"] != source["$id"] and rebuilt["entrypoint"] == "other.py"
    done = wait_built(appwrite_sdk, "fn", rebuilt["$id"])
    assert done["status"] == "ready", done["buildLogs"]
    assert appwrite_sdk.get_deployment_download("fn", rebuilt["$id"]) == appwrite_sdk.get_deployment_download("fn", source["$id"])
    assert appwrite_sdk.get("fn")["deployment"] == rebuilt["$id"]  # `activate` was copied
    with pytest.raises(AppwriteException) as error:
        appwrite_sdk.create_build("fn", "nope")
    assert error.value.type == "deployment_not_found"


def test_cancel_kills_the_build(appwrite_sdk: Any) -> None:
    create_function(appwrite_sdk)
    slow = upload(appwrite_sdk, commands="echo started; sleep 60")
    wait_until(lambda: appwrite_sdk.get_deployment("fn", slow["$id"])["status"] == "building", timeout=20, what="build to start")
    build = appwrite_sdk.update_deployment_build("fn", slow["$id"])
    assert build["status"] == "canceled" and build["deploymentId"] == slow["$id"]
    assert appwrite_sdk.get_deployment("fn", slow["$id"])["status"] == "canceled"
    # a second, fast deployment builds while the canceled one stays canceled and never activates
    quick = upload(appwrite_sdk, activate=False)
    assert wait_built(appwrite_sdk, "fn", quick["$id"])["status"] == "ready"
    assert appwrite_sdk.get_deployment("fn", slow["$id"])["status"] == "canceled"
    assert appwrite_sdk.get("fn")["deployment"] == ""
    with pytest.raises(AppwriteException) as error:
        appwrite_sdk.update_deployment_build("fn", quick["$id"])
    assert error.value.type == "build_already_completed"


def test_delete_clears_active_deployment_and_files(appwrite_sdk: Any, local_server: Any) -> None:
    create_function(appwrite_sdk)
    created = upload(appwrite_sdk)
    wait_built(appwrite_sdk, "fn", created["$id"])
    data = local_server.data_dir
    assert any(data.joinpath("code").rglob(f"{created['$id']}*"))
    assert appwrite_sdk.delete_deployment("fn", created["$id"]) == b""
    assert appwrite_sdk.get("fn")["deployment"] == ""
    assert not any(data.joinpath("code").rglob(f"{created['$id']}*"))
    assert not any(data.joinpath("builds").rglob(created["$id"]))
    for call in (appwrite_sdk.get_deployment, appwrite_sdk.delete_deployment, appwrite_sdk.get_deployment_download):
        with pytest.raises(AppwriteException) as error:
            call("fn", created["$id"])
        assert error.value.type == "deployment_not_found"


def test_list_queries_and_search(appwrite_sdk: Any, local_server: Any) -> None:
    create_function(appwrite_sdk)
    files = {"main.py": MAIN_PY, "alpha.py": MAIN_PY, "beta.py": MAIN_PY}
    ids = [upload(appwrite_sdk, files=files, entrypoint=name, activate=False)["$id"] for name in ("main.py", "alpha.py", "beta.py")]
    for deployment_id in ids:
        wait_built(appwrite_sdk, "fn", deployment_id)
    everything = appwrite_sdk.list_deployments("fn")
    assert [d["$id"] for d in everything["deployments"]] == ids and everything["total"] == 3
    only = appwrite_sdk.list_deployments("fn", [Query.equal("entrypoint", "alpha.py")])
    assert only["total"] == 1 and only["deployments"][0]["$id"] == ids[1]
    page = appwrite_sdk.list_deployments("fn", [Query.order_desc("$createdAt"), Query.limit(2)])
    assert page["total"] == 3 and [d["$id"] for d in page["deployments"]] == ids[:0:-1]
    assert appwrite_sdk.list_deployments("fn", [Query.equal("activate", False), Query.greater_than("size", 0)])["total"] == 3
    assert [d["$id"] for d in appwrite_sdk.list_deployments("fn", search="beta")["deployments"]] == [ids[2]]
    assert [d["$id"] for d in appwrite_sdk.list_deployments("fn", search=ids[0])["deployments"]] == [ids[0]]
    with pytest.raises(AppwriteException) as error:
        appwrite_sdk.list_deployments("fn", [Query.equal("status", "ready")])
    assert error.value.code == 400 and "status" in error.value.message
    with api_client(local_server) as client:
        empty = client.get("/functions/fn/deployments", params={"search": ""})
        assert empty.status_code == 400 and empty.json()["type"] == "general_argument_invalid"
        assert client.get("/functions/missing/deployments").json()["type"] == "function_not_found"
        assert client.get("/functions/_bad/deployments").json()["type"] == "general_argument_invalid"


def test_deployment_of_another_function_is_not_found(appwrite_sdk: Any) -> None:
    create_function(appwrite_sdk, "one")
    create_function(appwrite_sdk, "two")
    created = upload(appwrite_sdk, "one")
    wait_built(appwrite_sdk, "one", created["$id"])
    for call in (appwrite_sdk.get_deployment, appwrite_sdk.update_deployment, appwrite_sdk.delete_deployment, appwrite_sdk.get_deployment_download):
        with pytest.raises(AppwriteException) as error:
            call("two", created["$id"])
        assert error.value.type == "deployment_not_found"
    assert appwrite_sdk.get("two")["deployment"] == "" and appwrite_sdk.get("one")["deployment"] == created["$id"]
