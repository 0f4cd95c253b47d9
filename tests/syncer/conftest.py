"""The syncer suites that talk to a server run against the local server as Appwrite 1.6.2 and as 1.9.6.

`tests/conftest.py`'s `local_server` starts the server as `appwrite_version`; overriding that fixture here
parametrises every test that uses it (ids `[1.6.2]`, `[1.9.6]`). Tests that need other versions (1.8.1, 2.5.0)
start their own (`tests/syncer/test_server_versions.py`).
"""

from __future__ import annotations

import pytest

SERVER_VERSIONS = ("1.6.2", "1.9.6")


@pytest.fixture(params=SERVER_VERSIONS)
def appwrite_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)
