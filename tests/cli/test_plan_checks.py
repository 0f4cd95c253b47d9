"""Half-made changes that could have been foreseen are caught at plan time (issue 13, point 4)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.support import MANIFEST, fnsync, new_project

pytestmark = pytest.mark.slow


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    new_project(tmp_path)
    return tmp_path


def server_functions(folder: Path) -> list[str]:
    (folder / "probe.yaml").write_text("version: 1\nfunctions: {}\n")
    result = fnsync("plan", "-f", "probe.yaml", "--json")
    return list(json.loads(result.stdout)["unmanaged"])


def test_archive_over_the_upload_limit_stops_apply_before_any_write(folder: Path) -> None:
    (folder / "fn" / "hello" / "data.bin").write_bytes(os.urandom(4000))  # random: gzip cannot shrink it
    result = fnsync("apply", env={"FNSYNC_UPLOAD_LIMIT": "1000"})
    assert result.exit_code == 1
    assert "code archive over the server's upload limit of 1,000 bytes: hello (" in result.stderr
    assert "nothing was changed" in result.stderr
    assert server_functions(folder) == []  # not even the function was created


def test_entrypoint_left_out_of_the_archive_is_caught_at_plan_time(folder: Path) -> None:
    (folder / "fn" / "hello" / "other.py").write_text("x = 1\n")
    (folder / "functions.yaml").write_text(MANIFEST + "    ignore: [main.py]\n")
    result = fnsync("apply")
    assert result.exit_code == 1
    assert "the entrypoint 'main.py' is not among the files packaged" in result.stderr
    assert server_functions(folder) == []

