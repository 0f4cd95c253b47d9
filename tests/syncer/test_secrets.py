"""Sensitive values (from ${ENV}) and the API key never appear in any output, plan file or error."""

from __future__ import annotations

import json
from pathlib import Path

from syncer.planfile import read_planfile
from tests.conftest import LocalServer
from tests.syncer.support import Project, fnsync, run_all, secret_project, server_env

SECRET = "tok-9f8e7d6c5b4a-SECRET"
SECRET_2 = "tok-rotated-0000-SECRET"


def test_secrets_never_in_output_or_plan_files(tmp_path: Path, local_server: LocalServer) -> None:
    project = secret_project(tmp_path / "p")
    env = server_env(local_server, API_TOKEN=SECRET)
    planfile = tmp_path / "plan.json"
    outputs = run_all(project, env, planfile)
    plan_text = planfile.read_text()

    # then rotate the secret: the update is shown, masked on both sides
    env["API_TOKEN"] = SECRET_2
    rotated = fnsync(project, env, "plan")
    outputs += [rotated.stdout, rotated.stderr]
    assert "~ variable TOKEN: (sensitive) -> (sensitive)" in rotated.stdout
    rotated_json = fnsync(project, env, "plan", "--json")
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
    env = server_env(local_server, API_TOKEN=SECRET)
    failed = fnsync(project, env, "apply", "--yes")
    assert failed.exit_code == 1
    assert "leaking" in failed.stdout and "[redacted]" in failed.stdout
    as_json = fnsync(project, env, "apply", "--yes", "--json")

    wrong = dict(env, APPWRITE_PROJECT_ID="no-such-project")
    error = fnsync(project, wrong, "plan")
    assert error.exit_code == 1 and "server request failed" in error.stderr

    everything = "\n".join(r.stdout + r.stderr for r in (failed, as_json, error))
    for secret in (SECRET, local_server.api_key):
        assert secret not in everything


def test_scrub_removes_a_secret_that_contains_another_whole() -> None:
    """Replacing the shorter secret first would leave the longer one's tail readable."""
    from syncer.client.errors import REDACTED, scrub

    for order in (("tok", SECRET), (SECRET, "tok")):
        assert scrub(f"failed with {SECRET} and tok", order) == f"failed with {REDACTED} and {REDACTED}"
