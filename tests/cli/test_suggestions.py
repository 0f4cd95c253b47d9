"""Suggestions that help (issue 13, point 3): runtimes by family and version, quoting schedules, cron fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import fnsync, new_project

HEAD = "version: 1\nfunctions:\n  hello:\n    name: Hello\n    path: fn/hello\n    entrypoint: main.py\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    new_project(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("written", "meant"), [("node-20", "node-20.0"), ("node-22.0", "node-22")])
def test_plan_suggests_the_family_and_nearest_version(folder: Path, written: str, meant: str) -> None:
    (folder / "functions.yaml").write_text(HEAD + f"    runtime: {written}\n")
    result = fnsync("plan")  # the embedded server answers as 1.9.6, which spells them node-20.0 and node-22
    assert result.exit_code == 1
    assert f"runtime {written!r} is not offered by the server (did you mean {meant!r}?)" in result.stderr


def test_validate_warns_about_a_runtime_no_known_version_offers(folder: Path) -> None:
    (folder / "functions.yaml").write_text(HEAD + "    runtime: node-20\n")
    result = fnsync("validate")
    assert result.exit_code == 0  # a warning: a server may be newer than fnsync
    assert "functions.yaml:7: functions.hello.runtime: 'node-20' is not a runtime of any Appwrite version" in result.stderr
    assert "(did you mean 'node-20.0'?)" in result.stderr
    (folder / "functions.yaml").write_text(HEAD + "    runtime: node-20.0\n")
    assert "warning" not in fnsync("validate").stderr


def test_unquoted_schedule_says_to_quote_it(folder: Path) -> None:
    (folder / "functions.yaml").write_text(HEAD + "    runtime: python-3.12\n    schedule: */5 * * * *\n")
    result = fnsync("validate")
    assert result.exit_code == 1
    assert 'functions.yaml:8: YAML syntax error' in result.stdout
    assert 'quote the value: schedule: "*/5 * * * *"' in result.stdout


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("0 25 * * *", "the hour field (25) has 25, outside 0-23"),
        ("0 3 * 13 *", "the month field (13) has 13, outside 1-12"),
        ("61 * * * *", "the minute field (61) has 61, outside 0-59"),
        ("*/0 * * * *", "the minute field (*/0) has a step of 0"),
    ],
)
def test_cron_errors_name_the_field(folder: Path, schedule: str, message: str) -> None:
    (folder / "functions.yaml").write_text(HEAD + f"    runtime: python-3.12\n    schedule: \"{schedule}\"\n")
    result = fnsync("validate")
    assert result.exit_code == 1
    assert f"functions.yaml:8: functions.hello.schedule: not a valid cron expression: {message}" in result.stdout
