"""A small fake of GitHub's REST API for commit statuses and issue comments, speaking the real shapes.

Requests are validated the way GitHub does (auth required, `state` enum, `body` required, JSON bodies) and
answered with GitHub's response objects (401/404/422 error bodies included). Every request is recorded so
tests can assert what the receiver posted.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, get, patch, post
from litestar.params import FromPath

from tests.helpers import wait_until

DOCS = "https://docs.github.com/rest"
STATES = {"error", "failure", "pending", "success"}


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class FakeGitHubState:
    requests: list[Recorded] = field(default_factory=list)
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (repo, sha) -> statuses
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)  # (repo, issue) -> comments
    ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    fail_with: int | None = None  # answer every request with this status (reporting failure tests)

    def all_statuses(self) -> list[dict[str, Any]]:
        return [s for items in self.statuses.values() for s in items]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors:
        body["errors"] = errors
    return Response(body, status_code=status)


def _invalid(resource: str, fld: str, message: str) -> Response[dict[str, Any]]:
    return _error(422, "Validation Failed", [{"resource": resource, "code": "custom", "field": fld, "message": message}])


USER = {"login": "fnsync-bot", "id": 1, "node_id": "MDQ6VXNlcjE=", "type": "Bot", "site_admin": False}


def create_fake_github(state: FakeGitHubState) -> Litestar:
    async def check(request: Request) -> tuple[Any, Response[dict[str, Any]] | None]:
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                return None, _error(400, "Problems parsing JSON")
        state.requests.append(Recorded(request.method, request.url.path, body, dict(request.headers)))
        if state.fail_with:
            return body, _error(state.fail_with, "Server Error")
        auth = request.headers.get("authorization", "")
        if not (auth.startswith("Bearer ") or auth.startswith("token ")) or len(auth.split(" ", 1)[1]) < 4:
            return body, _error(401, "Requires authentication")
        if request.method in ("POST", "PATCH") and not isinstance(body, dict):
            return body, _error(400, "Problems parsing JSON")
        return body, None

    @post("/repos/{owner:str}/{repo:str}/statuses/{sha:str}", status_code=201)
    async def create_status(request: Request, owner: FromPath[str], repo: FromPath[str], sha: FromPath[str]) -> Response[dict[str, Any]]:
        body, problem = await check(request)
        if problem:
            return problem
        if body.get("state") not in STATES:
            return _invalid("Status", "state", f"state must be one of {sorted(STATES)}")
        for name in ("target_url", "description", "context"):
            if name in body and body[name] is not None and not isinstance(body[name], str):
                return _invalid("Status", name, f"{name} must be a string")
        if len(body.get("description") or "") > 140:
            return _invalid("Status", "description", "description is too long (maximum is 140 characters)")
        status_id = next(state.ids)
        item = {
            "url": f"https://api.github.com/repos/{owner}/{repo}/statuses/{sha}",
            "avatar_url": None,
            "id": status_id,
            "node_id": f"SC_{status_id}",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context") or "default",
            "created_at": _now(),
            "updated_at": _now(),
            "creator": USER,
        }
        state.statuses.setdefault((f"{owner}/{repo}", sha), []).append(item)
        return Response(item, status_code=201)

    def comment_item(owner: str, repo: str, number: int, comment_id: int, text: str, created: str) -> dict[str, Any]:
        return {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"https://api.github.com/repos/{owner}/{repo}/issues/comments/{comment_id}",
            "html_url": f"https://github.com/{owner}/{repo}/pull/{number}#issuecomment-{comment_id}",
            "body": text,
            "user": USER,
            "created_at": created,
            "updated_at": _now(),
            "issue_url": f"https://api.github.com/repos/{owner}/{repo}/issues/{number}",
            "author_association": "NONE",
        }

    @get("/repos/{owner:str}/{repo:str}/issues/{number:int}/comments")
    async def list_comments(request: Request, owner: FromPath[str], repo: FromPath[str], number: FromPath[int]) -> Response[Any]:
        _, problem = await check(request)
        if problem:
            return problem
        per_page = int(request.query_params.get("per_page", 30))
        page = int(request.query_params.get("page", 1))
        items = state.comments.get((f"{owner}/{repo}", number), [])
        return Response(items[(page - 1) * per_page : page * per_page], status_code=200)

    @post("/repos/{owner:str}/{repo:str}/issues/{number:int}/comments", status_code=201)
    async def create_comment(request: Request, owner: FromPath[str], repo: FromPath[str], number: FromPath[int]) -> Response[dict[str, Any]]:
        body, problem = await check(request)
        if problem:
            return problem
        if not isinstance(body.get("body"), str) or not body["body"]:
            return _invalid("IssueComment", "body", "body is missing")
        item = comment_item(owner, repo, number, next(state.ids), body["body"], _now())
        state.comments.setdefault((f"{owner}/{repo}", number), []).append(item)
        return Response(item, status_code=201)

    @patch("/repos/{owner:str}/{repo:str}/issues/comments/{comment_id:int}")
    async def update_comment(request: Request, owner: FromPath[str], repo: FromPath[str], comment_id: FromPath[int]) -> Response[dict[str, Any]]:
        body, problem = await check(request)
        if problem:
            return problem
        if not isinstance(body.get("body"), str) or not body["body"]:
            return _invalid("IssueComment", "body", "body is missing")
        for (name, number), items in state.comments.items():
            for index, item in enumerate(items):
                if name == f"{owner}/{repo}" and item["id"] == comment_id:
                    items[index] = comment_item(owner, repo, number, comment_id, body["body"], item["created_at"])
                    return Response(items[index], status_code=200)
        return _error(404, "Not Found")

    return Litestar(route_handlers=[create_status, list_comments, create_comment, update_comment], openapi_config=None)


class FakeGitHub:
    """The fake on 127.0.0.1 (port 0) in a daemon thread; `url` is its API base."""

    def __init__(self) -> None:
        self.state = FakeGitHubState()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_fake_github(self.state), log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, what="fake GitHub start")
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
