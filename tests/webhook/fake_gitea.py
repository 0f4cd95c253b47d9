"""A small fake of Gitea/Forgejo's REST API v1: commit statuses and issue comments, in the real shapes.

Checked as Gitea checks them: `Authorization: token …` required (401), `state` in pending|success|error|
failure|warning (422), comments need a `body` (422), unknown comments are 404. The comment list is not
paginated (Gitea returns every comment). Every request is recorded.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, Request, Response, get, patch, post
from litestar.params import FromPath

from tests.webhook.fake_server import Recorded, ServedApp, read_json

STATES = {"pending", "success", "error", "failure", "warning"}
USER = {"id": 3, "login": "fnsync-bot", "full_name": "", "email": "bot@noreply.example.com", "avatar_url": "", "username": "fnsync-bot"}


@dataclass
class FakeGiteaState:
    base: str = ""
    requests: list[Recorded] = field(default_factory=list)
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (owner/repo, sha) -> statuses
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)  # (owner/repo, index) -> comments
    ids: itertools.count = field(default_factory=lambda: itertools.count(300))
    fail_with: int | None = None

    def all_statuses(self) -> list[dict[str, Any]]:
        return [s for items in self.statuses.values() for s in items]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_fake_gitea(state: FakeGiteaState) -> Litestar:
    def error(status: int, message: str) -> Response[dict[str, Any]]:
        return Response({"message": message, "url": f"{state.base}/api/swagger"}, status_code=status)

    async def check(request: Request, needs_body: bool) -> tuple[Any, Response[dict[str, Any]] | None]:
        body, ok = await read_json(request)
        state.requests.append(Recorded(request.method, request.url.path, body, dict(request.headers)))
        if state.fail_with:
            return body, error(state.fail_with, "internal server error")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("token ") or len(auth) < 10:
            return body, error(401, "token is required")
        if not ok or (needs_body and not isinstance(body, dict)):
            return body, error(422, "[]: invalid JSON body")
        return body, None

    @post("/api/v1/repos/{owner:str}/{repo:str}/statuses/{sha:str}", status_code=201)
    async def create_status(request: Request, owner: FromPath[str], repo: FromPath[str], sha: FromPath[str]) -> Response[dict[str, Any]]:
        body, problem = await check(request, True)
        if problem:
            return problem
        if body.get("state") not in STATES:
            return error(422, f"[State]: state must be one of {sorted(STATES)}")
        for name in ("context", "target_url", "description"):
            if body.get(name) is not None and not isinstance(body[name], str):
                return error(422, f"[{name}]: must be a string")
        item = {
            "id": next(state.ids), "status": body["state"], "target_url": body.get("target_url") or "",
            "description": body.get("description") or "", "url": f"{state.base}/api/v1/repos/{owner}/{repo}/statuses/{sha}",
            "context": body.get("context") or "default", "creator": USER, "created_at": _now(), "updated_at": _now(),
        }
        state.statuses.setdefault((f"{owner}/{repo}", sha), []).append(item)
        return Response(item, status_code=201)

    def comment_item(owner: str, repo: str, index: int, comment_id: int, text: str, created: str) -> dict[str, Any]:
        return {
            "id": comment_id, "html_url": f"{state.base}/{owner}/{repo}/pulls/{index}#issuecomment-{comment_id}",
            "pull_request_url": f"{state.base}/{owner}/{repo}/pulls/{index}", "issue_url": "", "user": USER,
            "original_author": "", "original_author_id": 0, "body": text, "assets": [], "created_at": created,
            "updated_at": _now(),
        }

    @get("/api/v1/repos/{owner:str}/{repo:str}/issues/{index:int}/comments")
    async def list_comments(request: Request, owner: FromPath[str], repo: FromPath[str], index: FromPath[int]) -> Response[Any]:
        _, problem = await check(request, False)
        if problem:
            return problem
        return Response(state.comments.get((f"{owner}/{repo}", index), []), status_code=200)

    @post("/api/v1/repos/{owner:str}/{repo:str}/issues/{index:int}/comments", status_code=201)
    async def create_comment(request: Request, owner: FromPath[str], repo: FromPath[str], index: FromPath[int]) -> Response[dict[str, Any]]:
        body, problem = await check(request, True)
        if problem:
            return problem
        if not isinstance(body.get("body"), str) or not body["body"]:
            return error(422, "[Body]: Required")
        item = comment_item(owner, repo, index, next(state.ids), body["body"], _now())
        state.comments.setdefault((f"{owner}/{repo}", index), []).append(item)
        return Response(item, status_code=201)

    @patch("/api/v1/repos/{owner:str}/{repo:str}/issues/comments/{comment_id:int}")
    async def edit_comment(request: Request, owner: FromPath[str], repo: FromPath[str], comment_id: FromPath[int]) -> Response[dict[str, Any]]:
        body, problem = await check(request, True)
        if problem:
            return problem
        if not isinstance(body.get("body"), str) or not body["body"]:
            return error(422, "[Body]: Required")
        for (name, index), items in state.comments.items():
            for position, item in enumerate(items):
                if name == f"{owner}/{repo}" and item["id"] == comment_id:
                    items[position] = comment_item(owner, repo, index, comment_id, body["body"], item["created_at"])
                    return Response(items[position], status_code=200)
        return error(404, "The target couldn't be found.")

    return Litestar(route_handlers=[create_status, list_comments, create_comment, edit_comment], openapi_config=None)


class FakeGitea(ServedApp):
    """The fake on 127.0.0.1 (port 0); `url` is the instance URL (the API is under /api/v1)."""

    def __init__(self) -> None:
        self.state = FakeGiteaState()
        super().__init__(create_fake_gitea(self.state), "fake Gitea")
        self.state.base = self.url

    def __enter__(self) -> FakeGitea:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
