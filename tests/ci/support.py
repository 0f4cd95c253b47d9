"""What the CI tests share: a simulated runner environment (event file, variables) and a project on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.syncer.support import Project

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
TOKEN = "ghs_fake-token-for-tests-0123456789"
GITLAB_TOKEN = "glpat-fake-token-for-tests-0123"
PR = ("Codertocat/Hello-World", 2)  # repository and number of the simulated pull request event
# Variables of every platform, unset by default so the host's own CI (if any) cannot leak into a test.
PLATFORM_VARIABLES = (
    "GITHUB_ACTIONS", "GITEA_ACTIONS", "FORGEJO_ACTIONS", "GITLAB_CI", "GITHUB_TOKEN", "GITEA_TOKEN", "FORGEJO_TOKEN",
    "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_API_URL", "GITHUB_SERVER_URL",
    "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID",
    "FNSYNC_GITLAB_TOKEN", "GITLAB_TOKEN", "FNSYNC_ENV", "FNSYNC_MANIFEST",
)


def clean_env(**values: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {name: None for name in PLATFORM_VARIABLES}
    env.update(values)
    return env


def pull_request_event(folder: Path, number: int = PR[1], repo: str = PR[0]) -> Path:
    """GitHub's own `pull_request` (opened) payload, as the runner writes it to GITHUB_EVENT_PATH."""
    event = json.loads((FIXTURES / "pull_request-opened.json").read_text())
    event["number"] = event["pull_request"]["number"] = number
    event["repository"]["full_name"] = repo
    path = folder / "event.json"
    path.write_text(json.dumps(event))
    return path


def github_actions_env(folder: Path, api_url: str, **extra: str) -> dict[str, str | None]:
    """What a GitHub Actions runner sets for a `pull_request` job (and the token the workflow passes)."""
    summary = folder / "step_summary.md"
    summary.touch()
    values = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "Codertocat/Hello-World",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(pull_request_event(folder)),
        "GITHUB_API_URL": api_url,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_TOKEN": TOKEN,
    }
    return clean_env(**{**values, **extra})


def gitlab_ci_env(api_url: str, **extra: str) -> dict[str, str | None]:
    """What GitLab CI sets in a merge request pipeline (plus the project token variable)."""
    values = {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": f"{api_url}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "FNSYNC_GITLAB_TOKEN": GITLAB_TOKEN,
    }
    return clean_env(**{**values, **extra})


def two_function_project(root: Path) -> Project:
    project = Project(root)
    project.add("api", execute=["any"], variables={"MODE": "prod", "TOKEN": "${API_TOKEN}"})
    project.add("cron", schedule="0 3 * * *")
    project.write()
    return project


def copy_example(root: Path) -> Path:
    """functions.yaml.example with its code, as a user's repository would have it."""
    repo = Path(__file__).resolve().parents[2]
    shutil.copytree(repo / "examples", root / "examples")
    shutil.copy(repo / "functions.yaml.example", root / "functions.yaml")
    return root / "functions.yaml"
