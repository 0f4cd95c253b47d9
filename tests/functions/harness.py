"""Module-scoped servers for the executor tests: one server per test module, functions deployed once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.services.functions import Functions

from tests.conftest import LocalServer, _ThreadedUvicorn, start_local_server
from tests.helpers import wait_until


def sdk(server: LocalServer, key: bool = True) -> Functions:
    client = Client().set_endpoint(server.endpoint).set_project(server.project)
    if key:
        client.set_key(server.api_key)
    return Functions(client)


def app_context(runner: _ThreadedUvicorn) -> Any:
    """The running app's ServerContext (to reach services such as the executor)."""
    return runner.server.config.app.state.ctx


@contextmanager
def server_at(data_dir: Path, **services: Any) -> Iterator[tuple[LocalServer, _ThreadedUvicorn]]:
    """A server on `data_dir`; `services` (e.g. a test clock) are put in ctx.services before start."""
    from localserver import ServerConfig

    config = ServerConfig(data_dir=data_dir, project_id="test", api_key="k" * 32)
    runner = _ThreadedUvicorn(config)
    app_context(runner).services.update(services)
    runner.start()
    server = LocalServer(endpoint=f"http://127.0.0.1:{runner.port}/v1", project="test", api_key=config.api_key, data_dir=data_dir, config=config)
    try:
        yield server, runner
    finally:
        runner.stop()


def finished(functions: Functions, function_id: str, execution_id: str, timeout: float = 30) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        execution = functions.get_execution(function_id, execution_id)
        return execution if execution["status"] in ("completed", "failed") else None

    return wait_until(probe, timeout=timeout, what=f"execution {execution_id}")


__all__ = ["app_context", "finished", "sdk", "server_at", "start_local_server", "time"]
