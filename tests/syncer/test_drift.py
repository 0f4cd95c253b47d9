"""`fnsync drift` end to end: apply with fnsync, change the server by hand with the official SDK, report it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer.drift import drift_report
from syncer.plan import Action, Change, ChangeKind, Plan
from syncer.secret_digests import RECORD_KEY
from syncer.state import ServerState
from tests.conftest import LocalServer
from tests.syncer.support import Project, console_set_variable, fnsync, open_client, running_server, server_env

pytestmark = pytest.mark.slow


@pytest.fixture
def env(local_server: LocalServer) -> dict[str, str]:
    return server_env(local_server, TOKEN="s3cret-token-value")


def make_applied(root: Path, env: dict[str, str]) -> Project:
    p = Project(root)
    p.add("api", variables={"MODE": "prod", "TOKEN": "${TOKEN}"})
    p.add("cron", path=None, entrypoint="", schedule="0 3 * * *")
    p.write()
    result = fnsync(p, env, "apply", "--yes")
    assert result.exit_code == 0, result.output
    return p


@pytest.fixture
def applied(tmp_path: Path, env: dict[str, str]) -> Project:
    return make_applied(tmp_path / "project", env)


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


def test_console_edited_variable(applied: Project, env: dict[str, str], appwrite_sdk: Any, appwrite_version: str) -> None:
    appwrite_sdk.update_variable("api", variable_id(appwrite_sdk, "api", "MODE"), "MODE", "dev")
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 2, result.output
    # 1.7+ says the server's value is not secret; on 1.6 fnsync's record says it applied MODE as plain.
    assert 'function "api": on the server variable MODE is now "dev"; the manifest says "prod"' in result.stdout
    assert 'function "api": on the server it is now not live' in result.stdout  # a variable write un-lives it

    code, data = drift_json(applied, env)
    items = {i["address"]: i for i in data["drift"]}
    assert items["function.api.variable.MODE"]["server"] == "dev"
    assert items["function.api.variable.MODE"]["manifest"] == "prod"
    assert items["function.api.code"]["kind"] == "live"


def test_sensitive_variable_is_reported_without_values(
    applied: Project, env: dict[str, str], local_server: LocalServer, appwrite_version: str
) -> None:
    console_set_variable(local_server, "api", "TOKEN", "leaked-console-value")  # a secret on 1.7+: stays one
    console_set_variable(local_server, "api", "EXTRA", "hand-added-secret")  # created secret on 1.7+
    result = fnsync(applied, env, "drift")
    assert result.exit_code == 2, result.output
    # 1.6 has no secret flag: fnsync's record says it applied TOKEN as sensitive; a key not in the manifest is unknown.
    assert "on the server variable TOKEN is now (sensitive); the manifest says (sensitive)" in result.stdout
    was = "(sensitive)" if appwrite_version != "1.6.2" else "(hidden: not known whether it was sensitive)"
    assert f"on the server variable EXTRA now exists {was}; the manifest does not set it" in result.stdout
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
    assert unreachable.exit_code == 1 and "cannot reach the server: nothing answers at 127.0.0.1:9" in unreachable.stderr
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


def test_digest_record_alone_is_not_drift() -> None:
    record = Change(
        kind=ChangeKind.VARIABLE,
        address=f"function.f.variable.{RECORD_KEY}",
        action=Action.UPDATE,
        before={"id": "v1", "value": "{}", "sensitive": False, "secret": False},
        after={"value": '{"fnsync":1}', "sensitive": False, "secret": False},
        reason="secret variables changed",
        function_id="f",
        key=RECORD_KEY,
    )
    rebuild = Change(
        kind=ChangeKind.CODE,
        address="function.f.code",
        action=Action.REBUILD,
        before={"deployment": "d1"},
        after={"deployment": "d1", "activate": True},
        reason="variable changes take effect after a rebuild",
        function_id="f",
    )
    report = drift_report(Plan(changes=(record, rebuild)), ServerState())
    assert report.items == () and not report.has_drift
    mode = record.model_copy(update={"key": "MODE", "address": "function.f.variable.MODE"})
    with_mode = drift_report(Plan(changes=(mode, record, rebuild)), ServerState())
    assert [(i.kind, i.key) for i in with_mode.items] == [("variable", "MODE"), ("live", "")]


async def edit_secret(server: LocalServer, function_id: str, key: str, value: str) -> None:
    """Change a secret variable by hand, speaking 1.8 like the console does."""
    async with open_client(server) as console:
        await console.server_version()
        variable = next(v for v in await console.list_variables(function_id) if v.key == key)
        assert variable.secret
        await console.update_variable(function_id, variable.id, key, value)


def test_secret_changed_on_1_8_reports_only_the_secret(tmp_path: Path) -> None:
    """On Appwrite 1.8 a hand-changed secret makes apply rewrite fnsync's digest record too; drift names the secret."""
    with running_server(tmp_path / "server18", emulate_version="1.8.1") as server18:
        env = server_env(server18, TOKEN="s3cret-token-value")
        applied = make_applied(tmp_path / "project", env)
        assert fnsync(applied, env, "drift").exit_code == 0
        asyncio.run(edit_secret(server18, "api", "TOKEN", "typed-in-the-console"))

        code, data = drift_json(applied, env)
        assert code == 2
        planned = {c["key"] for c in data["plan"]["changes"] if c["kind"] == "variable"}
        assert planned == {"TOKEN", RECORD_KEY}  # apply would rewrite both...
        variables = [i for i in data["drift"] if i["kind"] == "variable"]
        assert [i["key"] for i in variables] == ["TOKEN"]  # ...but only the secret is drift
        assert data["summary"]["variables"] == 1
        text = fnsync(applied, env, "drift")
        assert text.exit_code == 2 and RECORD_KEY not in text.stdout
        assert "on the server variable TOKEN is now (sensitive)" in text.stdout
        assert "secret changed on the server since fnsync recorded it" in text.stdout
