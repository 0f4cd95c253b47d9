"""Fixtures for webhook tests: a receiver app wired to the local server, and linked functions.

Every test that uses a store (the `database` fixture, directly or through `receiver` or `make_store`) runs
twice: on SQLite and on a real PostgreSQL (a throwaway cluster per test process, a fresh database per test,
copied from a migrated template); `database` is the URL (None = SQLite) and `await make_store()` opens the
test's store (again, as after a restart, when called twice).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import os

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import LocalServer, start_local_server
from tests.webhook.postgres import CI_INSTALL, Cluster, find_bin_dir
from tests.webhook.support import SECRET
from webhook import WebhookConfig, create_app
from webhook.deliveries import Store, open_store

STORES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        metafunc.parametrize("database", STORES, indirect=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster in a temp dir for the whole session; stopped (and its files removed) after."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = f"PostgreSQL server binaries (initdb, pg_ctl) not found; install them: {CI_INSTALL}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The store's URL: None (SQLite in the data dir) unless the test is parametrised onto PostgreSQL; that
    database is dropped after the test, so the cluster stays small (and quick to remove) however many tests run."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield None
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    yield url
    cluster.drop_database(url)


MakeStore = Callable[[], Awaitable[Store]]


@pytest.fixture
async def make_store(database: str | None, tmp_path: Path) -> AsyncIterator[MakeStore]:
    opened: list[Store] = []

    async def make() -> Store:
        store = open_store(database, tmp_path / "store", lease=5)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        try:
            await store.close()
        except Exception:  # noqa: BLE001 - a test may have closed it already
            pass

ADMIN = "admin-token-for-tests"
INSTALLATION = "inst1"


@pytest.fixture
def local_server(tmp_path: Path, appwrite_version: str) -> Iterator[LocalServer]:
    """The shared local server, with one VCS installation so functions can be linked to repositories; as Appwrite
    `appwrite_version` (1.6.2 unless a module parametrises it, as the end-to-end push tests do with 1.9.6)."""
    server, runner = start_local_server(
        tmp_path / "server-data", installations=(INSTALLATION,), appwrite_version=appwrite_version
    )
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
def receiver(local_server: LocalServer, tmp_path: Path, database: str | None) -> Receiver:
    """`async with receiver(**config_overrides) as client:` an AsyncTestClient with the lifespan running."""

    @asynccontextmanager
    async def start(run_workers: bool = True, **overrides: Any) -> AsyncIterator[AsyncTestClient]:
        config = receiver_config(local_server, tmp_path / "webhook-data", **{"database": database, **overrides})
        app = create_app(config, run_workers=run_workers)
        async with AsyncTestClient(app=app, timeout=30) as client:
            yield client

    return start


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}
