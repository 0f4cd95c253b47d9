"""The composite action (action.yml) run step by step as the shell commands it holds, in a simulated GitHub
runner (GITHUB_OUTPUT, GITHUB_PATH, GITHUB_STEP_SUMMARY files, a pull_request event file), against the real
local server and the fake GitHub."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ci.action_runner import Runner, run_action
from tests.ci.support import PR, TOKEN, pull_request_event, two_function_project
from tests.conftest import LocalServer
from tests.syncer.support import Project
from tests.webhook.fake_github import FakeGitHub

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SECRET = "action-secret-value-4242"


def make_runner(tmp_path: Path, project: Project, fake_github: FakeGitHub, local_server: LocalServer, path: list[str]) -> Runner:
    env = {
        "GITHUB_REPOSITORY": "Codertocat/Hello-World",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(pull_request_event(tmp_path)),
        "GITHUB_API_URL": fake_github.url,
        "APPWRITE_ENDPOINT": local_server.endpoint,
        "APPWRITE_PROJECT_ID": local_server.project,
        "APPWRITE_API_KEY": local_server.api_key,
        "API_TOKEN": SECRET,
    }
    return Runner(root=tmp_path / "runner", workspace=project.root.parent, token=TOKEN, env=env, path=path)


def outputs_json(result: Any) -> dict[str, Any]:
    return json.loads(Path(result.outputs["plan-json"]).read_text())


def test_plan_comment_apply_and_drift_steps(tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub, appwrite_sdk: Any) -> None:
    project = two_function_project(tmp_path / "workspace" / "repo")
    # the install step is run for real by test_install_step_installs_the_action_itself (slow); here the test's own
    # fnsync is on PATH, as that step's GITHUB_PATH line would put the installed one
    runner = make_runner(tmp_path, project, fake_github, local_server, path=[str(Path(sys.executable).parent)])
    common = {"manifest": "functions.yaml", "working-directory": "repo"}

    plan = run_action(REPO, runner, {**common, "command": "plan", "comment": "true"}, skip=("install",))
    assert plan.ok, plan.log
    assert plan.outputs["has-changes"] == "true"
    document = outputs_json(plan)
    assert document["kind"] == "plan" and document["summary"]["create"] == 2
    [comment] = [c for c in fake_github.state.comments[PR]]
    assert "Plan: 2 to create" in comment["body"] and SECRET not in comment["body"]
    assert fake_github.state.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"  # from ${{ github.token }}

    apply = run_action(REPO, runner, {**common, "command": "apply"}, skip=("install",))
    assert apply.ok, apply.log
    assert apply.outputs["has-changes"] == "true" and outputs_json(apply)["ok"] is True
    assert {f["$id"] for f in appwrite_sdk.list()["functions"]} >= {"api", "cron"}

    again = run_action(REPO, runner, {**common, "command": "plan", "comment": "true"}, skip=("install",))
    assert again.ok and again.outputs["has-changes"] == "false"
    [edited] = fake_github.state.comments[PR]
    assert edited["id"] == comment["id"] and "**No changes.**" in edited["body"]

    clean = run_action(REPO, runner, {**common, "command": "drift"}, skip=("install",))
    assert clean.ok and clean.outputs["has-changes"] == "false"
    appwrite_sdk.update("cron", "Cron", runtime="python-3.12", timeout=30, schedule="0 4 * * *")  # by hand
    drifted = run_action(REPO, runner, {**common, "command": "drift"}, skip=("install",))
    assert drifted.ok, drifted.log  # drift is an output, not a failed step: the workflow opens an issue on it
    assert drifted.outputs["has-changes"] == "true" and outputs_json(drifted)["has_drift"] is True

    summary = runner.summary.read_text()
    assert summary.count("### fnsync plan for `functions.yaml`") == 2 and "### fnsync apply" in summary
    assert SECRET not in summary and SECRET not in plan.log + apply.log


def test_environment_input_and_a_failing_command(tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub) -> None:
    project = two_function_project(tmp_path / "workspace" / "repo")
    project.path.write_text(project.path.read_text() + "environments:\n  staging: {}\n")
    runner = make_runner(tmp_path, project, fake_github, local_server, path=[str(Path(sys.executable).parent)])
    common = {"manifest": "functions.yaml", "working-directory": "repo"}

    staged = run_action(REPO, runner, {**common, "command": "plan", "environment": "staging"}, skip=("install",))
    assert staged.ok and "Environment staging of functions.yaml" in staged.log

    unknown_env = run_action(REPO, runner, {**common, "command": "plan", "environment": "prod"}, skip=("install",))
    assert not unknown_env.ok and "::error::fnsync plan failed (exit 1)" in unknown_env.log
    assert "has-changes" not in unknown_env.outputs

    wrong = run_action(REPO, runner, {**common, "command": "destroy"}, skip=("install",))
    assert not wrong.ok and "command must be plan, apply or drift, not 'destroy'" in wrong.log


@pytest.mark.slow
def test_install_step_installs_the_action_itself(tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub) -> None:
    """The install step pip-installs the action's checkout (the ref in `uses:`) into a venv and puts it on PATH."""
    action_dir = tmp_path / "action"  # what the runner checks out for `uses: OWNER/fnsync@REF`
    action_dir.mkdir()
    for name in ("action.yml", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, action_dir / name)
    for package in ("syncer", "webhook", "localserver"):
        shutil.copytree(REPO / package, action_dir / package, ignore=shutil.ignore_patterns("__pycache__"))
    project = two_function_project(tmp_path / "workspace" / "repo")
    runner = make_runner(tmp_path, project, fake_github, local_server, path=[])

    result = run_action(action_dir, runner, {"command": "plan", "working-directory": "repo"})
    assert result.ok, result.log
    installed = runner.temp / "fnsync-venv" / "bin"
    assert runner.path == [str(installed)] and "fnsync, version" in result.steps[0].stdout
    assert result.outputs["has-changes"] == "true" and outputs_json(result)["summary"]["create"] == 2
