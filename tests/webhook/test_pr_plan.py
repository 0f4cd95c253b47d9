"""Plans on pull/merge requests, end to end: real git repositories, the receiver, the local server (every request
it gets from the receiver recorded), and the fake GitHub/GitLab APIs.

A pull request changing one function's code and one variable gets one comment whose plan lists exactly those two
changes and a `fnsync/plan` success; the next push edits that comment; an invalid manifest gets a failure naming
file and line; and no pull request event writes anything to Appwrite beyond its preview deployments.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from appwrite.services.functions import Functions
from litestar.testing import AsyncTestClient

from syncer.client import AppwriteClient
from tests.conftest import LocalServer
from tests.helpers import async_wait_until
from tests.webhook.conftest import INSTALLATION, receiver_config
from tests.webhook.fake_github import FakeGitHub
from tests.webhook.fake_gitlab import FakeGitLab
from tests.webhook.support import (
    ZERO, Remote, encode, github_headers, gitlab_mr_payload, gitlab_push_payload, pull_request_payload, push_payload,
)
from tests.webhook.test_end_to_end import NODE, REPO_ID, active, deliver, push, settled
from tests.webhook.fake_gitea import FakeGitea
from tests.webhook.test_vcs_reporting import GITEA_TOKEN, GITLAB_TOKEN, PROJECT, deliver_gitea, deliver_gitlab
from webhook import create_app

pytestmark = pytest.mark.slow

REPO = "Codertocat/Hello-World"
MANIFEST = """\
version: 1
functions:
  fn-a:
    name: A
    runtime: node-18.0
    path: fns/a
    entrypoint: index.js
    variables:
      GREETING: hello
  fn-b:
    name: B
    runtime: node-18.0
    path: fns/b
    entrypoint: index.js
"""
CHANGED = MANIFEST.replace("GREETING: hello", "GREETING: hola")
INVALID = CHANGED.replace("    name: A\n", "    name: A\n    timeout: soon\n")  # line 5
EXACTLY_TWO = "Plan: 0 to create, 0 to update, 0 to delete; 1 variable change; 1 to deploy, 0 to rebuild."


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP to the local server, noting every request that is not a read. One connection per request, read
    whole: the receiver's loop (the test client's portal) ends before the test's, so no pool may outlive it."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in ("GET", "HEAD"):
            self.writes.append((request.method, request.url.path))
        async with httpx.AsyncHTTPTransport() as transport:
            response = await transport.handle_async_request(request)
            content = b"".join([chunk async for chunk in response.aiter_raw()])
        return httpx.Response(response.status_code, headers=response.headers, content=content, extensions=response.extensions)


Start = Callable[..., Any]


@pytest.fixture
def recorded_receiver(local_server: LocalServer, tmp_path: Path, database: str | None) -> tuple[Start, RecordingTransport]:
    """`async with start(**config) as client:` a receiver whose Appwrite client records its writes."""
    transport = RecordingTransport()

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[AsyncTestClient]:
        config = receiver_config(local_server, tmp_path / "webhook-data", **{"database": database, **overrides})
        appwrite = AppwriteClient(local_server.endpoint, local_server.project, local_server.api_key, transport=transport)
        async with AsyncTestClient(app=create_app(config, client=appwrite), timeout=30) as client:
            yield client

    return start, transport


def link(sdk: Functions, function_id: str, root: str, repo_id: int, silent: bool = False) -> None:
    sdk.create(function_id, function_id, "node-18.0", entrypoint="index.js", installation_id=INSTALLATION,
               provider_repository_id=str(repo_id), provider_branch="main", provider_root_directory=root,
               provider_silent_mode=silent)


def preview_writes(writes: list[tuple[str, str]], functions: set[str]) -> list[tuple[str, str]]:
    """The writes a preview makes: its deployment, and the project lock it holds meanwhile."""
    allowed = re.compile(rf"^/v1/functions/(({'|'.join(functions)})/deployments|fnsync-lock(/.*)?)$")
    return [w for w in writes if not (allowed.match(w[1]) and (w[0] == "POST" or "fnsync-lock" in w[1]))]


def plan_sections(body: str) -> list[str]:
    """The function IDs the plan in a comment has a section for."""
    return re.findall(r"<details><summary><code>[~+-] ([\w-]+)</code>", body)


def server_view(sdk: Functions, function_id: str) -> tuple[Any, ...]:
    """What a PR must never change: settings, variables and the active deployment."""
    function = sdk.get(function_id)
    variables = {v["key"]: v["value"] for v in sdk.list_variables(function_id)["variables"]}
    return function["name"], function["timeout"], function["entrypoint"], function["deployment"], variables


@pytest.mark.slow
async def test_github_pull_request_plan_comment_and_status(
    recorded_receiver: tuple[Start, RecordingTransport], appwrite_sdk: Functions, tmp_path: Path
) -> None:
    start, transport = recorded_receiver
    remote = Remote(tmp_path)
    base = remote.commit({"functions.yaml": MANIFEST, "fns/a/index.js": NODE, "fns/b/index.js": NODE, "fns/q/index.js": NODE})
    link(appwrite_sdk, "fn-a", "fns/a", REPO_ID)
    link(appwrite_sdk, "fn-b", "fns/b", REPO_ID)
    link(appwrite_sdk, "fn-q", "fns/q", REPO_ID, silent=True)  # silent: neither planned nor reported
    with FakeGitHub() as gh:
        async with start(github_api_url=gh.url, github_token="ghs_test") as client:
            live = await settled(client, await deliver(client, "push", push(remote, ZERO, base, None, created=True)))
            assert live["status"] == "done", live
            before = {fid: server_view(appwrite_sdk, fid) for fid in ("fn-a", "fn-b", "fn-q")}
            transport.writes.clear()

            # one function's code and one variable change (fn-q's code too, but it is silent)
            head1 = remote.commit({"fns/a/index.js": NODE + "// pr 1\n", "fns/q/index.js": NODE + "// q\n",
                                   "functions.yaml": CHANGED}, branch="feature")
            remote.push_ref(head1, "refs/pull/9/head")
            opened = pull_request_payload(repo_id=REPO_ID, clone_url=remote.url, number=9, base="main", base_sha=base, head_sha=head1)
            first = await settled(client, await deliver(client, "pull_request", opened))
            assert first["status"] == "done" and set(first["deployments"]) == {"fn-a", "fn-q"}, first
            assert any(h["message"].startswith("plan: 2 to change") for h in first["history"]), first["history"]
            comment = await _final_comment(gh, 9, first["deployments"]["fn-a"])
            assert plan_sections(comment) == ["fn-a"] and EXACTLY_TWO in comment, comment
            section = comment.split("<details>")[1]
            assert "`GREETING`" in section and '`"hello"`' in section and '`"hola"`' in section
            assert "**Code:** deploy 1 file" in section and "fn-q" not in comment
            assert _statuses(gh, head1, "fnsync/plan") == ["pending", "success"]
            success = [s for s in gh.state.statuses[(REPO, head1)] if s["context"] == "fnsync/plan"][-1]
            assert success["description"].startswith("2 to change"), success
            assert not any(s["context"] == "fnsync/fn-q" for s in gh.state.all_statuses())

            # a second push to the pull request: the same comment is edited
            head2 = remote.commit({"fns/a/index.js": NODE + "// pr 2\n"}, branch="feature")
            remote.push_ref(head2, "refs/pull/9/head")
            sync = pull_request_payload(repo_id=REPO_ID, clone_url=remote.url, number=9, base="main", base_sha=base,
                                        head_sha=head2, action="synchronize")
            second = await settled(client, await deliver(client, "pull_request", sync))
            assert second["status"] == "done", second
            comment = await _final_comment(gh, 9, second["deployments"]["fn-a"])
            assert head2[:12] in comment and plan_sections(comment) == ["fn-a"] and EXACTLY_TWO in comment
            assert len(gh.state.comments[(REPO, 9)]) == 1
            assert _statuses(gh, head2, "fnsync/plan") == ["pending", "success"]

            # an invalid manifest: the plan fails naming file and line, nothing is written
            head3 = remote.commit({"functions.yaml": INVALID}, branch="feature")
            remote.push_ref(head3, "refs/pull/9/head")
            broken = pull_request_payload(repo_id=REPO_ID, clone_url=remote.url, number=9, base="main", base_sha=base,
                                          head_sha=head3, action="synchronize")
            failed = await settled(client, await deliver(client, "pull_request", broken))
            assert failed["status"] == "failed", failed
            await eventually(lambda: _statuses(gh, head3, "fnsync/plan") == ["pending", "failure"], "the plan's failure status")
            failure = [s for s in gh.state.statuses[(REPO, head3)] if s["context"] == "fnsync/plan"][-1]
            assert failure["description"] == "functions.yaml:5: functions.fn-a.timeout: must be a whole number", failure
            comment = await eventually(lambda: _comment_with(gh, 9, "Nothing was planned"), "failure comment")
            assert "functions.yaml:5: functions.fn-a.timeout" in comment and len(gh.state.comments[(REPO, 9)]) == 1

            # a pull request touching no function and not the manifest: nothing to plan, said so
            remote.work.git.checkout("main")
            head4 = remote.commit({"README.md": "docs"}, branch="docs")
            remote.push_ref(head4, "refs/pull/10/head")
            docs = pull_request_payload(repo_id=REPO_ID, clone_url=remote.url, number=10, base="main", base_sha=base, head_sha=head4)
            assert (await settled(client, await deliver(client, "pull_request", docs)))["status"] == "done"
            await eventually(lambda: _statuses(gh, head4, "fnsync/plan") == ["pending", "success"], "the docs PR's plan status")
            await eventually(lambda: _comment_with(gh, 10, "Nothing to plan"), "the docs PR's comment")

        # Every PR event wrote only its previews (fn-a's for two pushes, fn-q's once) and the lock they hold
        deployments = [w for w in transport.writes if w[1].endswith("/deployments")]
        assert sorted(deployments) == sorted([("POST", "/v1/functions/fn-a/deployments")] * 2 + [("POST", "/v1/functions/fn-q/deployments")])
        assert preview_writes(transport.writes, {"fn-a", "fn-q"}) == []
        assert {fid: server_view(appwrite_sdk, fid) for fid in ("fn-a", "fn-b", "fn-q")} == before
        assert active(appwrite_sdk, "fn-a") == live["deployments"]["fn-a"]


@pytest.mark.slow
async def test_gitlab_merge_request_plan_note_and_status(
    recorded_receiver: tuple[Start, RecordingTransport], appwrite_sdk: Functions, tmp_path: Path
) -> None:
    start, transport = recorded_receiver
    remote = Remote(tmp_path)
    base = remote.commit({"functions.yaml": MANIFEST, "fns/a/index.js": NODE, "fns/b/index.js": NODE})
    link(appwrite_sdk, "fn-a", "fns/a", PROJECT)
    link(appwrite_sdk, "fn-b", "fns/b", PROJECT)
    with FakeGitLab() as gl:
        async with start(gitlab_api_url=gl.url, gitlab_token=GITLAB_TOKEN) as client:
            live = gitlab_push_payload(project_id=PROJECT, clone_url=remote.url, branch="main", before=ZERO, after=base, files=None)
            assert (await settled(client, await deliver_gitlab(client, "Push Hook", live)))["status"] == "done"
            before = {fid: server_view(appwrite_sdk, fid) for fid in ("fn-a", "fn-b")}
            transport.writes.clear()

            previews: list[str] = []
            for number, (files, action) in enumerate(
                [({"fns/a/index.js": NODE + "// mr 1\n", "functions.yaml": CHANGED}, "open"), ({"fns/a/index.js": NODE + "// mr 2\n"}, "update")]
            ):
                head = remote.commit(files, branch="feature")
                remote.push_ref(head, "refs/merge-requests/4/head")
                mr = gitlab_mr_payload(project_id=PROJECT, clone_url=remote.url, iid=4, target="main", source="feature", head=head, action=action)
                done = await settled(client, await deliver_gitlab(client, "Merge Request Hook", mr))
                assert done["status"] == "done" and set(done["deployments"]) == {"fn-a"}, done
                previews.append(done["deployments"]["fn-a"])
                note = await eventually(lambda: _note_with(gl, 4, done["deployments"]["fn-a"]), "the note")
                assert head[:12] in note and plan_sections(note) == ["fn-a"] and EXACTLY_TWO in note, note
                assert len(gl.state.notes[(str(PROJECT), 4)]) == 1, number
                plan = [s for s in gl.state.statuses[(str(PROJECT), head)] if s["name"] == "fnsync/plan"]
                assert [s["status"] for s in plan] == ["pending", "success"] and plan[-1]["description"].startswith("2 to change")

            head = remote.commit({"functions.yaml": INVALID}, branch="feature")
            remote.push_ref(head, "refs/merge-requests/4/head")
            mr = gitlab_mr_payload(project_id=PROJECT, clone_url=remote.url, iid=4, target="main", source="feature", head=head, action="update")
            assert (await settled(client, await deliver_gitlab(client, "Merge Request Hook", mr)))["status"] == "failed"

            def plan_failed() -> dict[str, Any] | None:
                found = [s for s in gl.state.statuses.get((str(PROJECT), head), []) if s["name"] == "fnsync/plan" and s["status"] == "failed"]
                return found[0] if found else None

            failure = await eventually(plan_failed, "the plan's failed status")
            assert failure["description"].startswith("functions.yaml:5: functions.fn-a.timeout"), failure

        assert sorted(w for w in transport.writes if w[1].endswith("/deployments")) == [("POST", "/v1/functions/fn-a/deployments")] * 2
        assert preview_writes(transport.writes, {"fn-a"}) == []
        assert {fid: server_view(appwrite_sdk, fid) for fid in ("fn-a", "fn-b")} == before


@pytest.mark.slow
async def test_gitea_pull_request_plan_comment_and_status(
    recorded_receiver: tuple[Start, RecordingTransport], appwrite_sdk: Functions, tmp_path: Path
) -> None:
    start, transport = recorded_receiver
    remote = Remote(tmp_path)
    base = remote.commit({"functions.yaml": MANIFEST, "fns/a/index.js": NODE, "fns/b/index.js": NODE})
    link(appwrite_sdk, "fn-a", "fns/a", 55)
    link(appwrite_sdk, "fn-b", "fns/b", 55)
    with FakeGitea() as gt:
        html_url = f"{gt.url}/acme/shop"
        async with start(gitea_token=GITEA_TOKEN, allow_clone_urls=("file://*", f"{gt.url}/*")) as client:
            live = push_payload(repo_id=55, clone_url=remote.url, branch="main", before=ZERO, after=base, full_name="acme/shop", created=True)
            live["repository"]["html_url"] = html_url
            assert (await settled(client, await deliver_gitea(client, "push", live)))["status"] == "done"
            before = {fid: server_view(appwrite_sdk, fid) for fid in ("fn-a", "fn-b")}
            transport.writes.clear()
            head = remote.commit({"fns/a/index.js": NODE + "// pr\n", "functions.yaml": CHANGED}, branch="feature")
            remote.push_ref(head, "refs/pull/6/head")
            pr = pull_request_payload(repo_id=55, clone_url=remote.url, number=6, base="main", base_sha=base, head_sha=head, full_name="acme/shop")
            pr["pull_request"]["base"]["repo"]["html_url"] = html_url
            done = await settled(client, await deliver_gitea(client, "pull_request", pr))
            assert done["status"] == "done" and set(done["deployments"]) == {"fn-a"}, done

            def final() -> str | None:
                comments = gt.state.comments.get(("acme/shop", 6), [])
                return comments[0]["body"] if comments and done["deployments"]["fn-a"] in comments[0]["body"] else None

            comment = await eventually(final, "the final comment")
            assert plan_sections(comment) == ["fn-a"] and EXACTLY_TWO in comment and len(gt.state.comments[("acme/shop", 6)]) == 1
            plan = [s for s in gt.state.statuses[("acme/shop", head)] if s["context"] == "fnsync/plan"]
            assert [s["status"] for s in plan] == ["pending", "success"] and plan[-1]["description"].startswith("2 to change")
        assert [w for w in transport.writes if w[1].endswith("/deployments")] == [("POST", "/v1/functions/fn-a/deployments")]
        assert preview_writes(transport.writes, {"fn-a"}) == []
        assert {fid: server_view(appwrite_sdk, fid) for fid in ("fn-a", "fn-b")} == before


async def test_a_fork_is_planned_only_when_allowed_and_never_shows_the_receiver_environment(
    recorded_receiver: tuple[Start, RecordingTransport], appwrite_sdk: Functions, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DATABASE_PASSWORD", "hunter2-receiver-only")
    monkeypatch.setenv("DEPLOY_LABEL", "label-of-the-receiver")
    start, transport = recorded_receiver
    remote = Remote(tmp_path)
    base = remote.commit({"functions.yaml": MANIFEST, "fns/a/index.js": NODE, "fns/b/index.js": NODE})
    link(appwrite_sdk, "fn-a", "fns/a", REPO_ID)
    link(appwrite_sdk, "fn-b", "fns/b", REPO_ID)
    # the fork reads the receiver's environment into a setting and a variable
    sneaky = CHANGED.replace("name: A", "name: A ${DEPLOY_LABEL}").replace("GREETING: hola", "GREETING: ${DATABASE_PASSWORD}")
    head = remote.commit({"functions.yaml": sneaky}, branch="fork")
    remote.push_ref(head, "refs/pull/11/head")
    payload = pull_request_payload(repo_id=REPO_ID, clone_url=remote.url, number=11, base="main", base_sha=base, head_sha=head, fork=True)
    with FakeGitHub() as gh:
        async with start(github_api_url=gh.url, github_token="ghs_test") as client:
            live = await settled(client, await deliver(client, "push", push(remote, ZERO, base, None, created=True)))
            assert live["status"] == "done", live
            body = (await client.post("/webhooks/github", content=encode(payload), headers=github_headers("pull_request", encode(payload)))).json()
            assert body["status"] == "ignored" and "fork" in body["reason"]
        assert gh.state.comments == {}

        async with start(github_api_url=gh.url, github_token="ghs_test", allow_fork_prs=True) as client:
            assert (await settled(client, await deliver(client, "pull_request", payload)))["status"] == "done"
            comment = await eventually(lambda: _comment_with(gh, 11, "Preview deployments"), "comment")
            await eventually(lambda: _statuses(gh, head, "fnsync/plan") == ["pending", "success"], "status")
    assert plan_sections(comment) == ["fn-a"] and "`GREETING`" in comment and "(sensitive)" in comment
    assert "| `name` | `\"A\"` | `\"(sensitive)\"` |" in comment, comment  # the setting is masked, not just scrubbed
    assert not any(value in str(gh.state.requests) for value in ("hunter2", "label-of-the-receiver"))
    assert appwrite_sdk.get("fn-a")["name"] == "A"


# --- helpers ---

T = TypeVar("T")


async def eventually(probe: Callable[[], T], what: str) -> T:
    """Poll a look at a fake's state (reports are posted in the background) until it is truthy."""

    async def check() -> T:
        return probe()

    return await async_wait_until(check, timeout=20, what=what)


def _statuses(gh: FakeGitHub, sha: str, name: str) -> list[str]:
    return [s["state"] for s in gh.state.statuses.get((REPO, sha), []) if s["context"] == name]


def _comment_with(gh: FakeGitHub, number: int, text: str) -> str | None:
    comments = gh.state.comments.get((REPO, number), [])
    return comments[0]["body"] if comments and text in comments[0]["body"] else None


def _note_with(gl: FakeGitLab, iid: int, text: str) -> str | None:
    notes = gl.state.notes.get((str(PROJECT), iid), [])
    return notes[0]["body"] if notes and text in notes[0]["body"] else None


async def _final_comment(gh: FakeGitHub, number: int, deployment: str) -> str:
    """The comment once the previews are reported in it (the plan is posted first, while they build)."""
    return await eventually(lambda: _comment_with(gh, number, deployment), "the final comment")
