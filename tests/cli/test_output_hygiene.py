"""Output hygiene (issue 13, point 8): colors, -q, the plan once, prune.keep, JSON errors, help, suggestions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import MANIFEST, files_under, fnsync, new_project

pytestmark = pytest.mark.slow

ESC = "\x1b"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    new_project(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("root", "env"), [(["--no-color"], {}), ([], {"NO_COLOR": "1"})])
def test_no_color_turns_off_every_escape_code(folder: Path, root: list[str], env: dict[str, str]) -> None:
    # FORCE_COLOR makes rich colour even without a terminal: the switch must still win.
    colored = fnsync("apply", env={"FORCE_COLOR": "1"})
    assert ESC in colored.output  # the check can fail: colours are on by default here
    (folder / "fn" / "hello" / "main.py").write_text('def main(context):\n    return context.res.text("v2")\n')
    result = fnsync(*root, "apply", env={"FORCE_COLOR": "1", **env})
    assert result.exit_code == 0, result.output
    assert ESC not in result.stdout and ESC not in result.stderr


def test_quiet_prints_only_the_summary(folder: Path) -> None:
    planned = fnsync("-q", "plan")
    assert planned.exit_code == 0 and planned.stdout == "Plan: 1 to create, 0 to update, 0 to delete; 0 variable changes; 1 to deploy, 0 to rebuild.\n"
    assert planned.stderr == ""
    applied = fnsync("-q", "apply")
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.startswith("Apply complete: 1 created") and len(applied.stdout.splitlines()) == 1
    assert applied.stderr == ""


def test_apply_prints_the_plan_once(folder: Path) -> None:
    result = fnsync("apply")
    assert result.exit_code == 0, result.output
    assert result.output.count("fnsync will perform these actions") == 1
    assert result.output.count('function "hello" will be created') == 1


def test_unmanaged_list_leaves_out_prune_keep(folder: Path) -> None:
    extra = MANIFEST + "  kept:\n    name: Kept\n    runtime: python-3.12\n    path: fn/hello\n    entrypoint: main.py\n"
    extra += "  other:\n    name: Other\n    runtime: python-3.12\n    path: fn/hello\n    entrypoint: main.py\n"
    (folder / "functions.yaml").write_text(extra)
    assert fnsync("apply").exit_code == 0
    (folder / "functions.yaml").write_text("prune:\n  keep: [kept]\n" + MANIFEST)
    result = fnsync("plan", "--json")
    assert json.loads(result.stdout)["unmanaged"] == ["other"]
    text = fnsync("plan").stdout
    assert "  other" in text and "kept" not in text


def test_plan_json_with_an_invalid_manifest_prints_a_json_error(folder: Path) -> None:
    (folder / "functions.yaml").write_text(MANIFEST.replace("python-3.12", "python-3.12\n    timeout: soon"))
    result = fnsync("plan", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["kind"] == "error" and document["format_version"] == "1"
    assert document["issues"][0]["field"] == "functions.hello.timeout" and document["issues"][0]["line"] == 6
    assert "functions.hello.timeout" in result.stderr  # people still read the issues on stderr


def test_import_help_describes_its_fallbacks() -> None:
    text = fnsync("import", "--help").output
    assert "embedded local server of the output folder" in text and "--local" in text
    assert "settings only" in text and "A server without functions writes nothing" in text


def test_deployments_table_labels_the_code_hash(folder: Path) -> None:
    assert fnsync("apply").exit_code == 0
    result = fnsync("deployments", "hello")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[1]
    assert "fnsync code hash" in header and header.rstrip().endswith("commit")


@pytest.mark.parametrize(("typed", "meant"), [("aply", "apply"), ("importt", "import"), ("deployment", "deployments")])
def test_unknown_command_suggests_the_nearest(typed: str, meant: str) -> None:
    result = fnsync(typed)
    assert result.exit_code != 0
    assert f"No such command '{typed}'. Did you mean `fnsync {meant}`?" in result.output


DUPLICATE = MANIFEST + """\
    timeout: soon
  hello:
    name: Hello again
    runtime: python-3.12
    path: fn/hello
    entrypoint: main.py
    schedule: "every day"
    variables:
      MODE: a
      MODE: b
"""


@pytest.mark.parametrize("command", [["validate"], ["plan"], ["plan", "--json"]])
def test_a_duplicate_function_key_reports_the_issues_of_both_blocks(folder: Path, command: list[str]) -> None:
    (folder / "functions.yaml").write_text(DUPLICATE)
    before = files_under(folder)
    result = fnsync(*command)
    assert result.exit_code == 1
    assert (
        "functions.yaml:9: functions.hello: function 'hello' is defined again at functions.yaml:9 (first at functions.yaml:3); "
        "a function id must be unique: rename or remove one block (the issues of each block are listed)"
    ) in result.output
    assert "functions.yaml:8: functions.hello.timeout: must be a whole number (in the block of 'hello' at line 3)" in result.output
    assert "functions.yaml:14: functions.hello.schedule: " in result.output and "(in the block of 'hello' at line 9)" in result.output
    # duplicate keys elsewhere name both lines too
    assert (
        "functions.yaml:17: functions.hello.variables.MODE: duplicate key 'MODE' (first defined on line 16, again on line 17); "
        "YAML would keep only one of them: remove or rename one"
    ) in result.output
    if "--json" in command:
        lines = [(i["line"], i["field"]) for i in json.loads(result.stdout)["issues"]]
        assert lines == [(8, "functions.hello.timeout"), (9, "functions.hello"), (14, "functions.hello.schedule"),
                         (17, "functions.hello.variables.MODE")]
    assert files_under(folder) == before  # nothing written: no server started, no state, no cache
