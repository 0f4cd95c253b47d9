"""Which pull request a CI job runs for, read from the CI platform's own environment.

GitHub Actions, Gitea Actions and Forgejo Actions share GitHub's variables (`GITHUB_REPOSITORY`,
`GITHUB_EVENT_PATH`, `GITHUB_API_URL`, a token); GitLab CI has its own (`CI_API_V4_URL`, `CI_PROJECT_ID`,
`CI_MERGE_REQUEST_IID`). Whatever is missing is named in one `CiEnvironmentError`, with what to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Provider = Literal["github", "gitlab", "gitea"]
GITLAB_TOKEN_VARIABLES = ("FNSYNC_GITLAB_TOKEN", "GITLAB_TOKEN")
GITEA_TOKEN_VARIABLES = ("GITHUB_TOKEN", "GITEA_TOKEN", "FORGEJO_TOKEN")
GITHUB_API = "https://api.github.com"


class CiEnvironmentError(Exception):
    """The environment does not say where to comment (not in CI, not a pull request, or a variable missing)."""


@dataclass(frozen=True)
class PullRequest:
    """Where a comment goes: the host's API, the repository as its URLs name it, the PR/MR number and a token."""

    provider: Provider
    api_url: str
    repo: str  # owner/name (GitHub, Gitea) or the numeric project id (GitLab)
    number: int
    token: str = field(repr=False)

    def describe(self) -> str:
        kind = "merge request !" if self.provider == "gitlab" else "pull request #"
        return f"{kind}{self.number} of {self.repo}"


def detect_provider(environ: Mapping[str, str]) -> Provider | None:
    """The CI platform this process runs on, from the variables each one sets to `true`."""
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    if environ.get("GITEA_ACTIONS") == "true" or environ.get("FORGEJO_ACTIONS") == "true":
        return "gitea"
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    return None


def pull_request_from_env(environ: Mapping[str, str]) -> PullRequest:
    """The pull/merge request this CI job runs for; `CiEnvironmentError` naming what is missing otherwise."""
    provider = detect_provider(environ)
    if provider is None:
        raise CiEnvironmentError(
            "--comment works inside CI: none of GITHUB_ACTIONS, GITEA_ACTIONS, FORGEJO_ACTIONS or GITLAB_CI is set to "
            "true (see docs/ci.md)"
        )
    if provider == "gitlab":
        return _gitlab(environ)
    return _github_like(environ, provider)


def _gitlab(environ: Mapping[str, str]) -> PullRequest:
    api_url = _required(environ, "CI_API_V4_URL", "GitLab CI sets it in every job")
    project = _required(environ, "CI_PROJECT_ID", "GitLab CI sets it in every job")
    iid = environ.get("CI_MERGE_REQUEST_IID", "")
    if not iid:
        raise CiEnvironmentError(
            "CI_MERGE_REQUEST_IID is not set: --comment needs a merge request pipeline "
            "(rules: - if: $CI_PIPELINE_SOURCE == \"merge_request_event\")"
        )
    token = _first(environ, GITLAB_TOKEN_VARIABLES)
    if not token:
        raise CiEnvironmentError(
            "FNSYNC_GITLAB_TOKEN is not set: add a masked CI/CD variable holding a project access token with the "
            "`api` scope (CI_JOB_TOKEN cannot write merge request notes)"
        )
    return PullRequest("gitlab", api_url, project, _number(iid, "CI_MERGE_REQUEST_IID"), token)


def _github_like(environ: Mapping[str, str], provider: Provider) -> PullRequest:
    repo = _required(environ, "GITHUB_REPOSITORY", "the runner sets it in every job")
    event_path = _required(environ, "GITHUB_EVENT_PATH", "the runner sets it in every job")
    if provider == "github":
        api_url = environ.get("GITHUB_API_URL") or GITHUB_API
        token = environ.get("GITHUB_TOKEN", "")
        hint = "add `env: GITHUB_TOKEN: ${{ github.token }}` to the step (and `permissions: pull-requests: write`)"
    else:
        server = environ.get("GITHUB_SERVER_URL", "").rstrip("/")
        api_url = environ.get("GITHUB_API_URL") or (f"{server}/api/v1" if server else "")
        if not api_url:
            raise CiEnvironmentError("GITHUB_API_URL is not set (nor GITHUB_SERVER_URL): the runner sets them in every job")
        token = _first(environ, GITEA_TOKEN_VARIABLES)
        hint = "add `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step"
    if not token:
        raise CiEnvironmentError(f"GITHUB_TOKEN is not set: {hint}")
    number = pull_request_number(Path(event_path), environ.get("GITHUB_EVENT_NAME", ""))
    return PullRequest(provider, api_url, repo, number, token)


def pull_request_number(event_path: Path, event_name: str = "") -> int:
    """The PR number in a GitHub-style event file (`pull_request`, `pull_request_target`, or a comment on a PR)."""
    try:
        event: Any = json.loads(event_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CiEnvironmentError(f"cannot read the event file GITHUB_EVENT_PATH={event_path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CiEnvironmentError(f"the event file GITHUB_EVENT_PATH={event_path} is not JSON: {exc}") from exc
    pull = event.get("pull_request") if isinstance(event, dict) else None
    issue = event.get("issue") if isinstance(event, dict) else None
    number: Any = None
    if isinstance(pull, dict):
        number = pull.get("number", event.get("number"))
    elif isinstance(issue, dict) and issue.get("pull_request"):
        number = issue.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        name = f" ({event_name or 'GITHUB_EVENT_NAME unset'})"
        raise CiEnvironmentError(
            f"the event{name} in GITHUB_EVENT_PATH is not a pull request: run `fnsync plan --comment` on "
            "`pull_request` events"
        )
    return number


def _required(environ: Mapping[str, str], name: str, why: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise CiEnvironmentError(f"{name} is not set ({why}; is this running in CI?)")
    return value


def _first(environ: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((environ[name] for name in names if environ.get(name)), "")


def _number(text: str, name: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise CiEnvironmentError(f"{name} must be a positive number, not {text!r}")
    return int(text)
