"""`fnsync completion` (click's machinery, exercised through a real process) and the pre-commit hook."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.syncer.support import run_cli

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FNSYNC = Path(sys.executable).parent / "fnsync"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    result = run_cli({}, "completion", shell)
    assert result.exit_code == 0, result.output
    assert "_FNSYNC_COMPLETE" in result.stdout and f"{shell}_complete" in result.stdout


def complete(words: str, cword: int) -> list[str]:
    env = {**os.environ, "_FNSYNC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    out = subprocess.run([str(FNSYNC)], env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split(",", 1)[1] for line in out.splitlines()]


def test_completion_completes_commands_options_and_choices() -> None:
    assert "plan" in complete("fnsync pl", 1) and "schema" in complete("fnsync sc", 1)
    assert complete("fnsync plan --form", 2) == ["--format"]
    assert complete("fnsync plan --format ", 3) == ["text", "json", "markdown"]
    assert complete("fnsync completion ", 2) == ["bash", "zsh", "fish"]


def test_completion_refuses_an_unknown_shell() -> None:
    result = run_cli({}, "completion", "powershell")
    assert result.exit_code != 0 and "powershell" in result.output


def test_pre_commit_hook_runs_fnsync_validate(tmp_path: Path) -> None:
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "fnsync-validate" and hook["language"] == "python" and hook["pass_filenames"] is False
    entry = shlex.split(hook["entry"])
    assert entry[0] == "fnsync"
    command = [str(FNSYNC), *entry[1:]]

    (tmp_path / "functions.yaml").write_text("version: 1\nfunctions:\n  api: {name: API, runtime: python-3.12}\n")
    ok = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "functions.yaml").write_text("version: 1\nfunctions:\n  api: {name: API, runtime: python-3.12, timout: 5}\n")
    bad = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "functions.yaml:3: functions.api.timout: unknown key" in bad.stderr + bad.stdout
