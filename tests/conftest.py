"""Shared fixtures: a real local server on a loopback socket, and the official Appwrite SDK pointed at it."""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from localserver import ServerConfig, create_app
from tests.helpers import wait_until


@dataclass
class LocalServer:
    endpoint: str  # e.g. http://127.0.0.1:54321/v1
    project: str
    api_key: str
    data_dir: Path
    config: ServerConfig


class _ThreadedUvicorn:
    """uvicorn in a daemon thread on 127.0.0.1, port 0; the bound port is read back from the socket."""

    def __init__(self, config: ServerConfig) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        app = create_app(config.model_copy(update={"public_endpoint": f"http://127.0.0.1:{self.port}/v1"}))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, what="local server start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


def start_local_server(data_dir: Path, **overrides: object) -> tuple[LocalServer, _ThreadedUvicorn]:
    settings: dict[str, object] = {"project_id": "test", "api_key": secrets.token_hex(16), **overrides}
    config = ServerConfig(data_dir=data_dir, **settings)  # type: ignore[arg-type]
    runner = _ThreadedUvicorn(config)
    runner.start()
    server = LocalServer(
        endpoint=f"http://127.0.0.1:{runner.port}/v1",
        project=config.project_id,
        api_key=config.api_key,
        data_dir=data_dir,
        config=config,
    )
    return server, runner


@pytest.fixture
def appwrite_version() -> str:
    """The Appwrite version `local_server` answers as. Override in a conftest to run a directory against others:

        @pytest.fixture(params=["1.6.2", "1.9.6"])
        def appwrite_version(request): return request.param
    """
    return "1.6.2"


@pytest.fixture
def local_server(tmp_path: Path, appwrite_version: str) -> Iterator[LocalServer]:
    """A fresh local server per test, on its own data dir, answering as `appwrite_version` (no creation limit)."""
    server, runner = start_local_server(tmp_path / "server-data", appwrite_version=appwrite_version)
    try:
        yield server
    finally:
        runner.stop()


@pytest.fixture
def appwrite_sdk(local_server: LocalServer):  # type: ignore[no-untyped-def]
    """The official `appwrite` 7.1.0 SDK's Functions service, pointed at the local server."""
    from appwrite.client import Client
    from appwrite.services.functions import Functions

    client = Client()
    client.set_endpoint(local_server.endpoint).set_project(local_server.project).set_key(local_server.api_key)
    return Functions(client)
