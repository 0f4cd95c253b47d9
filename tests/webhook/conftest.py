"""Fixtures for webhook tests: a receiver app wired to the local server, and linked functions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import LocalServer, start_local_server
from tests.webhook.support import SECRET
from webhook import WebhookConfig, create_app

ADMIN = "admin-token-for-tests"
INSTALLATION = "inst1"


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[LocalServer]:
    """The shared local server, with one VCS installation so functions can be linked to repositories."""
    server, runner = start_local_server(tmp_path / "server-data", installations=(INSTALLATION,))
    try:
        yield server
    finally:
        runner.stop()


def receiver_config(local_server: LocalServer, data_dir: Path, **overrides: Any) -> WebhookConfig:
    settings: dict[str, Any] = {
        "secret": SECRET,
        "admin_token": ADMIN,
        "data_dir": data_dir,
        "allow_clone_urls": ("file://*", "https://github.com/*"),
        "endpoint": local_server.endpoint,
        "project": local_server.project,
        "api_key": local_server.api_key,
        "retry_base": 0.2,
        "retry_cap": 1.0,
    }
    settings.update(overrides)
    return WebhookConfig(**settings)


Receiver = Callable[..., Any]


@pytest.fixture
def receiver(local_server: LocalServer, tmp_path: Path) -> Receiver:
    """`async with receiver(**config_overrides) as client:` an AsyncTestClient with the lifespan running."""

    @asynccontextmanager
    async def start(run_workers: bool = True, **overrides: Any) -> AsyncIterator[AsyncTestClient]:
        config = receiver_config(local_server, tmp_path / "webhook-data", **overrides)
        app = create_app(config, run_workers=run_workers)
        async with AsyncTestClient(app=app, timeout=30) as client:
            yield client

    return start


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}
