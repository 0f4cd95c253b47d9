"""Files holding secrets are the server user's alone, whatever the umask: data dir 0700; database, WAL, SHM,
key, discovery file, archives and upload slices 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from localserver.server import ensure_api_key
from tests.helpers import wait_until
from tests.localserver.support import api_client, deployment_status, make_archive, post_deployment, post_function, running_server


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_modes_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    data = tmp_path / "data"
    key = ensure_api_key(data, None)
    with running_server(data, api_key=key) as (server, _), api_client(server) as client:
        post_function(client)
        done = post_deployment(client)
        wait_until(lambda: deployment_status(client, done["$id"]) == "ready", timeout=30, what="build")
        archive = make_archive()
        half = len(archive) // 2
        pending = client.post("/functions/fn/deployments", data={"activate": "false"},
                              files={"code": ("code.tar.gz", archive[:half], "application/gzip")},
                              headers={"Content-Range": f"bytes 0-{half - 1}/{len(archive)}", "X-Appwrite-ID": "pending"})
        assert pending.status_code == 202, pending.text

        assert mode(data) == 0o700
        for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm", "api-key"):
            assert mode(data / name) == 0o600, name
        archives = list((data / "code").rglob("*.tar.gz"))
        slices = list((data / "uploads").rglob("*.part"))
        assert archives and slices
        for path in [*archives, *slices]:
            assert mode(path) == 0o600, path
        for folder in ("code", "builds", "uploads"):
            assert mode(data / folder) == 0o700, folder
        everything = [p for p in data.rglob("*") if not p.is_symlink()]
        readable_by_others = [p for p in everything if p.stat().st_mode & stat.S_IROTH and not _under_private_dir(p, data)]
        assert readable_by_others == []


def _under_private_dir(path: Path, data: Path) -> bool:
    """True when a 0700 folder between `data` and `path` already closes it to others."""
    for parent in path.relative_to(data).parents:
        folder = data / parent
        if folder != path and mode(folder) & 0o077 == 0:
            return True
    return False


def test_existing_key_file_is_tightened(tmp_path: Path, umask_022: None) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "api-key").write_text("standard_old\n")
    (data / "api-key").chmod(0o644)
    assert ensure_api_key(data, None) == "standard_old"
    assert mode(data / "api-key") == 0o600
