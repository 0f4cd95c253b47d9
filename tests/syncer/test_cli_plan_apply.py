"""`fnsync plan` / `fnsync apply` end to end through click, against the real local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from syncer.cli import cli
from syncer.connection import resolve_connection
from syncer.manifest.models import Manifest
from tests.conftest import LocalServer
from tests.syncer.support import Project, fnsync, server_env

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "project")
    p.add("api", execute=["any"], variables={"MODE": "prod"})
    p.add("cron", schedule="0 3 * * *")
    p.write()
    return p


@pytest.fixture
def env(local_server: LocalServer) -> dict[str, str]:
    return server_env(local_server)


def test_plan_apply_plan_cycle_with_detailed_exitcode(project: Project, env: dict[str, str]) -> None:
    first = fnsync(project, env, "plan", "--detailed-exitcode")
    assert first.exit_code == 2, first.output
    assert '+ function "api" will be created' in first.stdout
    assert "+ variable MODE = \"prod\"" in first.stdout
    assert "next runs:" in first.stdout and "03:00 UTC" in first.stdout
    assert "Plan: 2 to create" in first.stdout

    applied = fnsync(project, env, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete" in applied.stdout

    again = fnsync(project, env, "plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.stdout

    noop = fnsync(project, env, "apply")  # nothing to do: no confirmation needed, exit 0
    assert noop.exit_code == 0 and "No changes" in noop.stdout


def test_apply_without_terminal_or_yes_refuses_and_writes_nothing(project: Project, env: dict[str, str], local_server: LocalServer, appwrite_sdk) -> None:  # type: ignore[no-untyped-def]
    result = fnsync(project, env, "apply")
    assert result.exit_code == 1
    assert "refusing to apply" in result.stderr and "--yes" in result.stderr
    assert appwrite_sdk.list()["total"] == 0


def test_plan_json_schema(project: Project, env: dict[str, str]) -> None:
    result = fnsync(project, env, "plan", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format_version"] == "1" and data["kind"] == "plan" and data["has_changes"] is True
    assert data["summary"] == {"create": 2, "update": 0, "delete": 0, "variables": 1, "deploy": 2, "rebuild": 0}
    change = data["changes"][0]
    assert set(change) == {"address", "kind", "action", "function_id", "key", "reason", "changed_fields", "before", "after"}
    assert (change["address"], change["action"]) == ("function.api", "create")
    code = next(c for c in data["changes"] if c["kind"] == "code")
    assert set(code["after"]) >= {"code_hash", "file_count", "size"} and "archive" not in code["after"]


def test_apply_json_reports_outcomes(project: Project, env: dict[str, str]) -> None:
    result = fnsync(project, env, "apply", "--yes", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "apply" and data["ok"] is True
    assert {f["id"] for f in data["functions"]} == {"api", "cron"}
    assert data["requests"]["writes"] > 0


def test_saved_plan_applies_and_stale_plan_is_refused(project: Project, env: dict[str, str], tmp_path: Path, appwrite_sdk) -> None:  # type: ignore[no-untyped-def]
    planfile = tmp_path / "plan.json"
    assert fnsync(project, env, "plan", "--out", str(planfile)).exit_code == 0
    applied = CliRunner().invoke(cli, ["apply", str(planfile)], env=env, catch_exceptions=False)  # manifest path from the plan
    assert applied.exit_code == 0, applied.output

    project.functions["api"]["timeout"] = 99
    project.write()
    assert fnsync(project, env, "plan", "--out", str(planfile)).exit_code == 0
    appwrite_sdk.update("cron", "Cron", runtime="python-3.12", timeout=7, entrypoint="main.py")  # someone edits the server
    stale = fnsync(project, env, "apply", str(planfile))
    assert stale.exit_code == 1
    assert "stale" in stale.stderr and "function cron changed on the server" in stale.stderr
    assert appwrite_sdk.get("api")["timeout"] == 15  # nothing applied


def test_saved_plan_refused_when_code_or_manifest_changed(project: Project, env: dict[str, str], tmp_path: Path) -> None:
    planfile = tmp_path / "plan.json"
    assert fnsync(project, env, "plan", "--out", str(planfile)).exit_code == 0
    project.code("api", 5)
    stale = fnsync(project, env, "apply", str(planfile))
    assert stale.exit_code == 1 and "the code of api changed" in stale.stderr


def with_environments(project: Project) -> None:
    doc = yaml.safe_load(project.path.read_text())
    doc["environments"] = {
        "staging": {"functions": {"cron": {"schedule": "*/5 * * * *"}}},
        "production": {"functions": {"cron": {"schedule": "0 4 * * *"}}},
    }
    project.path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_saved_plan_records_its_environment_and_apply_reuses_it(project: Project, env: dict[str, str], tmp_path: Path, appwrite_sdk) -> None:  # type: ignore[no-untyped-def]
    with_environments(project)
    planfile = tmp_path / "staging.plan"
    assert fnsync(project, env, "plan", "--env", "staging", "--out", str(planfile)).exit_code == 0
    assert json.loads(planfile.read_text())["environment"] == "staging"

    other = fnsync(project, env, "apply", "--env", "production", str(planfile))
    assert other.exit_code == 1
    assert "was planned for environment staging, not --env production" in other.stderr
    from_environ = fnsync(project, {**env, "FNSYNC_ENV": "production"}, "apply", str(planfile))
    assert from_environ.exit_code == 1 and "not --env production" in from_environ.stderr
    assert appwrite_sdk.list()["total"] == 0  # nothing applied

    same = CliRunner().invoke(cli, ["apply", str(planfile)], env={**env, "FNSYNC_ENV": "staging"}, catch_exceptions=False)
    assert same.exit_code == 0, same.output
    assert "Environment staging of functions.yaml." in same.stderr  # no --env given: the plan's own environment
    assert appwrite_sdk.get("cron")["schedule"] == "*/5 * * * *"


def test_saved_plan_without_environment_refuses_one(project: Project, env: dict[str, str], tmp_path: Path, appwrite_sdk) -> None:  # type: ignore[no-untyped-def]
    with_environments(project)
    planfile = tmp_path / "base.plan"
    assert fnsync(project, env, "plan", "--out", str(planfile)).exit_code == 0
    assert json.loads(planfile.read_text())["environment"] is None
    refused = fnsync(project, env, "apply", "--env", "staging", str(planfile))
    assert refused.exit_code == 1
    assert "was planned for the manifest as written (no --env), not --env staging" in refused.stderr
    assert appwrite_sdk.list()["total"] == 0
    applied = fnsync(project, env, "apply", str(planfile))
    assert applied.exit_code == 0, applied.output
    assert appwrite_sdk.get("cron")["schedule"] == "0 3 * * *"


def test_failed_build_exits_1_with_its_log(project: Project, env: dict[str, str]) -> None:
    project.functions["api"]["commands"] = "echo step-one-output && exit 7"
    project.write()
    result = fnsync(project, env, "apply", "--yes")
    assert result.exit_code == 1
    assert "step-one-output" in result.stdout and "build log" in result.stdout
    assert "Apply failed for 1 of 2 functions (api)" in result.stdout


def test_unknown_target_and_bad_manifest_exit_1(project: Project, env: dict[str, str]) -> None:
    result = fnsync(project, env, "plan", "--target", "nope")
    assert result.exit_code == 1 and "unknown --target: nope" in result.stderr
    project.path.write_text("version: 1\nfunctions:\n  api:\n    nmae: x\n")
    bad = fnsync(project, env, "plan")
    assert bad.exit_code == 1 and "functions.yaml:4" in bad.stderr


def test_prune_through_the_cli(project: Project, env: dict[str, str], appwrite_sdk) -> None:  # type: ignore[no-untyped-def]
    appwrite_sdk.create("stray", "Stray", "python-3.12")
    plan = fnsync(project, env, "plan")
    assert "Unmanaged" in plan.stdout and "stray" in plan.stdout
    pruned = fnsync(project, env, "plan", "--prune")
    assert '- function "stray" will be deleted' in pruned.stdout
    assert fnsync(project, env, "apply", "--prune", "--yes").exit_code == 0
    assert {f["$id"] for f in appwrite_sdk.list()["functions"]} - {"fnsync-lock"} == {"api", "cron"}  # + apply's lock


def test_embedded_local_server_when_nothing_is_configured(tmp_path: Path) -> None:
    p = Project(tmp_path / "fresh")
    p.add("api")
    p.write()
    env = {"APPWRITE_ENDPOINT": "", "APPWRITE_PROJECT_ID": "", "APPWRITE_API_KEY": ""}
    applied = fnsync(p, env, "apply")  # no prompt needed for the embedded server
    assert applied.exit_code == 0, applied.output
    assert "embedded local server" in applied.stderr and str(p.root / ".fnsync" / "local") in applied.stderr
    again = fnsync(p, env, "plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_connection_precedence() -> None:
    manifest = Manifest(source=Path("/x/functions.yaml"), endpoint="http://m/v1", project="mp")
    env = {"APPWRITE_ENDPOINT": "http://e/v1", "APPWRITE_PROJECT_ID": "ep", "APPWRITE_API_KEY": "key-s3cr3t"}
    assert resolve_connection(manifest, environ={}).endpoint == "http://m/v1"
    by_env = resolve_connection(manifest, environ=env)
    assert (by_env.endpoint, by_env.project, by_env.endpoint_source) == ("http://e/v1", "ep", "env")
    by_flag = resolve_connection(manifest, endpoint="http://f/v1/", project="fp", environ=env)
    assert (by_flag.endpoint, by_flag.project, by_flag.project_source) == ("http://f/v1", "fp", "flag")
    nothing = resolve_connection(Manifest(source=Path("/x/f.yaml")), environ={})
    assert not nothing.configured and nothing.api_key is None
    assert "key-s3cr3t" not in repr(by_env) and by_env.api_key is not None and by_env.api_key.get_secret_value() == "key-s3cr3t"
    assert resolve_connection(manifest, environ={}).api_key is None  # never from the manifest
