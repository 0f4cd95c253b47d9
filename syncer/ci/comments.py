"""One sticky pull request comment, created once and then edited, over GitHub's, GitLab's or Gitea's REST API.

The comment is found again by a hidden marker line (`<!-- fnsync:plan ... -->`), so a CI job that keeps no
state still edits the same comment on every push. Unlike the receiver's best-effort reporting, a failure here
is the job's result: it raises `CommentError` with the host's answer (the token scrubbed) and a hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from syncer.ci.platform import PullRequest
from syncer.client.errors import scrub

MAX_PAGES = 20
PER_PAGE = 100
HINTS = {
    401: "the token was refused: check that it is set and not expired",
    403: "the token may not write comments: give the job `permissions: pull-requests: write` (GitHub), the `api` "
    "scope (GitLab), or write access to issues (Gitea/Forgejo). Pull requests from forks get a read-only token",
    404: "the repository or pull request was not found with this token (private repository, or wrong API URL?)",
}


class CommentError(Exception):
    """Posting the comment failed; the message says where, what the host answered and what to do."""


@dataclass(frozen=True)
class Posted:
    action: Literal["created", "updated"]
    comment_id: int


@dataclass(frozen=True)
class Shapes:
    """One host's REST shapes for listing, creating and editing comments on a pull/merge request."""

    headers: dict[str, str]
    list_path: str
    paginated: bool
    create_path: str
    edit_method: str
    edit_path: str  # with {id}


def shapes_for(target: PullRequest) -> Shapes:
    repo, number, token = target.repo, target.number, target.token
    agent = {"User-Agent": "fnsync-ci"}
    if target.provider == "gitlab":
        notes = f"/projects/{repo}/merge_requests/{number}/notes"
        headers = {"Accept": "application/json", "PRIVATE-TOKEN": token, **agent}
        return Shapes(headers, f"{notes}?sort=asc&order_by=created_at", True, notes, "PUT", notes + "/{id}")
    comments = f"/repos/{repo}/issues/{number}/comments"
    edit = f"/repos/{repo}/issues/comments/" + "{id}"
    if target.provider == "gitea":
        headers = {"Accept": "application/json", "Authorization": f"token {token}", **agent}
        return Shapes(headers, comments, False, comments, "PATCH", edit)  # Gitea lists every comment at once
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": "2022-11-28",
        **agent,
    }
    return Shapes(headers, comments, True, comments, "PATCH", edit)


class StickyComment:
    """`upsert(marker, body)`: edit the comment holding `marker`, or create it."""

    def __init__(self, target: PullRequest, http: httpx.Client) -> None:
        self.target = target
        self.shapes = shapes_for(target)
        self.api_url = target.api_url.rstrip("/")
        self._http = http

    def upsert(self, marker: str, body: str) -> Posted:
        if marker not in body:
            body = f"{marker}\n{body}"
        found = self.find(marker)
        if found is not None:
            self._call(self.shapes.edit_method, self.shapes.edit_path.format(id=found), {"body": body})
            return Posted("updated", found)
        created = self._call("POST", self.shapes.create_path, {"body": body})
        return Posted("created", int(created["id"]))

    def find(self, marker: str) -> int | None:
        """The id of the first comment holding the marker (oldest first), or None."""
        for page in range(1, MAX_PAGES + 1):
            path = self.shapes.list_path
            if self.shapes.paginated:
                path += ("&" if "?" in path else "?") + f"per_page={PER_PAGE}&page={page}"
            items = self._call("GET", path)
            if not isinstance(items, list):
                raise CommentError(f"{self._where('GET', path)}: expected a list of comments, got {type(items).__name__}")
            for item in items:
                if isinstance(item, dict) and marker in str(item.get("body") or ""):
                    return int(item["id"])
            if not self.shapes.paginated or len(items) < PER_PAGE:
                return None
        return None

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        secrets = (self.target.token,)
        try:
            response = self._http.request(method, self.api_url + path, json=json, headers=self.shapes.headers)
        except httpx.HTTPError as exc:
            raise CommentError(f"{self._where(method, path)} failed: {scrub(str(exc), secrets)}") from None
        if response.status_code >= 400:
            answer = scrub(response.text[:300], secrets)
            hint = HINTS.get(response.status_code, "")
            raise CommentError(
                f"{self._where(method, path)} answered {response.status_code}: {answer}" + (f" ({hint})" if hint else "")
            )
        try:
            return response.json()
        except ValueError:
            raise CommentError(f"{self._where(method, path)} answered {response.status_code} with a body that is not JSON") from None

    def _where(self, method: str, path: str) -> str:
        return f"{self.target.provider} {method} {self.api_url}{path.split('?')[0]}"
