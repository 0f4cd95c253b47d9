"""Helpers the local-server tests share: a one-file Python function, archives, clients, functions, deployments.

SDK helpers take the official `Functions` service; `post_*` helpers take a raw httpx client (`api_client`), for
tests that need exact requests or headers.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from appwrite.input_file import InputFile

from tests.conftest import LocalServer, _ThreadedUvicorn, start_local_server
from tests.functions.deploy import deploy
from tests.functions.harness import sdk, server_at
from tests.helpers import wait_until

MAIN_PY = b"def main(context):\n    return context.res.text('hi')\n"
TERMINAL = ("ready", "failed", "canceled")


def make_archive(files: dict[str, bytes] | None = None) -> bytes:
    """A tar.gz of `files` (path -> content); by default just `main.py`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (files or {"main.py": MAIN_PY}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@contextmanager
def running_server(data_dir: Path, **overrides: Any) -> Iterator[tuple[LocalServer, _ThreadedUvicorn]]:
    """A server on `data_dir` with config `overrides` (size limit, emulated version, ...), stopped on exit."""
    server, runner = start_local_server(data_dir, **overrides)
    try:
        yield server, runner
    finally:
        runner.stop()


def api_client(server: LocalServer) -> httpx.Client:
    """Raw HTTP to the server's /v1 with its project and API key."""
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key}
    return httpx.Client(base_url=server.endpoint, headers=headers, timeout=30)


# --- through the SDK --------------------------------------------------------------------------------------


def create_function(functions: Any, function_id: str = "fn", runtime: str = "python-3.11", **settings: Any) -> dict[str, Any]:
    settings.setdefault("entrypoint", "main.py")
    return functions.create(function_id, "Fn", runtime, **settings)


def upload(functions: Any, function_id: str = "fn", files: dict[str, bytes] | None = None, activate: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Create a deployment of `files` (default: MAIN_PY); does not wait for its build."""
    code = InputFile.from_bytes(make_archive(files), "code.tar.gz")
    return functions.create_deployment(function_id, code, activate, **kwargs)


def wait_built(functions: Any, function_id: str, deployment_id: str) -> dict[str, Any]:
    """The deployment once its build is ready, failed or canceled."""
    return wait_until(
        lambda: (d := functions.get_deployment(function_id, deployment_id))["status"] in TERMINAL and d,
        timeout=30, what=f"deployment {deployment_id} to finish building",
    )


# --- raw HTTP ---------------------------------------------------------------------------------------------


def post_function(client: httpx.Client, function_id: str = "fn", runtime: str = "python-3.11", *,
                  headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    body = {"functionId": function_id, "name": "Fn", "runtime": runtime, "entrypoint": "main.py", **fields}
    response = client.post("/functions", json=body, headers=headers or {})
    assert response.status_code == 201, response.text
    return dict(response.json())


def post_deployment(client: httpx.Client, function_id: str = "fn", *, activate: bool = True, commands: str = "",
                    headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Upload MAIN_PY in one multipart request; asserts the 202."""
    data = {"activate": "true" if activate else "false", **({"commands": commands} if commands else {})}
    files = {"code": ("code.tar.gz", make_archive(), "application/gzip")}
    response = client.post(f"/functions/{function_id}/deployments", data=data, files=files, headers=headers or {})
    assert response.status_code == 202, response.text
    return dict(response.json())


def deployment_status(client: httpx.Client, deployment_id: str, function_id: str = "fn", headers: dict[str, str] | None = None) -> str:
    return str(client.get(f"/functions/{function_id}/deployments/{deployment_id}", headers=headers or {}).json()["status"])


# --- executor tests ---------------------------------------------------------------------------------------


@contextmanager
def runtime_env(tmp_path_factory: pytest.TempPathFactory, runtime: str, folder: str, entrypoint: str, *,
                variable: str, **settings: Any) -> Iterator[dict[str, Any]]:
    """A server with function `api` deployed from `tests/functions/<folder>` and variable MY_VAR=`variable`,
    while the server's own environment holds FNSYNC_SERVER_SECRET, which functions must never see."""
    os.environ["FNSYNC_SERVER_SECRET"] = "must-not-leak"
    try:
        with server_at(tmp_path_factory.mktemp(folder) / "data") as (server, runner):
            functions = sdk(server)
            functions.create("api", "api", runtime, entrypoint=entrypoint, **settings)
            functions.create_variable("api", "MY_VAR", variable)
            deploy(functions, "api", folder, entrypoint)
            yield {"server": server, "runner": runner, "functions": functions}
    finally:
        os.environ.pop("FNSYNC_SERVER_SECRET", None)


def run(env: dict[str, Any], path: str, **kwargs: Any) -> dict[str, Any]:
    """Execute `api` synchronously at `path`."""
    return env["functions"].create_execution("api", path=path, **kwargs)
