"""`apply --no-wait` on the embedded server never leaves builds interrupted behind a green result (issue 13, point 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import fnsync, new_project

pytestmark = pytest.mark.slow


def test_no_wait_on_the_embedded_server_waits_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    new_project(tmp_path)
    result = fnsync("apply", "--no-wait", "--json")
    assert result.exit_code == 0, result.output
    assert "--no-wait: waiting for the builds anyway" in result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True
    # The builds finished while the server ran: a later run (a new embedded server on the same state) finds them ready.
    listed = fnsync("deployments", "hello", "--json")
    assert listed.exit_code == 0, listed.output
    statuses = [d["status"] for d in json.loads(listed.stdout)["deployments"]]
    assert statuses == ["ready"], listed.stdout
