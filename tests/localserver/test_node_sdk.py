"""The official Node SDK for 1.6, `node-appwrite` 14.2.0, as a second outside judge of the local server.

Its scripts live in tests/judges/node/ and print JSON; `python tests/judges/install.py --npm` installs the SDK into
.cache/judges/npm/. Without it these tests skip, except under CI (CI=true), where they fail.

node-appwrite 14.2.0 uploads a chunked deployment oddly: every request carries the WHOLE archive as `code` and the
slice as an extra `file` part (its chunking code was written for Storage, whose param is `file`). Appwrite 1.6.2's
createDeployment ignores the undeclared `file`, numbers chunks from `Content-Range` alone and stores each request's
`code` whole (app/controllers/api/functions.php, utopia-php/storage 0.18 Local::upload/joinChunks), so a 2-chunk
upload ends up as two copies of the archive; the build unpacks the first. The raw-HTTP test below replays exactly
those requests, so the behaviour is pinned even where npm is missing.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import wait_until
from tests.judges.install import node_sdk_dir
from tests.localserver.support import api_client, make_archive, post_function

pytestmark = pytest.mark.slow

NODE_SCRIPTS = Path(__file__).resolve().parents[1] / "judges" / "node"
CHUNK = 5 * 1024 * 1024  # node-appwrite's Client.CHUNK_SIZE
ECHO_PY = b"""import json, os

def main(context):
    context.log("ran " + context.req.path)
    return context.res.json({
        "greeting": os.environ.get("GREETING"),
        "method": context.req.method,
        "path": context.req.path,
        "query": context.req.query,
        "body": context.req.body_text,
        "type": context.req.headers.get("content-type", ""),
    })
"""


def seven_megabyte_archive() -> bytes:
    """main.py plus 7 MiB of random bytes (which gzip cannot shrink): two 5 MiB chunks."""
    return make_archive({"main.py": ECHO_PY, "blob.bin": os.urandom(7 * 1024 * 1024)})


def unpacked_names(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return tar.getnames()


# --- without npm: node-appwrite's requests replayed with httpx ---------------------------------------------


def test_node_chunk_requests_are_stored_as_appwrite_stores_them(local_server: Any) -> None:
    archive = seven_megabyte_archive()
    total = len(archive)
    with api_client(local_server) as client:
        post_function(client)
        deployment_id = None
        replies = []
        for start in range(0, total, CHUNK):
            end = min(start + CHUNK, total)
            headers = {"Content-Range": f"bytes {start}-{end - 1}/{total}", **({"X-Appwrite-ID": deployment_id} if deployment_id else {})}
            files = [("code", ("code.tar.gz", archive, "application/gzip")), ("file", ("code.tar.gz", archive[start:end], "application/gzip"))]
            reply = client.post("/functions/fn/deployments", data={"activate": "true"}, files=files, headers=headers)
            assert reply.status_code == 202, reply.text
            deployment_id = reply.json()["$id"]
            replies.append(reply.json())
        assert len(replies) == 2
        assert replies[0]["size"] == total  # the upload's announced size while incomplete
        assert replies[-1]["size"] == 2 * total  # one whole `code` per chunk number
        wait_until(lambda: client.get(f"/functions/fn/deployments/{deployment_id}").json()["status"] in ("ready", "failed"), timeout=60, what="build")
        assert client.get(f"/functions/fn/deployments/{deployment_id}").json()["status"] == "ready"
        assert client.get(f"/functions/fn/deployments/{deployment_id}/download").content == archive + archive
        execution = client.post("/functions/fn/executions", json={"path": "/x"}).json()
        assert execution["status"] == "completed" and json.loads(execution["responseBody"])["path"] == "/x"


def test_undeclared_params_are_ignored(local_server: Any) -> None:
    """Appwrite reads only entrypoint, commands, code and activate: a big extra field or file changes nothing."""
    with api_client(local_server) as client:
        post_function(client)
        archive = make_archive()
        files = [("code", ("code.tar.gz", archive, "application/gzip")), ("extra", ("other.bin", os.urandom(200_000)))]
        data = {"activate": "true", "file": "x" * 200_000, "unknown": "y"}
        reply = client.post("/functions/fn/deployments", data=data, files=files)
        assert reply.status_code == 202, reply.text
        assert reply.json()["size"] == len(archive)
        assert client.get(f"/functions/fn/deployments/{reply.json()['$id']}/download").content == archive
        # a declared field keeps its limit
        long_entrypoint = client.post("/functions/fn/deployments", data={"activate": "true", "entrypoint": "m" * 1029},
                                      files={"code": ("code.tar.gz", make_archive())})
        assert long_entrypoint.status_code == 400 and "`entrypoint`" in long_entrypoint.json()["message"]


def test_a_lone_last_chunk_never_completes_as_on_appwrite(local_server: Any) -> None:
    """1.6.2 numbers a first request whose range reaches the end as chunk -1 of -1: the upload stays incomplete."""
    archive = make_archive()
    with api_client(local_server) as client:
        post_function(client)
        reply = client.post("/functions/fn/deployments", data={"activate": "true"}, files={"code": ("code.tar.gz", archive)},
                            headers={"Content-Range": f"bytes 0-{len(archive) - 1}/{len(archive)}"})
        assert reply.status_code == 202 and reply.json()["status"] == ""
        assert client.get(f"/functions/fn/deployments/{reply.json()['$id']}").json()["status"] == "waiting"
        assert client.get(f"/functions/fn/deployments/{reply.json()['$id']}/download").json()["type"] == "deployment_not_found"


def test_python_sdk_upload_of_exactly_one_chunk_never_completes(appwrite_sdk: Any, local_server: Any) -> None:
    """The official Python SDK 7.1.0 chunks from 5 MiB on (`size < chunk_size` goes whole), so an archive of exactly
    5 MiB goes as one ranged request: on 1.6.2 that is the lone last chunk above, and the deployment never builds."""
    from appwrite.input_file import InputFile

    with api_client(local_server) as client:
        post_function(client)
    created = appwrite_sdk.create_deployment("fn", InputFile.from_bytes(os.urandom(CHUNK), "code.tar.gz"), True)
    assert created["size"] == CHUNK and created["status"] == ""
    with api_client(local_server) as client:  # no archive was ever assembled
        assert client.get(f"/functions/fn/deployments/{created['$id']}/download").json()["type"] == "deployment_not_found"
        assert not list((local_server.data_dir / "code").rglob("*.tar.gz"))


# --- through node-appwrite 14.2.0 ----------------------------------------------------------------------------


@pytest.fixture
def node_appwrite() -> Path:
    found = node_sdk_dir("14.2.0")
    node = shutil.which("node")
    if found is None or node is None:
        why = "node is not installed" if node is None else "node-appwrite 14.2.0 is not installed (python tests/judges/install.py --npm)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return found


def run_judge(prefix: Path, server: Any, script: str, *args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "NODE_PATH": str(prefix / "node_modules"),
        "APPWRITE_ENDPOINT": server.endpoint,
        "APPWRITE_PROJECT": server.project,
        "APPWRITE_KEY": server.api_key,
    }
    done = subprocess.run(["node", str(NODE_SCRIPTS / script), *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.npm
def test_node_functions_and_variables(node_appwrite: Path, local_server: Any) -> None:
    out = run_judge(node_appwrite, local_server, "functions_variables.cjs")
    assert out["created"]["$id"] == "judge" and out["created"]["runtime"] == "python-3.11"
    assert out["fetched"]["name"] == "Judge" and out["listedTotal"] == 1
    assert out["updated"]["name"] == "Judge 2" and out["updated"]["timeout"] == 30
    assert out["runtimesTotal"] > 0 and "s-1vcpu-512mb" in out["specifications"]
    assert out["variable"]["key"] == "GREETING" and out["variable"]["value"] == "hello"
    assert out["duplicate"] == {"error": {"code": 409, "type": "variable_already_exists", "message": out["duplicate"]["error"]["message"]}}
    assert out["variablesTotal"] == 1 and out["gotVariable"]["$id"] == out["variable"]["$id"]
    assert out["changed"]["value"] == "bonjour" and out["varsOnFunction"] == [["GREETING", "bonjour"]]
    assert out["afterDeleteTotal"] == 0
    assert out["missing"]["error"]["code"] == 404 and out["missing"]["error"]["type"] == "function_not_found"
    assert out["gone"]["error"]["type"] == "function_not_found"


@pytest.mark.npm
@pytest.mark.slow
def test_node_chunked_deployment_executions_and_download(node_appwrite: Path, local_server: Any, tmp_path: Path) -> None:
    archive = seven_megabyte_archive()
    (tmp_path / "code.tar.gz").write_bytes(archive)
    out = run_judge(node_appwrite, local_server, "deploy_execute_download.cjs", str(tmp_path / "code.tar.gz"), str(tmp_path / "download.tar.gz"))

    assert [step["chunksUploaded"] for step in out["progress"]] == [1, 2]
    assert out["uploaded"]["size"] == 2 * len(archive)  # see the module docstring: one whole `code` per chunk
    assert out["built"]["status"] == "ready", out["built"]["buildLogs"]
    assert out["activeDeployment"] == out["uploaded"]["$id"]
    downloaded = (tmp_path / "download.tar.gz").read_bytes()
    assert out["downloadSize"] == len(downloaded) and downloaded == archive + archive
    assert unpacked_names(downloaded) == ["main.py", "blob.bin"]  # tar stops at the first copy's end, as the build did

    sync = out["sync"]
    assert sync["status"] == "completed" and sync["responseStatusCode"] == 200
    assert json.loads(sync["responseBody"]) == {
        "greeting": "hello from node", "method": "POST", "path": "/echo", "query": {"x": "1"}, "body": '{"n":1}', "type": "application/json",
    }
    assert out["queued"]["status"] == "waiting"
    assert out["finished"]["status"] == "completed" and out["finished"]["responseBody"] == ""
    assert "ran /later" in out["finished"]["logs"] and out["finished"]["requestMethod"] == "PUT"
    assert out["executionsTotal"] == 2
