"""Tokens go only to their own host: a real git server over TLS on loopback poses as a private GitLab instance.

GITHUB_TOKEN belongs to github.com, GITLAB_TOKEN to --gitlab-api-url's host, GITEA_TOKEN to --gitea-api-url's host.
The listener records the Authorization header of every request git makes to it, under both of its names.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from appwrite.services.functions import Functions

from tests.webhook.conftest import Receiver
from tests.webhook.git_https import GitHttpsServer, make_certificate
from tests.webhook.support import ZERO, Remote, gitlab_push_payload, push_payload
from tests.webhook.test_end_to_end import NODE, deliver, settled
from tests.webhook.test_vcs_reporting import deliver_gitlab, link

pytestmark = pytest.mark.slow

GITHUB_TOKEN = "ghp_github_token_must_stay_home"
GITLAB_TOKEN = "glpat-gitlab-token-0002"
GITEA_TOKEN = "gitea-token-0003"
PROJECT = 4711
GITHUB_REPO = 9001


def basic(user: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def decoded(header: str | None) -> str:
    if header is None or not header.startswith("Basic "):
        return header or ""
    return base64.b64decode(header[6:]).decode(errors="replace")


async def test_each_token_reaches_only_its_own_host(
    receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = Remote(tmp_path / "repos")
    sha = remote.commit({"a/index.js": NODE})
    second = Remote(tmp_path / "repos", name="second")  # a fresh mirror: nothing fetched before can stand in for it
    sha2 = second.commit({"a/index.js": NODE + "// 2\n"})
    cert, key = make_certificate(tmp_path)
    monkeypatch.setenv("GIT_SSL_CAINFO", str(cert))  # git trusts the test's certificate, and only for this test
    link(appwrite_sdk, "gl-fn", "a", PROJECT)
    link(appwrite_sdk, "gh-fn", "a", GITHUB_REPO)
    with GitHttpsServer(tmp_path / "repos", cert, key, require=basic("oauth2", GITLAB_TOKEN)) as server:
        clone_url = f"{server.url}/origin.git"
        settings: dict[str, Any] = {
            "github_token": GITHUB_TOKEN, "gitlab_token": GITLAB_TOKEN, "gitea_token": GITEA_TOKEN,
            "gitlab_api_url": server.url, "gitea_api_url": "https://gitea.invalid",
            "allow_clone_urls": (f"{server.url}/*", f"{server.other_url}/*"), "max_attempts": 1,
        }
        async with receiver(**settings) as client:
            # a private GitLab repository on the GitLab host: cloned with GITLAB_TOKEN, and only it
            gitlab = gitlab_push_payload(project_id=PROJECT, clone_url=clone_url, branch="main", before=ZERO, after=sha, files=None)
            done = await settled(client, await deliver_gitlab(client, "Push Hook", gitlab))
            assert done["status"] == "done" and set(done["deployments"]) == {"gl-fn"}, done
            at_gitlab = server.seen
            assert at_gitlab and {s.authorization for s in at_gitlab} == {basic("oauth2", GITLAB_TOKEN)}

            # a GitHub delivery whose clone URL is on that host: GITHUB_TOKEN stays with github.com, GITLAB_TOKEN with
            # GitLab deliveries: nothing is sent, and the private repository stays closed
            github = push_payload(repo_id=GITHUB_REPO, clone_url=f"{server.url}/second.git", branch="main", before=ZERO,
                                  after=sha2, created=True)
            refused = await settled(client, await deliver(client, "push", github))
            assert refused["status"] == "failed", refused
            # the GitLab host under another name is another host: no credentials at all
            elsewhere = gitlab_push_payload(project_id=PROJECT, clone_url=f"{server.other_url}/second.git", branch="main",
                                            before=sha, after=sha2, files=None)
            other = await settled(client, await deliver_gitlab(client, "Push Hook", elsewhere))
            assert other["status"] == "failed", other
    later = server.seen[len(at_gitlab):]
    assert later and all(s.authorization is None for s in later), later
    assert {s.host for s in later} == {server.url.removeprefix("https://"), server.other_url.removeprefix("https://")}
    for seen in server.seen:  # the GitHub and Gitea tokens never reached this listener, in any form
        assert GITHUB_TOKEN not in decoded(seen.authorization) and GITEA_TOKEN not in decoded(seen.authorization)
    for record in (refused, other):
        assert GITLAB_TOKEN not in str(record) and GITHUB_TOKEN not in str(record)
