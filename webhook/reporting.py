"""Tell the VCS what happened: a commit status per function and one PR comment that is edited, not repeated.

Only GitHub's REST API (and GitHub Enterprise via --github-api-url) is spoken. Reporting is best effort:
failures are logged and never fail a deployment. Functions in silent mode are never reported, and when
every matched function is silent nothing is posted at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from webhook.config import scrub

log = logging.getLogger("fnsync.webhook")

State = Literal["pending", "success", "failure", "error"]
COMMENT_MARKER = "<!-- fnsync:preview -->"


@dataclass(frozen=True)
class FunctionReport:
    function_id: str
    state: State
    description: str
    deployment_id: str = ""


class GitHubReporter:
    """Statuses (`POST /repos/{owner}/{repo}/statuses/{sha}`) and issue comments for pull requests."""

    def __init__(self, api_url: str, token: str | None, http: httpx.AsyncClient, comment_ids: CommentIds) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._http = http
        self._comment_ids = comment_ids

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "fnsync-webhook",
        }

    async def _call(self, method: str, path: str, json: dict[str, object] | None = None) -> httpx.Response | None:
        try:
            response = await self._http.request(method, f"{self.api_url}{path}", json=json, headers=self._headers())
        except httpx.HTTPError as exc:
            log.warning("reporting to GitHub failed: %s %s: %s", method, path, scrub(str(exc), {self._token or ""}))
            return None
        if response.status_code >= 400:
            log.warning("reporting to GitHub failed: %s %s -> %s %s", method, path, response.status_code, response.text[:200])
            return None
        return response

    async def statuses(self, repo: str, sha: str, reports: list[FunctionReport]) -> None:
        if not self.enabled:
            return
        for report in reports:
            body: dict[str, object] = {
                "state": report.state,
                "context": f"fnsync/{report.function_id}",
                "description": _short(report.description, report.deployment_id),
            }
            await self._call("POST", f"/repos/{repo}/statuses/{sha}", body)

    async def pr_comment(self, repo: str, number: int, sha: str, reports: list[FunctionReport]) -> None:
        """Create the PR's fnsync comment once, then edit it (the id is remembered; else found by its marker)."""
        if not self.enabled or not reports:
            return
        body = render_comment(sha, reports)
        comment_id = self._comment_ids.get(repo, number) or await self._find_comment(repo, number)
        if comment_id is not None:
            if await self._call("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", {"body": body}) is not None:
                self._comment_ids.put(repo, number, comment_id)
                return
        response = await self._call("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
        if response is not None:
            self._comment_ids.put(repo, number, int(response.json()["id"]))

    async def _find_comment(self, repo: str, number: int) -> int | None:
        page = 1
        while page <= 10:
            response = await self._call("GET", f"/repos/{repo}/issues/{number}/comments?per_page=100&page={page}")
            if response is None:
                return None
            items = response.json()
            for item in items:
                if COMMENT_MARKER in (item.get("body") or ""):
                    return int(item["id"])
            if len(items) < 100:
                return None
            page += 1
        return None


class CommentIds(Protocol):
    """Where PR comment ids are remembered (backed by the delivery store)."""

    def get(self, repo: str, number: int) -> int | None: ...

    def put(self, repo: str, number: int, comment_id: int) -> None: ...


def _short(description: str, deployment_id: str) -> str:
    text = f"{description} (deployment {deployment_id})" if deployment_id else description
    return text if len(text) <= 140 else text[:139] + "…"  # GitHub rejects descriptions over 140 characters


ICONS = {"pending": "⏳", "success": "✅", "failure": "❌", "error": "❌"}


def render_comment(sha: str, reports: list[FunctionReport]) -> str:
    lines = [COMMENT_MARKER, f"**fnsync preview** for `{sha[:12]}`", "", "| function | state | deployment | details |", "|---|---|---|---|"]
    for report in reports:
        detail = report.description.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{report.function_id}` | {ICONS[report.state]} {report.state} | {report.deployment_id or '–'} | {detail} |")
    lines += ["", "Preview deployments are not activated."]
    return "\n".join(lines)
