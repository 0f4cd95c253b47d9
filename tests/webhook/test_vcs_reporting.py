"""GitLab and Gitea deliveries reported back through their real REST shapes (fake servers that check them):
commit statuses per function, one MR/PR comment edited in place, nothing at all for silent functions, and
a failing VCS API that never fails a deployment nor leaks its token."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from appwrite.services.functions import Functions
from litestar.testing import AsyncTestClient

from tests.webhook.conftest import INSTALLATION, Receiver
from tests.webhook.fake_gitea import FakeGitea
from tests.webhook.fake_gitlab import FakeGitLab
from tests.webhook.support import (
    CommentIds,
    ZERO, Remote, encode, gitea_headers, gitlab_headers, gitlab_mr_payload, gitlab_push_payload, pull_request_payload, push_payload,
)
from tests.webhook.test_end_to_end import NODE, settled
from webhook import WebhookConfig
from webhook.deploy import manifest_environ
from webhook.events import JobRequest
from webhook.reporting import Reporters, gitea_base
from webhook.signatures import Provider

pytestmark = pytest.mark.slow

PROJECT = 777
GITLAB_TOKEN = "glpat-test-token-0001"
GITEA_TOKEN = "gitea-test-token-0001"


def link(sdk: Functions, function_id: str, root: str, repo_id: int, silent: bool = False) -> None:
    sdk.create(function_id, function_id, "node-18.0", entrypoint="index.js", installation_id=INSTALLATION,
               provider_repository_id=str(repo_id), provider_branch="main", provider_root_directory=root,
               provider_silent_mode=silent)


async def deliver_gitlab(client: AsyncTestClient, event: str, payload: dict[str, Any]) -> str:
    response = await client.post("/webhooks/gitlab", content=encode(payload), headers=gitlab_headers(event))
    assert response.status_code == 202, response.text
    return str(response.json()["delivery"])


async def deliver_gitea(client: AsyncTestClient, event: str, payload: dict[str, Any]) -> str:
    body = encode(payload)
    response = await client.post("/webhooks/gitea", content=body, headers=gitea_headers(event, body))
    assert response.status_code == 202, response.text
    return str(response.json()["delivery"])


def states(statuses: list[dict[str, Any]], key: str = "status") -> list[tuple[str, str]]:
    return sorted((s.get("name") or s["context"], s[key]) for s in statuses)


async def test_gitlab_statuses_and_one_merge_request_note(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Any) -> None:
    remote = Remote(tmp_path)
    first = remote.commit({"a/index.js": NODE, "q/index.js": NODE})
    link(appwrite_sdk, "gl-a", "a", PROJECT)
    link(appwrite_sdk, "gl-quiet", "q", PROJECT, silent=True)
    with FakeGitLab() as gl:
        async with receiver(gitlab_api_url=gl.url, gitlab_token=GITLAB_TOKEN) as client:
            push = gitlab_push_payload(project_id=PROJECT, clone_url=remote.url, branch="main", before=ZERO, after=first, files=None)
            done = await settled(client, await deliver_gitlab(client, "Push Hook", push))
            assert done["status"] == "done" and set(done["deployments"]) == {"gl-a", "gl-quiet"}, done

            head1 = remote.commit({"a/index.js": NODE + "// mr 1\n"}, branch="feature")
            remote.push_ref(head1, "refs/merge-requests/3/head")
            mr = gitlab_mr_payload(project_id=PROJECT, clone_url=remote.url, iid=3, target="main", source="feature", head=head1)
            opened = await settled(client, await deliver_gitlab(client, "Merge Request Hook", mr))
            assert opened["status"] == "done" and set(opened["deployments"]) == {"gl-a"}, opened  # gl-quiet: code unchanged
            head2 = remote.commit({"a/index.js": NODE + "// mr 2\n"}, branch="feature")
            remote.push_ref(head2, "refs/merge-requests/3/head")
            update = gitlab_mr_payload(project_id=PROJECT, clone_url=remote.url, iid=3, target="main", source="feature",
                                       head=head2, action="update")
            updated = await settled(client, await deliver_gitlab(client, "Merge Request Hook", update))
            assert updated["status"] == "done", updated

            broken = remote.commit({"a/index.js": NODE + "// v2\n", "functions.yaml": "version: 1\nfunctions:\n  gl-a:\n    runtime: 12\n"})
            bad = gitlab_push_payload(project_id=PROJECT, clone_url=remote.url, branch="main", before=first, after=broken,
                                      files=["a/index.js", "functions.yaml"])
            failed = await settled(client, await deliver_gitlab(client, "Push Hook", bad))
            assert failed["status"] == "failed", failed

    statuses = gl.state.statuses
    assert states(statuses[(str(PROJECT), first)]) == [("fnsync/gl-a", "pending"), ("fnsync/gl-a", "success")]
    success = [s for s in statuses[(str(PROJECT), first)] if s["status"] == "success"][0]
    assert done["deployments"]["gl-a"] in success["description"]
    assert states(statuses[(str(PROJECT), head2)]) == [("fnsync/gl-a", "pending"), ("fnsync/gl-a", "success"),
                                                        ("fnsync/plan", "pending"), ("fnsync/plan", "success")]
    failure = [s for s in statuses[(str(PROJECT), broken)] if s["status"] == "failed"]
    assert len(failure) == 1 and "invalid manifest" in failure[0]["description"]
    assert not any("gl-quiet" in s["name"] for s in gl.state.all_statuses())  # silent mode
    notes = gl.state.notes[(str(PROJECT), 3)]
    assert len(notes) == 1 and head2[:12] in notes[0]["body"] and updated["deployments"]["gl-a"] in notes[0]["body"]
    assert "gl-quiet" not in notes[0]["body"]
    # created once, then edited: with the plan while the previews build, and with the previews (each event)
    assert [r.method for r in gl.state.requests if "/notes" in r.path and r.method != "GET"] == ["POST", "PUT", "PUT", "PUT"]
    assert all(r.headers["private-token"] == GITLAB_TOKEN and "authorization" not in r.headers for r in gl.state.requests)


async def test_gitea_statuses_and_one_comment_at_the_repository_host(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Any) -> None:
    remote = Remote(tmp_path)
    base = remote.commit({"a/index.js": NODE})
    link(appwrite_sdk, "gt-a", "a", 55)
    with FakeGitea() as gt:
        html_url = f"{gt.url}/acme/shop"  # no --gitea-api-url: the API is found at the repository's host
        async with receiver(gitea_token=GITEA_TOKEN, allow_clone_urls=("file://*", f"{gt.url}/*")) as client:
            payload = push_payload(repo_id=55, clone_url=remote.url, branch="main", before=ZERO, after=base, full_name="acme/shop", created=True)
            payload["repository"]["html_url"] = html_url
            done = await settled(client, await deliver_gitea(client, "push", payload))
            assert done["status"] == "done", done
            for number, text in ((4, "// pr 1\n"), (4, "// pr 2\n")):
                head = remote.commit({"a/index.js": NODE + text}, branch="feature")
                remote.push_ref(head, f"refs/pull/{number}/head")
                pr = pull_request_payload(repo_id=55, clone_url=remote.url, number=number, base="main", base_sha=base,
                                          head_sha=head, full_name="acme/shop", action="synchronized" if "2" in text else "opened")
                pr["pull_request"]["base"]["repo"]["html_url"] = html_url
                preview = await settled(client, await deliver_gitea(client, "pull_request", pr))
                assert preview["status"] == "done", preview

    assert states(gt.state.statuses[("acme/shop", base)]) == [("fnsync/gt-a", "pending"), ("fnsync/gt-a", "success")]
    assert done["deployments"]["gt-a"] in [s for s in gt.state.statuses[("acme/shop", base)] if s["status"] == "success"][0]["description"]
    comments = gt.state.comments[("acme/shop", 4)]
    assert len(comments) == 1 and head[:12] in comments[0]["body"] and preview["deployments"]["gt-a"] in comments[0]["body"]
    assert [r.method for r in gt.state.requests if "/comments" in r.path and r.method != "GET"] == ["POST", "PATCH", "PATCH", "PATCH"]
    assert all(r.headers["authorization"] == f"token {GITEA_TOKEN}" for r in gt.state.requests)


async def test_silent_functions_post_nothing_to_gitlab_or_gitea(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Any) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"a/index.js": NODE})
    link(appwrite_sdk, "quiet-gl", "a", PROJECT, silent=True)
    link(appwrite_sdk, "quiet-gt", "a", 55, silent=True)
    with FakeGitLab() as gl, FakeGitea() as gt:
        async with receiver(gitlab_api_url=gl.url, gitlab_token=GITLAB_TOKEN, gitea_api_url=gt.url, gitea_token=GITEA_TOKEN) as client:
            push = gitlab_push_payload(project_id=PROJECT, clone_url=remote.url, branch="main", before=ZERO, after=sha, files=None)
            assert (await settled(client, await deliver_gitlab(client, "Push Hook", push)))["deployments"].keys() == {"quiet-gl"}
            head = remote.commit({"a/index.js": NODE + "// mr\n"}, branch="feature")
            remote.push_ref(head, "refs/merge-requests/9/head")
            mr = gitlab_mr_payload(project_id=PROJECT, clone_url=remote.url, iid=9, target="main", source="feature", head=head)
            assert (await settled(client, await deliver_gitlab(client, "Merge Request Hook", mr)))["status"] == "done"
            gitea = push_payload(repo_id=55, clone_url=remote.url, branch="main", before=ZERO, after=sha, full_name="acme/shop", created=True)
            assert (await settled(client, await deliver_gitea(client, "push", gitea)))["deployments"].keys() == {"quiet-gt"}
    assert gl.state.requests == [] and gt.state.requests == []


class Lines(logging.Handler):
    """Collects formatted records (the app's lifespan reconfigures logging, which detaches pytest's caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def webhook_log() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("fnsync.webhook")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def test_a_failing_vcs_api_never_fails_the_deployment_nor_logs_the_token(
    receiver: Receiver, appwrite_sdk: Functions, tmp_path: Any, webhook_log: Lines
) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"a/index.js": NODE})
    link(appwrite_sdk, "loud", "a", PROJECT)
    with FakeGitLab() as gl:
        gl.state.fail_with = 500
        async with receiver(gitlab_api_url=gl.url + "/api/v4/", gitlab_token=GITLAB_TOKEN) as client:
            push = gitlab_push_payload(project_id=PROJECT, clone_url=remote.url, branch="main", before=ZERO, after=sha, files=None)
            done = await settled(client, await deliver_gitlab(client, "Push Hook", push))
    assert done["status"] == "done" and set(done["deployments"]) == {"loud"}, done
    assert [r.path for r in gl.state.requests] == [f"/api/v4/projects/{PROJECT}/statuses/{sha}"] * 2  # /api/v4 not doubled
    text = "\n".join(webhook_log.lines)
    assert "reporting to gitlab failed" in text and GITLAB_TOKEN not in text


# --- choosing where to report ----------------------------------------------------------------------------------


def test_gitea_instance_comes_from_an_allowed_repository_url() -> None:
    allowed = WebhookConfig(secret="s", data_dir=Path("/tmp/x"), allow_clone_urls=("https://git.example.com/*",)).clone_url_allowed
    assert gitea_base("https://git.example.com/acme/shop", "acme/shop", allowed) == "https://git.example.com"
    assert gitea_base("https://git.example.com/sub/acme/shop/", "acme/shop", allowed) == "https://git.example.com/sub"
    assert gitea_base("https://evil.example.net/acme/shop", "acme/shop", allowed) is None  # the token stays home
    assert gitea_base("https://user:pw@git.example.com/acme/shop", "acme/shop", allowed) is None
    assert gitea_base("", "acme/shop", allowed) is None


async def test_reporters_need_a_token_and_a_known_instance(tmp_path: Path) -> None:
    def job(provider: Provider, web_url: str = "") -> JobRequest:
        return JobRequest(provider=provider, kind="push", repo_id="15", repo_name="acme/shop", clone_url="u", branch="main",
                          fetch_ref="refs/heads/main", sha="a" * 40, web_url=web_url)

    async with httpx.AsyncClient() as http:
        none = Reporters(WebhookConfig(secret="s", data_dir=tmp_path), http, CommentIds())
        assert [none.for_job(job(p)) for p in Provider] == [None, None, None]
        config = WebhookConfig(secret="s", data_dir=tmp_path, github_token="g", gitlab_token="l", gitea_token="t",
                               gitlab_api_url="https://gl.example.com/api/v4", allow_clone_urls=("https://git.example.com/*",))
        reporters = Reporters(config, http, CommentIds())
        github, gitlab = reporters.for_job(job(Provider.GITHUB)), reporters.for_job(job(Provider.GITLAB))
        assert github is not None and github[1] == "acme/shop"
        assert gitlab is not None and gitlab[1] == "15" and gitlab[0].api_url == "https://gl.example.com/api/v4"
        assert reporters.for_job(job(Provider.GITEA, "https://elsewhere.example.com/acme/shop")) is None
        gitea = reporters.for_job(job(Provider.GITEA, "https://git.example.com/acme/shop"))
        assert gitea is not None and gitea[0].api_url == "https://git.example.com/api/v1"
        flag = Reporters(config.model_copy(update={"gitea_api_url": "https://fixed.example.com/"}), http, CommentIds())
        fixed = flag.for_job(job(Provider.GITEA, "https://elsewhere.example.com/acme/shop"))
        assert fixed is not None and fixed[0].api_url == "https://fixed.example.com/api/v1"


def test_receiver_tokens_are_scrubbed_and_hidden_from_manifests(tmp_path: Path) -> None:
    config = WebhookConfig.from_environ({"FNSYNC_WEBHOOK_SECRET": "s", "GITLAB_TOKEN": "glpat-x", "GITEA_TOKEN": "gt-y"}, data_dir=tmp_path)
    assert {"glpat-x", "gt-y"} <= config.secrets()
    seen = manifest_environ({"GITLAB_TOKEN": "glpat-x", "GITEA_TOKEN": "gt-y", "COPY": "gt-y", "OK": "1"}, config.secrets())
    assert seen == {"OK": "1"}
