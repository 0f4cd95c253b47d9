"""A small fake of GitLab's REST API v4: commit statuses and merge request notes, in the real shapes.

Checked as GitLab checks them: `PRIVATE-TOKEN` required (401), `state` in pending|running|success|failed|
canceled (400), notes need a `body` (400), a status cannot be posted twice in the same state for one commit
and name (400 "Cannot transition status"), unknown notes are 404. Answers are GitLab's objects. Every request
is recorded so tests can assert what the receiver posted.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, Request, Response, get, post, put
from litestar.params import FromPath

from tests.webhook.fake_server import Recorded, ServedApp, read_json

STATES = {"pending", "running", "success", "failed", "canceled"}
EVENTS = {"pending": "enqueue", "running": "run", "success": "succeed", "failed": "drop", "canceled": "cancel"}
AUTHOR = {"id": 7, "username": "fnsync-bot", "name": "fnsync bot", "state": "active", "avatar_url": None,
          "web_url": "https://gitlab.example.com/fnsync-bot"}


@dataclass
class FakeGitLabState:
    requests: list[Recorded] = field(default_factory=list)
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (project, sha) -> statuses
    notes: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)  # (project, mr iid) -> notes
    ids: itertools.count = field(default_factory=lambda: itertools.count(5000))
    fail_with: int | None = None

    def all_statuses(self) -> list[dict[str, Any]]:
        return [s for items in self.statuses.values() for s in items]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _message(status: int, message: Any) -> Response[dict[str, Any]]:
    return Response({"message": message}, status_code=status)


def create_fake_gitlab(state: FakeGitLabState) -> Litestar:
    async def check(request: Request, needs_body: bool) -> tuple[Any, Response[dict[str, Any]] | None]:
        body, ok = await read_json(request)
        state.requests.append(Recorded(request.method, request.url.path, body, dict(request.headers)))
        if state.fail_with:
            # echoes the token, as a misbehaving proxy might: the receiver must scrub it from its logs
            return body, _message(state.fail_with, f"Internal Server Error for {request.headers.get('private-token', '')}")
        if len(request.headers.get("private-token", "")) < 4:
            return body, _message(401, "401 Unauthorized")
        if not ok or (needs_body and not isinstance(body, dict)):
            return body, Response({"error": "400 Bad request - body is not a JSON object"}, status_code=400)
        return body, None

    @post("/api/v4/projects/{project:str}/statuses/{sha:str}", status_code=201)
    async def create_status(request: Request, project: FromPath[str], sha: FromPath[str]) -> Response[dict[str, Any]]:
        body, problem = await check(request, True)
        if problem:
            return problem
        if body.get("state") not in STATES:
            return Response({"error": "state does not have a valid value"}, status_code=400)
        for name in ("name", "context", "target_url", "description", "ref"):
            if body.get(name) is not None and not isinstance(body[name], str):
                return Response({"error": f"{name} is invalid"}, status_code=400)
        name = body.get("name") or body.get("context") or "default"
        previous = [s for s in state.statuses.get((project, sha), []) if s["name"] == name]
        if previous and previous[-1]["status"] == body["state"]:
            current, event = previous[-1]["status"], EVENTS[body["state"]]
            return _message(400, f"Cannot transition status via :{event} from :{current} (Reason(s): Status cannot transition via \"{event}\")")
        item = {
            "id": next(state.ids), "sha": sha, "ref": body.get("ref") or "main", "status": body["state"], "name": name,
            "target_url": body.get("target_url"), "description": body.get("description"), "created_at": _now(),
            "started_at": None, "finished_at": None, "allow_failure": False, "coverage": None, "author": AUTHOR,
        }
        state.statuses.setdefault((project, sha), []).append(item)
        return Response(item, status_code=201)

    def note_item(project: str, iid: int, note_id: int, text: str, created: str) -> dict[str, Any]:
        return {
            "id": note_id, "type": None, "body": text, "attachment": None, "author": AUTHOR, "created_at": created,
            "updated_at": _now(), "system": False, "noteable_id": 9000 + iid, "noteable_type": "MergeRequest",
            "project_id": int(project) if project.isdigit() else None, "resolvable": False, "confidential": False,
            "internal": False, "noteable_iid": iid,
        }

    @get("/api/v4/projects/{project:str}/merge_requests/{iid:int}/notes")
    async def list_notes(request: Request, project: FromPath[str], iid: FromPath[int]) -> Response[Any]:
        _, problem = await check(request, False)
        if problem:
            return problem
        per_page = int(request.query_params.get("per_page", 20))
        page = int(request.query_params.get("page", 1))
        items = list(reversed(state.notes.get((project, iid), [])))  # GitLab lists newest first by default
        return Response(items[(page - 1) * per_page : page * per_page], status_code=200)

    @post("/api/v4/projects/{project:str}/merge_requests/{iid:int}/notes", status_code=201)
    async def create_note(request: Request, project: FromPath[str], iid: FromPath[int]) -> Response[dict[str, Any]]:
        body, problem = await check(request, True)
        if problem:
            return problem
        if not isinstance(body.get("body"), str) or not body["body"]:
            return Response({"error": "body is missing"}, status_code=400)
        item = note_item(project, iid, next(state.ids), body["body"], _now())
        state.notes.setdefault((project, iid), []).append(item)
        return Response(item, status_code=201)

    @put("/api/v4/projects/{project:str}/merge_requests/{iid:int}/notes/{note_id:int}")
    async def update_note(request: Request, project: FromPath[str], iid: FromPath[int], note_id: FromPath[int]) -> Response[dict[str, Any]]:
        body, problem = await check(request, True)
        if problem:
            return problem
        if not isinstance(body.get("body"), str) or not body["body"]:
            return Response({"error": "body is missing"}, status_code=400)
        items = state.notes.get((project, iid), [])
        for index, item in enumerate(items):
            if item["id"] == note_id:
                items[index] = note_item(project, iid, note_id, body["body"], item["created_at"])
                return Response(items[index], status_code=200)
        return _message(404, "404 Not found")

    return Litestar(route_handlers=[create_status, list_notes, create_note, update_note], openapi_config=None)


class FakeGitLab(ServedApp):
    """The fake on 127.0.0.1 (port 0); `url` is the instance URL (the API is under /api/v4)."""

    def __init__(self) -> None:
        self.state = FakeGitLabState()
        super().__init__(create_fake_gitlab(self.state), "fake GitLab")

    def __enter__(self) -> FakeGitLab:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
