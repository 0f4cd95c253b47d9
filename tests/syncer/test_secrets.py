"""Sensitive values (from ${ENV}) and the API key never appear in any output, plan file or error."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from syncer.cli import cli
from syncer.planfile import read_planfile
from tests.conftest import LocalServer
from tests.syncer.test_apply_e2e import Project

SECRET = "tok-9f8e7d6c5b4a-SECRET"
SECRET_2 = "tok-rotated-0000-SECRET"


def run_all(project: Project, env: dict[str, str], planfile: Path) -> list[str]:
    """Every command a user might run, returning all stdout and stderr."""
    outputs: list[str] = []
    for root, args in (
        ([], ["plan"]),
        ([], ["plan", "--json"]),
        (["-vv"], ["plan", "--out", str(planfile)]),
        (["-vv"], ["apply", "--yes"]),
        ([], ["plan", "--detailed-exitcode"]),
        ([], ["apply", "--yes", "--json"]),
    ):
        argv = [*root, args[0], "-f", str(project.path), *args[1:]]
        result = CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        outputs += [result.stdout, result.stderr]
    return outputs


def test_secrets_never_in_output_or_plan_files(tmp_path: Path, local_server: LocalServer) -> None:
    project = Project(tmp_path / "p")
    project.add("api", variables={"TOKEN": "${API_TOKEN}", "PLAIN": "visible-value"})
    project.write()
    env = {
        "APPWRITE_ENDPOINT": local_server.endpoint,
        "APPWRITE_PROJECT_ID": local_server.project,
        "APPWRITE_API_KEY": local_server.api_key,
        "API_TOKEN": SECRET,
    }
    planfile = tmp_path / "plan.json"
    outputs = run_all(project, env, planfile)
    plan_text = planfile.read_text()

    # then rotate the secret: the update is shown, masked on both sides
    env["API_TOKEN"] = SECRET_2
    rotated = CliRunner().invoke(cli, ["plan", "-f", str(project.path)], env=env, catch_exceptions=False)
    outputs += [rotated.stdout, rotated.stderr]
    assert "~ variable TOKEN: (sensitive) -> (sensitive)" in rotated.stdout
    rotated_json = CliRunner().invoke(cli, ["plan", "--json", "-f", str(project.path)], env=env, catch_exceptions=False)
    outputs.append(rotated_json.stdout)
    change = json.loads(rotated_json.stdout)["changes"][0]
    assert change["before"]["value"] is None and change["after"]["value"] is None and change["after"]["sensitive"] is True

    everything = "\n".join(outputs) + plan_text
    assert "visible-value" in everything  # the check can fail: plain values do show
    for secret in (SECRET, SECRET_2, local_server.api_key):
        assert secret not in everything
    saved = read_planfile(planfile)
    token = next(c for c in saved.changes if c.get("key") == "TOKEN")
    assert "value" not in token["after"] and len(token["after"]["value_sha256"]) == 64


def test_secrets_scrubbed_from_build_logs_and_errors(tmp_path: Path, local_server: LocalServer) -> None:
    project = Project(tmp_path / "p")
    project.add("api", variables={"TOKEN": "${API_TOKEN}"}, commands=f"echo leaking {SECRET} $API_TOKEN && exit 1")
    project.write()
    env = {
        "APPWRITE_ENDPOINT": local_server.endpoint,
        "APPWRITE_PROJECT_ID": local_server.project,
        "APPWRITE_API_KEY": local_server.api_key,
        "API_TOKEN": SECRET,
    }
    failed = CliRunner().invoke(cli, ["apply", "--yes", "-f", str(project.path)], env=env, catch_exceptions=False)
    assert failed.exit_code == 1
    assert "leaking" in failed.stdout and "[redacted]" in failed.stdout
    as_json = CliRunner().invoke(cli, ["apply", "--yes", "--json", "-f", str(project.path)], env=env, catch_exceptions=False)

    wrong = dict(env, APPWRITE_PROJECT_ID="no-such-project")
    error = CliRunner().invoke(cli, ["plan", "-f", str(project.path)], env=wrong, catch_exceptions=False)
    assert error.exit_code == 1 and "server request failed" in error.stderr

    everything = "\n".join(r.stdout + r.stderr for r in (failed, as_json, error))
    for secret in (SECRET, local_server.api_key):
        assert secret not in everything
