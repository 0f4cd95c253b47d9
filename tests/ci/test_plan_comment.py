"""`fnsync plan --comment` inside simulated CI jobs: one sticky comment on the fake GitHub, GitLab and Gitea,
created by the first run and edited by the next, with the real local server behind the plan."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.ci.support import PR, GITLAB_TOKEN, TOKEN, clean_env, github_actions_env, gitlab_ci_env, two_function_project
from tests.conftest import LocalServer
from tests.syncer.support import MAIN_PY, fnsync, server_env
from tests.webhook.fake_gitea import FakeGitea
from tests.webhook.fake_github import FakeGitHub
from tests.webhook.fake_gitlab import FakeGitLab

pytestmark = pytest.mark.slow

SECRET = "tok-very-secret-value-1234"


def test_github_actions_creates_then_updates_one_comment(tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub) -> None:
    project = two_function_project(tmp_path / "repo")
    # someone else's comment on the PR first: it must be left alone
    httpx.post(f"{fake_github.url}/repos/Codertocat/Hello-World/issues/2/comments", json={"body": "LGTM"},
               headers={"Authorization": "Bearer other-user-token"}).raise_for_status()
    env = {**github_actions_env(tmp_path, fake_github.url), **server_env(local_server, API_TOKEN=SECRET)}

    first = fnsync(project, env, "plan", "--comment")
    assert first.exit_code == 0, first.output
    assert '+ function "api" will be created' in first.stdout  # the terminal output is unchanged
    assert "Created the plan comment on pull request #2 of Codertocat/Hello-World" in first.stderr
    comments = fake_github.state.comments[PR]
    assert [c["body"] for c in comments][0] == "LGTM" and len(comments) == 2
    mine = comments[1]
    assert mine["body"].startswith("<!-- fnsync:plan functions.yaml -->\n### fnsync plan for `functions.yaml`")
    assert "Plan: 2 to create" in mine["body"] and "<code>+ api</code>" in mine["body"]
    assert "| + | `TOKEN` |  | (sensitive) |" in mine["body"] and SECRET not in mine["body"]
    posts = [r for r in fake_github.state.requests if r.method == "POST"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in posts[1:])

    applied = fnsync(project, server_env(local_server, API_TOKEN=SECRET), "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    project.functions["api"]["variables"]["MODE"] = "staging"  # one variable ...
    project.write()
    (project.root / "fn" / "api" / "main.py").write_text(MAIN_PY % 2)  # ... and one function's code

    second = fnsync(project, env, "plan", "--comment", "--detailed-exitcode")
    assert second.exit_code == 2, second.output
    assert "Updated the plan comment on pull request #2" in second.stderr
    comments = fake_github.state.comments[PR]
    assert len(comments) == 2 and comments[1]["id"] == mine["id"]  # the same comment, edited
    body = comments[1]["body"]
    assert "Plan: 0 to create, 0 to update, 0 to delete; 1 variable change; 1 to deploy, 0 to rebuild." in body
    # The local server answers as 1.6.2 (no secret flag): fnsync's record of sensitive keys says MODE was plain.
    assert '| ~ | `MODE` | `"prod"` | `"staging"` | value differs |' in body
    assert "<code>~ api</code>" in body and "cron" not in body
    assert [r.method for r in fake_github.state.requests[-2:]] == ["GET", "PATCH"]

    summary = Path(str(env["GITHUB_STEP_SUMMARY"])).read_text()
    assert summary.count("### fnsync plan for `functions.yaml`") == 2 and SECRET not in summary


def test_gitlab_ci_creates_then_updates_one_note(tmp_path: Path, local_server: LocalServer) -> None:
    project = two_function_project(tmp_path / "repo")
    with FakeGitLab() as fake:
        env = {**gitlab_ci_env(fake.url), **server_env(local_server, API_TOKEN=SECRET)}
        first = fnsync(project, env, "plan", "--comment")
        assert first.exit_code == 0, first.output
        assert "Created the plan comment on merge request !7 of 42" in first.stderr
        [note] = fake.state.notes[("42", 7)]
        assert "Plan: 2 to create" in note["body"] and SECRET not in note["body"]

        project.functions["cron"]["timeout"] = 60
        project.write()
        second = fnsync(project, env, "plan", "--comment")
        assert second.exit_code == 0, second.output
        [edited] = fake.state.notes[("42", 7)]
        assert edited["id"] == note["id"] and "| `timeout` | `60` |" in edited["body"]
        assert all(r.headers["private-token"] == GITLAB_TOKEN for r in fake.state.requests)
        assert [r.method for r in fake.state.requests] == ["GET", "POST", "GET", "PUT"]


def test_gitea_actions_creates_then_updates_one_comment(tmp_path: Path, local_server: LocalServer) -> None:
    project = two_function_project(tmp_path / "repo")
    with FakeGitea() as fake:
        env = {
            **github_actions_env(tmp_path, f"{fake.url}/api/v1", GITEA_ACTIONS="true", GITHUB_SERVER_URL=fake.url),
            **server_env(local_server, API_TOKEN=SECRET),
        }
        for expected in ("Created", "Updated"):
            result = fnsync(project, env, "plan", "--comment")
            assert result.exit_code == 0, result.output
            assert f"{expected} the plan comment on pull request #2" in result.stderr
        [comment] = fake.state.comments[PR]
        assert "Plan: 2 to create" in comment["body"]
        assert all(r.headers["authorization"] == f"token {TOKEN}" for r in fake.state.requests)


def test_an_invalid_manifest_is_reported_in_the_comment_then_replaced_by_the_plan(
    tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub
) -> None:
    project = two_function_project(tmp_path / "repo")
    good = project.path.read_text()
    project.path.write_text(good.replace("  cron:\n", "  cron:\n    timout: 5\n"))
    env = {**github_actions_env(tmp_path, fake_github.url), **server_env(local_server, API_TOKEN=SECRET)}

    failed = fnsync(project, env, "plan", "--comment")
    assert failed.exit_code == 1
    [issue] = [line for line in failed.stderr.splitlines() if "timout" in line]
    line = issue.split("functions.yaml:", 1)[1].split(":", 1)[0]
    [comment] = fake_github.state.comments[PR]
    assert "**❌ The manifest has 1 problem(s); nothing was planned.**" in comment["body"]
    assert f"functions.yaml:{line}: functions.cron.timout: unknown key 'timout' (did you mean 'timeout'?)" in comment["body"]

    project.path.write_text(good)
    fixed = fnsync(project, env, "plan", "--comment")
    assert fixed.exit_code == 0, fixed.output
    [edited] = fake_github.state.comments[PR]
    assert edited["id"] == comment["id"] and "Plan: 2 to create" in edited["body"] and "❌" not in edited["body"]


def test_a_runtime_the_server_does_not_offer_is_reported_in_the_comment(
    tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub
) -> None:
    project = two_function_project(tmp_path / "repo")
    project.functions["cron"]["runtime"] = "python-9.9"
    project.write()
    env = {**github_actions_env(tmp_path, fake_github.url), **server_env(local_server, API_TOKEN=SECRET)}
    result = fnsync(project, env, "plan", "--comment")
    assert result.exit_code == 1 and "python-9.9" in result.stderr
    [comment] = fake_github.state.comments[PR]
    assert "**❌ The manifest has 1 problem(s); nothing was planned.**" in comment["body"]
    assert "functions.cron.runtime" in comment["body"] and "python-9.9" in comment["body"]


def test_two_environments_keep_two_comments(tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub) -> None:
    project = two_function_project(tmp_path / "repo")
    text = project.path.read_text() + "environments:\n  staging: {}\n  production: {}\n"
    project.path.write_text(text)
    env = {**github_actions_env(tmp_path, fake_github.url), **server_env(local_server, API_TOKEN=SECRET)}
    for name in ("staging", "production", "staging"):
        assert fnsync(project, env, "plan", "--env", name, "--comment").exit_code == 0
    bodies = [c["body"] for c in fake_github.state.comments[PR]]
    assert [b.splitlines()[0] for b in bodies] == [
        "<!-- fnsync:plan functions.yaml env=staging -->",
        "<!-- fnsync:plan functions.yaml env=production -->",
    ]


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("GITHUB_TOKEN", "GITHUB_TOKEN is not set: add `env: GITHUB_TOKEN: ${{ github.token }}`"),
        ("GITHUB_REPOSITORY", "GITHUB_REPOSITORY is not set"),
        ("GITHUB_EVENT_PATH", "GITHUB_EVENT_PATH is not set"),
        ("GITHUB_ACTIONS", "none of GITHUB_ACTIONS, GITEA_ACTIONS, FORGEJO_ACTIONS or GITLAB_CI"),
    ],
)
def test_a_missing_variable_is_named_and_nothing_is_planned_or_posted(
    tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub, unset: str, named: str
) -> None:
    project = two_function_project(tmp_path / "repo")
    env = {**github_actions_env(tmp_path, fake_github.url), **server_env(local_server, API_TOKEN=SECRET), unset: None}
    result = fnsync(project, env, "plan", "--comment")
    assert result.exit_code == 1
    assert "error: cannot comment: " in result.stderr and named in " ".join(result.stderr.split())
    assert result.stdout == "" and fake_github.state.requests == []


def test_push_event_is_not_a_pull_request(tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub) -> None:
    project = two_function_project(tmp_path / "repo")
    push = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "push.json"
    env = {
        **github_actions_env(tmp_path, fake_github.url, GITHUB_EVENT_PATH=str(push), GITHUB_EVENT_NAME="push"),
        **server_env(local_server, API_TOKEN=SECRET),
    }
    result = fnsync(project, env, "plan", "--comment")
    assert result.exit_code == 1
    assert "the event (push) in GITHUB_EVENT_PATH is not a pull request" in " ".join(result.stderr.split())


def test_gitlab_outside_a_merge_request_pipeline(tmp_path: Path, local_server: LocalServer) -> None:
    project = two_function_project(tmp_path / "repo")
    env = {**gitlab_ci_env("http://127.0.0.1:9"), **server_env(local_server, API_TOKEN=SECRET), "CI_MERGE_REQUEST_IID": None}
    result = fnsync(project, env, "plan", "--comment")
    assert result.exit_code == 1 and "CI_MERGE_REQUEST_IID is not set" in result.stderr
    env = {**gitlab_ci_env("http://127.0.0.1:9"), **server_env(local_server), "FNSYNC_GITLAB_TOKEN": None}
    result = fnsync(project, env, "plan", "--comment")
    assert result.exit_code == 1 and "FNSYNC_GITLAB_TOKEN is not set" in result.stderr


def test_a_refused_token_fails_the_job_without_showing_it(tmp_path: Path, local_server: LocalServer, fake_github: FakeGitHub) -> None:
    project = two_function_project(tmp_path / "repo")
    fake_github.state.fail_with = 403
    env = {**github_actions_env(tmp_path, fake_github.url), **server_env(local_server, API_TOKEN=SECRET)}
    result = fnsync(project, env, "plan", "--comment")
    assert result.exit_code == 1
    text = " ".join(result.stderr.split())
    assert "cannot comment on pull request #2 of Codertocat/Hello-World: github GET" in text
    assert "answered 403" in text and "pull-requests: write" in text
    assert TOKEN not in result.output and SECRET not in result.output


def test_markdown_format_and_json_alias_print_the_same_plan(tmp_path: Path, local_server: LocalServer) -> None:
    project = two_function_project(tmp_path / "repo")
    env = {**clean_env(), **server_env(local_server, API_TOKEN=SECRET)}
    markdown = fnsync(project, env, "plan", "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.startswith("### fnsync plan for `functions.yaml`") and SECRET not in markdown.stdout
    as_json = fnsync(project, env, "plan", "--json")
    as_format = fnsync(project, env, "plan", "--format", "json")
    assert as_json.stdout == as_format.stdout and as_json.stdout.startswith("{")
    both = fnsync(project, env, "plan", "--json", "--format", "markdown")
    assert both.exit_code == 1 and "contradict" in both.stderr
