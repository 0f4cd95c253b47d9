"""`fnsync validate`: exit codes, plain and JSON output, the default file and FNSYNC_MANIFEST."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncer.cli import cli

REPO = Path(__file__).resolve().parents[2]
BAD = "version: 1\nfunctions:\n  api:\n    name: API\n    runtime: node-22\n    timeout: 0\n    execute: ['*']\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The repo's example manifest and code, copied so relative paths resolve the same way."""
    shutil.copy(REPO / "functions.yaml.example", tmp_path / "functions.yaml")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    return tmp_path / "functions.yaml"


def test_valid_manifest(runner: CliRunner, example: Path) -> None:
    result = runner.invoke(cli, ["validate", "-f", str(example)], env={"NO_COLOR": "1"})

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("functions.yaml: OK (3 functions)")


def test_default_file_is_functions_yaml_in_the_working_folder(runner: CliRunner, example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(example.parent)

    result = runner.invoke(cli, ["validate"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "functions.yaml: OK (3 functions)\n"


def test_manifest_from_environment_variable(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "other.yml"
    path.write_text("version: 1\nfunctions:\n  api: {name: API, runtime: node-22}\n")

    result = runner.invoke(cli, ["validate"], env={"FNSYNC_MANIFEST": str(path)})

    assert result.exit_code == 0, result.output
    assert "other.yml: OK (1 function)" in result.stdout


def test_invalid_manifest_lists_issues_and_exits_1(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("functions.yaml").write_text(BAD)

    result = runner.invoke(cli, ["validate"])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "functions.yaml:6: functions.api.timeout: must be between 1 and 900 seconds",
        'functions.yaml:7: functions.api.execute[0]: Wildcard role "*" has been replaced. Use "any" instead.',
    ]
    assert "functions.yaml: 2 issues" in result.stderr


def test_json_output(runner: CliRunner, tmp_path: Path, example: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)

    failed = runner.invoke(cli, ["validate", "--json", "-f", str(bad)])
    passed = runner.invoke(cli, ["validate", "--json", "--file", str(example)])

    assert failed.exit_code == 1 and passed.exit_code == 0
    report = json.loads(failed.stdout)
    assert report["ok"] is False and report["functions"] == 0
    assert [(i["line"], i["column"], i["field"]) for i in report["issues"]] == [
        (6, 5, "functions.api.timeout"),
        (7, 15, "functions.api.execute[0]"),
    ]
    assert json.loads(passed.stdout)["ok"] is True and json.loads(passed.stdout)["functions"] == 3


def test_missing_file_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["validate", "-f", str(tmp_path / "absent.yaml")])

    assert result.exit_code == 1
    assert "absent.yaml: manifest not found" in result.stdout


def test_issue_text_is_not_read_as_markup(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("version: 1\nfunctions:\n  api: {name: API, runtime: node-22, events: ['[bold]x']}\n")

    result = runner.invoke(cli, ["--color", "validate", "-f", str(path)])

    assert result.exit_code == 1
    assert "functions.api.events[0]: an event has 2 to 7" in result.stdout
