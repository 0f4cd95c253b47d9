"""The syncer suites that talk to a server run against the local server as Appwrite 1.6.2 and as 1.9.6.

`tests/conftest.py`'s `local_server` starts the server as `appwrite_version`; overriding that fixture here
parametrises every test that uses it (ids `[1.6.2]`, `[1.9.6]`). Tests that need other versions (1.8.1, 2.5.0)
start their own (`tests/syncer/test_server_versions.py`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LocalServer
from tests.syncer.support import Project, server_env

SERVER_VERSIONS = ("1.6.2", "1.9.6")


@pytest.fixture(params=SERVER_VERSIONS)
def appwrite_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(local_server: LocalServer) -> dict[str, str]:
    """The environment that points fnsync at the test's local server."""
    return server_env(local_server)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A one-function project (`api` with one variable), as the lock and unlock tests use it."""
    p = Project(tmp_path / "project")
    p.add("api", variables={"MODE": "prod"})
    p.write()
    return p
