"""Tell the VCS what happened: a commit status per function and one PR comment that is edited, not repeated.

GitHub (and Enterprise via --github-api-url), GitLab (`/api/v4`, --gitlab-api-url) and Gitea/Forgejo
(`/api/v1`, --gitea-api-url or the payload's repository host) are spoken, each with its own REST shapes,
states and auth header. Reporting is best effort: failures are logged (tokens scrubbed) and never fail a
deployment. Functions in silent mode are never reported (the caller filters them), and when every matched
function is silent nothing is posted at all. `ReportQueue` posts off the deployment's path: in the background,
in order, each call bounded by a short timeout, so an unreachable API never delays a deployment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from syncer.render_markdown import COMMENT_LIMITS
from webhook.config import WebhookConfig, scrub
from webhook.credentials import github_git_host, host_of
from webhook.events import JobRequest

log = logging.getLogger("fnsync.webhook")

State = Literal["pending", "success", "failure", "error"]
COMMENT_MARKER = "<!-- fnsync:preview -->"
MAX_COMMENT_PAGES = 10


@dataclass(frozen=True)
class FunctionReport:
    function_id: str
    state: State
    description: str
    deployment_id: str = ""
    context: str = ""  # the status's name; default `fnsync/<function_id>`


class CommentSection(Protocol):
    """A part of the comment rendered to fit what room is left (the plan: `webhook.prplan.PlanSection`)."""

    def markdown(self, limit: int | None = None, host: str = "") -> str: ...


@dataclass(frozen=True)
class Comment:
    """What the pull request's comment shows: the preview rows and, for pull requests that plan, the plan."""

    rows: list[FunctionReport]
    plan: CommentSection | None = None


class CommentIds(Protocol):
    """Where PR comment ids are remembered (backed by the delivery store)."""

    async def get(self, repo: str, number: int) -> int | None: ...

    async def put(self, repo: str, number: int, comment_id: int) -> None: ...


class VcsReporter:
    """Statuses and one marker-tagged PR comment over a provider's REST API; subclasses give the shapes.

    `repo` is what the provider's URLs name a repository by: `owner/name` (GitHub, Gitea) or the numeric
    project id (GitLab)."""

    provider: ClassVar[str]
    api_suffix: ClassVar[str] = ""  # added to the base URL unless it already ends with it
    comments_paginate: ClassVar[bool] = True

    def __init__(self, api_url: str, token: str | None, http: httpx.AsyncClient, comment_ids: CommentIds) -> None:
        base = api_url.rstrip("/")
        self.api_url = base if not self.api_suffix or base.endswith(self.api_suffix) else base + self.api_suffix
        self._token = token
        self._http = http
        self._comment_ids = comment_ids

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    # --- the provider's shapes ---

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _status(self, repo: str, sha: str, report: FunctionReport) -> tuple[str, dict[str, object]]:
        raise NotImplementedError

    def _comments_path(self, repo: str, number: int) -> str:
        raise NotImplementedError

    def _edit(self, repo: str, number: int, comment_id: int) -> tuple[str, str]:
        """(method, path) that replaces a comment's body."""
        raise NotImplementedError

    def _comment_key(self, repo: str) -> str:
        """The key comment ids are remembered under (unique across providers and instances)."""
        return f"{self.provider}:{self.api_url}:{repo}"

    # --- shared ---

    async def _call(self, method: str, path: str, json: dict[str, object] | None = None) -> httpx.Response | None:
        secrets = {self._token or ""}
        try:
            response = await self._http.request(method, f"{self.api_url}{path}", json=json, headers=self._headers())
        except httpx.HTTPError as exc:
            log.warning("reporting to %s failed: %s %s: %s", self.provider, method, path, scrub(str(exc), secrets))
            return None
        if response.status_code >= 400:
            log.warning(
                "reporting to %s failed: %s %s -> %s %s",
                self.provider, method, path, response.status_code, scrub(response.text[:200], secrets),
            )
            return None
        return response

    async def statuses(self, repo: str, sha: str, reports: list[FunctionReport]) -> None:
        if not self.enabled:
            return
        for report in reports:
            path, body = self._status(repo, sha, report)
            await self._call("POST", path, body)

    async def pr_comment(
        self, repo: str, number: int, sha: str, reports: list[FunctionReport], plan: CommentSection | None = None
    ) -> None:
        """Create the PR's fnsync comment once, then edit it (the id is remembered; else found by its marker)."""
        if not self.enabled or not (reports or plan):
            return
        body = render_comment(sha, reports, plan, limit=COMMENT_LIMITS.get(self.provider), host=self.provider)
        key = self._comment_key(repo)
        comment_id = await self._comment_ids.get(key, number) or await self._find_comment(repo, number)
        if comment_id is not None:
            method, path = self._edit(repo, number, comment_id)
            if await self._call(method, path, {"body": body}) is not None:
                await self._comment_ids.put(key, number, comment_id)
                return
        response = await self._call("POST", self._comments_path(repo, number), {"body": body})
        if response is not None:
            await self._comment_ids.put(key, number, int(response.json()["id"]))

    async def _find_comment(self, repo: str, number: int) -> int | None:
        for page in range(1, MAX_COMMENT_PAGES + 1):
            query = f"?per_page=100&page={page}" if self.comments_paginate else ""
            response = await self._call("GET", f"{self._comments_path(repo, number)}{query}")
            if response is None:
                return None
            items = response.json()
            for item in items:
                if COMMENT_MARKER in (item.get("body") or ""):
                    return int(item["id"])
            if not self.comments_paginate or len(items) < 100:
                return None
        return None


class GitHubReporter(VcsReporter):
    """`POST /repos/{owner}/{repo}/statuses/{sha}`; issue comments (`PATCH /repos/…/issues/comments/{id}`)."""

    provider = "github"

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "fnsync-webhook",
        }

    def _status(self, repo: str, sha: str, report: FunctionReport) -> tuple[str, dict[str, object]]:
        body = {"state": report.state, "context": context(report), "description": _short(report)}
        return f"/repos/{repo}/statuses/{sha}", body

    def _comments_path(self, repo: str, number: int) -> str:
        return f"/repos/{repo}/issues/{number}/comments"

    def _edit(self, repo: str, number: int, comment_id: int) -> tuple[str, str]:
        return "PATCH", f"/repos/{repo}/issues/comments/{comment_id}"

    def _comment_key(self, repo: str) -> str:
        return repo  # as stored before other providers were reported to; keeps existing delivery logs valid


class GiteaReporter(GitHubReporter):
    """Gitea/Forgejo copy GitHub's paths under `/api/v1`, with `Authorization: token …`; the issue comment list
    is not paginated (one request returns them all)."""

    provider = "gitea"
    api_suffix = "/api/v1"
    comments_paginate = False

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Authorization": f"token {self._token}", "User-Agent": "fnsync-webhook"}

    def _comment_key(self, repo: str) -> str:
        return VcsReporter._comment_key(self, repo)


GITLAB_STATES: dict[str, str] = {"pending": "pending", "success": "success", "failure": "failed", "error": "failed"}


class GitLabReporter(VcsReporter):
    """`POST /projects/:id/statuses/:sha` (`name`, states pending|running|success|failed|canceled) and merge
    request notes (`PUT /projects/:id/merge_requests/:iid/notes/:note_id`), with `PRIVATE-TOKEN`."""

    provider = "gitlab"
    api_suffix = "/api/v4"

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "PRIVATE-TOKEN": self._token or "", "User-Agent": "fnsync-webhook"}

    def _status(self, repo: str, sha: str, report: FunctionReport) -> tuple[str, dict[str, object]]:
        body = {"state": GITLAB_STATES[report.state], "name": context(report), "description": _short(report)}
        return f"/projects/{repo}/statuses/{sha}", body

    def _comments_path(self, repo: str, number: int) -> str:
        return f"/projects/{repo}/merge_requests/{number}/notes"

    def _edit(self, repo: str, number: int, comment_id: int) -> tuple[str, str]:
        return "PUT", f"/projects/{repo}/merge_requests/{number}/notes/{comment_id}"


class Reporters:
    """Picks the reporter (and the repository name its URLs use) for a job; None = nothing to post."""

    def __init__(self, config: WebhookConfig, http: httpx.AsyncClient, comment_ids: CommentIds) -> None:
        self.config = config
        self._http = http
        self._comment_ids = comment_ids
        self.github = GitHubReporter(config.github_api_url, _value(config.github_token), http, comment_ids)
        self.gitlab = GitLabReporter(config.gitlab_api_url, _value(config.gitlab_token), http, comment_ids)

    def for_job(self, job: JobRequest) -> tuple[VcsReporter, str] | None:
        provider = job.provider.value
        if provider == "github":
            return (self.github, job.repo_name) if self.github.enabled else None
        if provider == "gitlab":
            return (self.gitlab, job.repo_id) if self.gitlab.enabled else None
        token = _value(self.config.gitea_token)
        if not token:
            return None
        base = self.config.gitea_api_url or gitea_base(job.web_url, job.repo_name, self._gitea_host_allowed)
        if base is None:
            log.warning(
                "not reporting to Gitea for %s: repository URL %r does not match --allow-clone-url (set --gitea-api-url)",
                job.repo_name, job.web_url,
            )
            return None
        return GiteaReporter(base, token, self._http, self._comment_ids), job.repo_name

    def _gitea_host_allowed(self, url: str) -> bool:
        """A repository URL may name the Gitea instance if it is allowed and is not GitHub's or GitLab's host."""
        others = {github_git_host(self.config.github_api_url), host_of(self.config.gitlab_api_url)} - {None}
        host = host_of(url)
        return self.config.clone_url_allowed(url) and (host is None or host not in others)


class ReportQueue:
    """Posts reports in the background, one submission at a time and in order (a job's `pending` never lands
    after its `success`). Bounded: when the API is so slow that `limit` submissions wait, new ones are dropped
    and logged. Best effort, like every report."""

    def __init__(self, reporters: Reporters, secrets: set[str], limit: int = 1000) -> None:
        self.reporters = reporters
        self._secrets = secrets
        self._queue: asyncio.Queue[tuple[JobRequest, list[FunctionReport], Comment | None]] = asyncio.Queue(limit)

    def submit(self, job: JobRequest, reports: list[FunctionReport], comment: Comment | None = None) -> None:
        """Queue `reports` as commit statuses and, for a pull request, `comment` as its comment (None: no edit)."""
        try:
            self._queue.put_nowait((job, reports, comment))
        except asyncio.QueueFull:
            log.warning("reporting queue full: not reporting %s for %s", job.sha[:12], job.repo_name)

    async def run(self) -> None:
        """Until cancelled (the lifespan runs it)."""
        while True:
            job, reports, comment = await self._queue.get()
            try:
                await self.post(job, reports, comment)
            except Exception as exc:  # noqa: BLE001 - reporting must never stop reporting
                log.warning("reporting failed: %s", scrub(str(exc), self._secrets))
            finally:
                self._queue.task_done()

    async def drain(self, timeout: float) -> None:
        """Wait (at most `timeout`) for queued reports to be posted, e.g. before shutting down."""
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
        except TimeoutError:
            log.warning("%d report(s) not posted at shutdown", self._queue.qsize())

    async def post(self, job: JobRequest, reports: list[FunctionReport], comment: Comment | None) -> None:
        target = self.reporters.for_job(job)
        if target is None:
            return
        reporter, repo = target
        await reporter.statuses(repo, job.sha, reports)
        if comment is not None and job.pr_number is not None:
            await reporter.pr_comment(repo, job.pr_number, job.sha, comment.rows, comment.plan)


def gitea_base(web_url: str, full_name: str, allowed: Callable[[str], bool]) -> str | None:
    """The Gitea instance serving a repository, from its html_url (`https://host[/sub]/owner/name`).

    The token is only sent to a web URL the operator allowed to fetch from (--allow-clone-url): the payload
    chooses this URL, and a signed payload still must not be able to send GITEA_TOKEN elsewhere."""
    parts = urlsplit(web_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not allowed(web_url):
        return None
    path = parts.path.rstrip("/")
    suffix = f"/{full_name}"
    prefix = path[: -len(suffix)] if full_name and path.endswith(suffix) else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def context(report: FunctionReport) -> str:
    return report.context or f"fnsync/{report.function_id}"


def _value(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _short(report: FunctionReport) -> str:
    text = f"{report.description} (deployment {report.deployment_id})" if report.deployment_id else report.description
    return text if len(text) <= 140 else text[:139] + "…"  # GitHub rejects descriptions over 140 characters


ICONS = {"pending": "⏳", "success": "✅", "failure": "❌", "error": "❌"}


def render_comment(
    sha: str, reports: list[FunctionReport], plan: CommentSection | None = None, *, limit: int | None = None, host: str = ""
) -> str:
    """The marker, the plan (cut to the room the rest leaves under `limit`), then the table of previews."""
    head = [COMMENT_MARKER, f"**fnsync** for `{sha[:12]}`", ""]
    previews: list[str] = []
    if reports:
        previews = ["#### Preview deployments", "", "| function | state | deployment | details |", "|---|---|---|---|"]
        for report in reports:
            detail = report.description.replace("|", "\\|").replace("\n", " ")
            previews.append(f"| `{report.function_id}` | {ICONS[report.state]} {report.state} | {report.deployment_id or '–'} | {detail} |")
        previews += ["", "Preview deployments are not activated."]
    if plan is None:
        return "\n".join(head + previews)
    room = None if limit is None else max(limit - len("\n".join(head + previews)) - 2, 0)
    return "\n".join([*head, plan.markdown(room, host).rstrip("\n"), "", *previews]).rstrip("\n")
