"""Connection errors name the target and the fix; a refused key is never retried (issue 13, point 2)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli.support import fnsync, new_project
from tests.conftest import LocalServer


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    new_project(tmp_path)
    return tmp_path


def env_for(server: LocalServer, **override: str) -> dict[str, str]:
    return {"APPWRITE_ENDPOINT": server.endpoint, "APPWRITE_PROJECT_ID": server.project, "APPWRITE_API_KEY": server.api_key, **override}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_endpoint_without_v1_suggests_it(folder: Path, local_server: LocalServer) -> None:
    bare = local_server.endpoint.removesuffix("/v1")
    result = fnsync("plan", env=env_for(local_server, APPWRITE_ENDPOINT=bare))
    assert result.exit_code == 1
    assert f"APPWRITE_ENDPOINT is '{bare}', which lacks the API path" in result.stderr
    assert f"use {bare}/v1" in result.stderr


def test_endpoint_without_scheme_says_so_without_python_text(folder: Path) -> None:
    result = fnsync("plan", "--endpoint", "appwrite.example.com/v1", env={"APPWRITE_PROJECT_ID": "p", "APPWRITE_API_KEY": "k"})
    assert result.exit_code == 1
    assert "--endpoint is 'appwrite.example.com/v1', which has no http:// or https://" in result.stderr
    assert "use https://appwrite.example.com/v1" in result.stderr
    assert "ValueError" not in result.output and "Traceback" not in result.output


def test_nothing_listening_names_host_and_port(folder: Path) -> None:
    port = free_port()
    result = fnsync("plan", env={"APPWRITE_ENDPOINT": f"http://127.0.0.1:{port}/v1", "APPWRITE_PROJECT_ID": "p", "APPWRITE_API_KEY": "k"})
    assert result.exit_code == 1
    assert f"nothing answers at 127.0.0.1:{port} (connection refused)" in result.stderr
    assert "ConnectError" not in result.stderr


def test_https_to_a_plain_http_server_in_plain_words_and_not_retried(folder: Path, local_server: LocalServer) -> None:
    https = local_server.endpoint.replace("http://", "https://")
    result = fnsync("plan", env=env_for(local_server, APPWRITE_ENDPOINT=https))
    assert result.exit_code == 1
    assert "does not speak TLS (https) on that port: if the server has no TLS, use http://" in result.stderr
    assert "retry" not in result.stderr and "SSL:" not in result.stderr


def test_wrong_key_is_not_retried_and_names_the_variable(folder: Path, local_server: LocalServer) -> None:
    result = fnsync("plan", env=env_for(local_server, APPWRITE_API_KEY="not-the-key"))
    assert result.exit_code == 1
    assert "401 user_unauthorized" in result.stderr and "check APPWRITE_API_KEY" in result.stderr
    # The cause of the old `ReadError; retry 1/4`: requests sent side by side kept running after the 401 and met
    # a closed client. They are cancelled now, and nothing is retried.
    assert "ReadError" not in result.stderr and "retry" not in result.stderr
    assert "not-the-key" not in result.output


def test_wrong_project_names_the_variable(folder: Path, local_server: LocalServer) -> None:
    result = fnsync("plan", env=env_for(local_server, APPWRITE_PROJECT_ID="no-such-project"))
    assert result.exit_code == 1
    assert "404 project_not_found" in result.stderr and "Check APPWRITE_PROJECT_ID" in result.stderr


KEY_TELLER = """\
def main(context):
    return context.res.text(context.req.headers["x-appwrite-key"])
"""


def test_missing_scope_is_named(folder: Path, local_server: LocalServer) -> None:
    """A key with functions.read only (what an execution of a function with that scope receives) cannot apply."""
    (folder / "fn" / "teller").mkdir(parents=True)
    (folder / "fn" / "teller" / "main.py").write_text(KEY_TELLER)
    manifest = (
        "version: 1\nfunctions:\n  teller:\n    name: Teller\n    runtime: python-3.12\n    path: fn/teller\n"
        "    entrypoint: main.py\n    scopes: [functions.read]\n    execute: [any]\n"
    )
    (folder / "functions.yaml").write_text(manifest)
    env = env_for(local_server)
    assert fnsync("apply", "--yes", env=env).exit_code == 0
    executed = fnsync("exec", "teller", env=env)
    assert executed.exit_code == 0, executed.output
    scoped_key = executed.stdout.split("\n\n", 1)[1].splitlines()[0]  # the body, after status and headers
    (folder / "fn" / "teller" / "main.py").write_text(KEY_TELLER + "# changed\n")
    result = fnsync("apply", "--yes", env=env_for(local_server, APPWRITE_API_KEY=scoped_key))
    assert result.exit_code == 1
    assert "The API key lacks the scope functions.write" in result.stderr
    assert "retry" not in result.stderr
