"""`fnsync drift` end to end: apply with fnsync, change the server by hand with the official SDK, report it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from syncer.cli import cli
from syncer.drift import drift_report
from syncer.plan import Action, Change, ChangeKind, Plan
from syncer.state import ServerState
from tests.conftest import LocalServer
from tests.syncer.test_apply_e2e import Project


@pytest.fixture
def env(local_server: LocalServer) -> dict[str, str]:
    return {
        "APPWRITE_ENDPOINT": local_server.endpoint,
        "APPWRITE_PROJECT_ID": local_server.project,
        "APPWRITE_API_KEY": local_server.api_key,
        "TOKEN": "s3cret-token-value",
    }


def fnsync(project: Project, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, [*args[:1], "-f", str(project.path), *args[1:]], env=env, catch_exceptions=False)


@pytest.fixture
def applied(tmp_path: Path, env: dict[str, str]) -> Project:
    p = Project(tmp_path / "project")
    p.add("api", variables={"MODE": "prod", "TOKEN": "${TOKEN}"})
    p.add("cron", path=None, entrypoint="", schedule="0 3 * * *")
    p.write()
    result = fnsync(p, env, "apply", "--yes")
    assert result.exit_code == 0, result.output
    return p


def drift_json(project: Project, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    result = fnsync(project, env, "drift", "--json", *args)
    assert result.exit_code in (0, 2), result.output
    return result.exit_code, json.loads(result.stdout)


def variable_id(sdk: Any, function_id: str, key: str) -> str:
    return next(v["$id"] for v in sdk.list_variables(function_id)["variables"] if v["key"] == key)


def test_no_drift_exits_0(applied: Project, env: dict[str, str]) -> None:
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 0, result.output
    assert "No drift. The server matches functions.yaml." in result.stdout
    code, data = drift_json(applied, env)
    assert code == 0 and data["kind"] == "drift" and data["has_drift"] is False and data["drift"] == []


def test_hand_activated_older_deployment(applied: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    old = appwrite_sdk.get("api")["deployment"]
    applied.code("api", 2)
    applied.write()
    assert fnsync(applied, env, "apply", "--yes").exit_code == 0
    assert appwrite_sdk.get("api")["deployment"] != old

    appwrite_sdk.update_deployment("api", old)  # someone rolls back in the console
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 2, result.output
    assert f'function "api": on the server deployment {old} is active (code ' in result.stdout
    assert "; the manifest's code is " in result.stdout
    assert "Run `fnsync apply`" in result.stdout

    code, data = drift_json(applied, env)
    assert code == 2 and data["summary"]["code"] == 1
    (item,) = data["drift"]
    assert (item["address"], item["kind"]) == ("function.api.code", "code")
    assert item["server"]["deployment"] == old and item["server"]["code_hash"] != item["manifest"]["code_hash"]


def test_console_edited_variable(applied: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.update_variable("api", variable_id(appwrite_sdk, "api", "MODE"), "MODE", "dev")
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 2, result.output
    assert 'function "api": on the server variable MODE is now "dev"; the manifest says "prod"' in result.stdout
    assert 'function "api": on the server it is now not live' in result.stdout  # a variable write un-lives it

    code, data = drift_json(applied, env)
    items = {i["address"]: i for i in data["drift"]}
    assert items["function.api.variable.MODE"]["server"] == "dev" and items["function.api.variable.MODE"]["manifest"] == "prod"
    assert items["function.api.code"]["kind"] == "live"


def test_sensitive_variable_is_reported_without_values(applied: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.update_variable("api", variable_id(appwrite_sdk, "api", "TOKEN"), "TOKEN", "leaked-console-value")
    appwrite_sdk.create_variable("api", "EXTRA", "hand-added-secret")
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 2, result.output
    assert "on the server variable TOKEN is now (sensitive); the manifest says (sensitive)" in result.stdout
    assert "on the server variable EXTRA now exists ((sensitive)); the manifest does not set it" in result.stdout
    raw = fnsync(applied, env, "drift", "--json")
    for secret in ("s3cret-token-value", "leaked-console-value", "hand-added-secret"):
        assert secret not in result.output and secret not in raw.output


def test_settings_changed_by_hand(applied: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.update("cron", "Cron", runtime="python-3.12", timeout=30, schedule="0 4 * * *")
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 2, result.output
    assert 'function "cron": on the server timeout is now 30; the manifest says 15' in result.stdout
    assert 'function "cron": on the server schedule is now "0 4 * * *"; the manifest says "0 3 * * *"' in result.stdout
    code, data = drift_json(applied, env)
    fields = {(i["field"], i["server"], i["manifest"]) for i in data["drift"]}
    assert fields == {("timeout", 30, 15), ("schedule", "0 4 * * *", "0 3 * * *")}
    assert data["summary"]["settings"] == 2 and data["plan"]["kind"] == "plan"


def test_function_made_not_live(applied: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.update_variable("api", variable_id(appwrite_sdk, "api", "MODE"), "MODE", "prod")  # same value
    assert appwrite_sdk.get("api")["live"] is False
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 2, result.output
    assert 'function "api": on the server it is now not live' in result.stdout and "manifest expects it live" in result.stdout
    code, data = drift_json(applied, env)
    assert [(i["kind"], i["server"]) for i in data["drift"]] == [("live", {"live": False})]


def test_deleted_function_and_target(applied: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.delete("cron")
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 2
    assert 'function "cron": on the server it is missing' in result.stdout
    assert fnsync(applied, env, "drift", "--target", "api").exit_code == 0  # the other function only


def test_drift_writes_nothing(applied: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.update("cron", "Cron", runtime="python-3.12", timeout=30, schedule="0 3 * * *")
    before = appwrite_sdk.list()
    assert fnsync(applied, env, "drift").exit_code == 2
    assert fnsync(applied, env, "drift").exit_code == 2  # still there: nothing was "fixed"
    after = appwrite_sdk.list()
    assert before == after  # same functions, same $updatedAt: not one write (and no lock taken)


def test_unmanaged_counts_only_when_asked(applied: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.create("stray", "Stray", "python-3.12")
    plain = fnsync(applied, env, "drift")
    assert plain.exit_code == 0 and "stray" in plain.stdout and "not counted as drift" in plain.stdout
    counted = fnsync(applied, env, "drift", "--include-unmanaged")
    assert counted.exit_code == 2 and "counted as drift" in counted.stdout


def test_errors_exit_1(applied: Project, env: dict[str, str]) -> None:
    unknown = fnsync(applied, env, "drift", "--target", "nope")
    assert unknown.exit_code == 1 and "unknown --target: nope" in unknown.stderr
    unreachable = fnsync(applied, {**env, "APPWRITE_ENDPOINT": "http://127.0.0.1:9/v1"}, "drift")
    assert unreachable.exit_code == 1 and "server request failed" in unreachable.stderr
    applied.path.write_text("version: 1\nfunctions:\n  api:\n    nmae: x\n")
    bad = fnsync(applied, env, "drift")
    assert bad.exit_code == 1 and "functions.yaml:4" in bad.stderr


def test_report_is_only_presentation_of_the_plan() -> None:
    change = Change(
        kind=ChangeKind.FUNCTION,
        address="function.f",
        action=Action.UPDATE,
        before={"timeout": 30, "name": "F"},
        after={"timeout": 15, "name": "F"},
        function_id="f",
    )
    report = drift_report(Plan(changes=(change,)), ServerState())
    assert [i.message for i in report.items] == ['function "f": on the server timeout is now 30; the manifest says 15']
    assert report.has_drift and report.summary()["settings"] == 1
    assert not drift_report(Plan(unmanaged=("x",)), ServerState()).has_drift
    assert drift_report(Plan(unmanaged=("x",)), ServerState(), count_unmanaged=True).has_drift


def test_env_selects_the_environment_to_compare(applied: Project, env: dict[str, str]) -> None:
    doc = yaml.safe_load(applied.path.read_text())
    doc["environments"] = {"staging": {"functions": {"cron": {"schedule": "*/5 * * * *"}}}}
    applied.path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert fnsync(applied, env, "apply", "--env", "staging", "--yes").exit_code == 0
    assert fnsync(applied, env, "drift", "--env", "staging").exit_code == 0
    base = fnsync(applied, env, "drift")  # the base manifest still says 03:00
    assert base.exit_code == 2 and 'on the server schedule is now "*/5 * * * *"; the manifest says "0 3 * * *"' in base.stdout
