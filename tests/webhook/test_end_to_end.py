"""Pushes and pull requests through the receiver, real git, and the local server, with a fake GitHub API.

Each test makes a bare repository (the "GitHub" remote, served over file://), real commits, and signed
payloads in GitHub's exact shapes, then waits on the delivery log for the final state.
"""

from __future__ import annotations

import pytest

import tarfile
from pathlib import Path
from typing import Any

from appwrite.input_file import InputFile
from appwrite.services.functions import Functions
from litestar.testing import AsyncTestClient

from tests.helpers import async_wait_until, wait_until
from tests.conftest import LocalServer
from tests.webhook.conftest import INSTALLATION, Receiver, admin
from tests.webhook.fake_github import FakeGitHub
from tests.webhook.support import ZERO, Remote, encode, github_headers, pull_request_payload, push_payload

pytestmark = pytest.mark.slow


@pytest.fixture(params=("1.6.2", "1.9.6"))
def appwrite_version(request: pytest.FixtureRequest) -> str:
    """Pushes deploy against the local server as Appwrite 1.6.2 and as 1.9.6 (the fnsync client speaks each natively)."""
    return str(request.param)

REPO_ID = 4242
NODE = "export default async ({ res }) => res.send('{}');\n"
FINAL = {"done", "failed", "ignored", "superseded"}


def link(sdk: Functions, function_id: str, root: str, branch: str = "main", silent: bool = False, **extra: Any) -> None:
    sdk.create(function_id, function_id, "node-18.0", entrypoint="index.js", installation_id=INSTALLATION,
               provider_repository_id=str(REPO_ID), provider_branch=branch, provider_root_directory=root,
               provider_silent_mode=silent, **extra)


async def deliver(client: AsyncTestClient, event: str, payload: dict[str, Any]) -> str:
    body = encode(payload)
    response = await client.post("/webhooks/github", content=body, headers=github_headers(event, body))
    assert response.status_code == 202, response.text
    return str(response.json()["delivery"])


async def settled(client: AsyncTestClient, delivery: str, timeout: float = 60) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        data: dict[str, Any] = (await client.get(f"/deliveries/{delivery}", headers=admin())).json()
        return data if data["status"] in FINAL else None

    return await async_wait_until(probe, timeout=timeout, what=f"delivery {delivery} to settle")


def deployments_of(sdk: Functions, function_id: str) -> list[dict[str, Any]]:
    return list(sdk.list_deployments(function_id)["deployments"])


def active(sdk: Functions, function_id: str) -> str:
    return str(sdk.get(function_id)["deployment"])


def deploy_by_hand(sdk: Functions, function_id: str, tmp_path: Path) -> str:
    """Upload a different archive with the SDK, as a person would, and wait until it is active."""
    source = tmp_path / "by-hand"
    source.mkdir(exist_ok=True)
    (source / "index.js").write_text(NODE + "// by hand\n")
    archive = tmp_path / "by-hand.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "index.js", arcname="index.js")
    deployment = sdk.create_deployment(function_id, InputFile.from_path(str(archive)), True, entrypoint="index.js")
    wait_until(lambda: active(sdk, function_id) == deployment["$id"], timeout=30, what="manual deployment to be active")
    return str(deployment["$id"])


def push(remote: Remote, before: str, after: str, files: list[str] | None, branch: str = "main", **kw: Any) -> dict[str, Any]:
    commits = [{"id": after, "modified": files}] if files is not None else []
    return push_payload(repo_id=REPO_ID, clone_url=remote.url, branch=branch, before=before, after=after, commits=commits, **kw)


async def test_push_deploys_exactly_the_touched_functions(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    first = remote.commit({"fns/a/index.js": NODE, "fns/b/index.js": NODE, "README.md": "hi"})
    link(appwrite_sdk, "fn-a", "fns/a")
    link(appwrite_sdk, "fn-b", "/fns/b/")
    link(appwrite_sdk, "fn-other", "fns/a", branch="release")  # same repo, other branch: never touched
    with FakeGitHub() as gh:
        async with receiver(github_api_url=gh.url, github_token="ghs_test") as client:
            # first push of the branch: files are not listed relative to what is deployed, so both deploy
            done = await settled(client, await deliver(client, "push", push(remote, ZERO, first, None, created=True)))
            assert done["status"] == "done", done
            assert set(done["deployments"]) == {"fn-a", "fn-b"}
            assert active(appwrite_sdk, "fn-a") == done["deployments"]["fn-a"]
            assert active(appwrite_sdk, "fn-b") == done["deployments"]["fn-b"]
            # someone deploys other code to fn-b by hand: a push that does not touch fns/b must leave it alone
            manual = deploy_by_hand(appwrite_sdk, "fn-b", tmp_path)
            b_deployments = deployments_of(appwrite_sdk, "fn-b")

            second = remote.commit({"fns/a/index.js": NODE + "// v2\n"})
            done2 = await settled(client, await deliver(client, "push", push(remote, first, second, ["fns/a/index.js"])))
            assert done2["status"] == "done", done2
            assert set(done2["deployments"]) == {"fn-a"}
            assert active(appwrite_sdk, "fn-a") == done2["deployments"]["fn-a"] != done["deployments"]["fn-a"]
            assert deployments_of(appwrite_sdk, "fn-b") == b_deployments  # untouched: not redeployed
            assert active(appwrite_sdk, "fn-b") == manual
            assert deployments_of(appwrite_sdk, "fn-other") == []

            # a push whose payload lists nothing useful (force push) diffs in git: only README changed
            third = remote.commit({"README.md": "changed"})
            done3 = await settled(client, await deliver(client, "push", push(remote, second, third, None, forced=True)))
            assert done3["status"] == "done" and done3["deployments"] == {}, done3
            assert len(deployments_of(appwrite_sdk, "fn-a")) == 2
            metrics = (await client.get("/metrics")).text  # what a Prometheus scrape sees after three pushes
            assert 'fnsync_webhook_deliveries_total{outcome="queued",provider="github"} 3.0' in metrics, metrics
            assert 'fnsync_webhook_deploys_total{outcome="done"} 3.0' in metrics
            assert 'fnsync_webhook_deploy_duration_seconds_count{outcome="done"} 3.0' in metrics
            assert 'fnsync_webhook_queue_depth{state="queued"} 0.0' in metrics

        statuses = gh.state.statuses
        first_states = sorted((s["context"], s["state"]) for s in statuses[("Codertocat/Hello-World", first)])
        assert first_states == [("fnsync/fn-a", "pending"), ("fnsync/fn-a", "success"), ("fnsync/fn-b", "pending"), ("fnsync/fn-b", "success")]
        success_a = [s for s in statuses[("Codertocat/Hello-World", second)] if s["state"] == "success" and s["context"] == "fnsync/fn-a"]
        assert done2["deployments"]["fn-a"] in success_a[0]["description"]
        assert gh.state.comments == {}  # pushes never comment


async def test_silent_mode_posts_nothing(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"a/index.js": NODE})
    link(appwrite_sdk, "quiet", "a", silent=True)
    with FakeGitHub() as gh:
        async with receiver(github_api_url=gh.url, github_token="ghs_test") as client:
            done = await settled(client, await deliver(client, "push", push(remote, ZERO, sha, None, created=True)))
            assert done["status"] == "done" and set(done["deployments"]) == {"quiet"}
            pr_head = remote.commit({"a/index.js": NODE + "// pr\n"}, branch="feature")
            remote.push_ref(pr_head, "refs/pull/5/head")
            payload = pull_request_payload(repo_id=REPO_ID, clone_url=remote.url, number=5, base="main", base_sha=sha, head_sha=pr_head)
            preview = await settled(client, await deliver(client, "pull_request", payload))
            assert preview["status"] == "done" and set(preview["deployments"]) == {"quiet"}
        assert gh.state.requests == []


async def test_pull_request_builds_previews_and_updates_one_comment(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    base = remote.commit({"a/index.js": NODE, "b/index.js": NODE})
    link(appwrite_sdk, "pa", "a")
    link(appwrite_sdk, "pb", "b")
    with FakeGitHub() as gh:
        async with receiver(github_api_url=gh.url, github_token="ghs_test") as client:
            live = await settled(client, await deliver(client, "push", push(remote, ZERO, base, None, created=True)))
            assert live["status"] == "done"
            head1 = remote.commit({"a/index.js": NODE + "// pr 1\n"}, branch="feature")
            remote.push_ref(head1, "refs/pull/7/head")
            opened = pull_request_payload(repo_id=REPO_ID, clone_url=remote.url, number=7, base="main", base_sha=base, head_sha=head1)
            first = await settled(client, await deliver(client, "pull_request", opened))
            assert first["status"] == "done" and set(first["deployments"]) == {"pa"}, first
            assert active(appwrite_sdk, "pa") == live["deployments"]["pa"]  # previews are never activated

            head2 = remote.commit({"a/index.js": NODE + "// pr 2\n"}, branch="feature")
            remote.push_ref(head2, "refs/pull/7/head")
            sync = pull_request_payload(repo_id=REPO_ID, clone_url=remote.url, number=7, base="main", base_sha=base,
                                        head_sha=head2, action="synchronize")
            second = await settled(client, await deliver(client, "pull_request", sync))
            assert second["status"] == "done" and second["deployments"]["pa"] != first["deployments"]["pa"]
            assert active(appwrite_sdk, "pa") == live["deployments"]["pa"]

        comments = gh.state.comments[("Codertocat/Hello-World", 7)]
        assert len(comments) == 1  # updated, not repeated
        assert head2[:12] in comments[0]["body"] and second["deployments"]["pa"] in comments[0]["body"]
        methods = [(r.method, r.path.split("/")[-1] if r.method != "POST" else r.path.split("/")[-2]) for r in gh.state.requests if "issues" in r.path]
        assert ("PATCH", str(comments[0]["id"])) in methods
        head_states = {(s["context"], s["state"]) for s in gh.state.statuses[("Codertocat/Hello-World", head2)]}
        assert head_states == {("fnsync/pa", "pending"), ("fnsync/pa", "success"), ("fnsync/pb", "pending"), ("fnsync/pb", "success"),
                               ("fnsync/plan", "pending"), ("fnsync/plan", "success")}


async def test_manifest_in_the_commit_reconciles_settings_and_variables(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    manifest = (
        "version: 1\nfunctions:\n  fn-m:\n    name: From git\n    runtime: node-18.0\n    path: src/m\n"
        "    entrypoint: index.js\n    timeout: 30\n    variables:\n      GREETING: hello\n"
    )
    sha = remote.commit({"src/m/index.js": NODE, "functions.yaml": manifest})
    link(appwrite_sdk, "fn-m", "src/m")
    async with receiver() as client:
        done = await settled(client, await deliver(client, "push", push(remote, ZERO, sha, None, created=True)))
        assert done["status"] == "done", done
    function = appwrite_sdk.get("fn-m")
    assert (function["name"], function["timeout"]) == ("From git", 30)
    assert function["providerRepositoryId"] == str(REPO_ID)  # the manifest said nothing about git: link kept
    assert {v["key"]: v["value"] for v in appwrite_sdk.list_variables("fn-m")["variables"]} == {"GREETING": "hello"}
    assert function["deployment"] == done["deployments"]["fn-m"]


async def test_invalid_manifest_fails_the_delivery_with_the_reason(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"src/m/index.js": NODE, "functions.yaml": "version: 1\nfunctions:\n  fn-m:\n    runtime: 12\n"})
    link(appwrite_sdk, "fn-m", "src/m")
    async with receiver() as client:
        failed = await settled(client, await deliver(client, "push", push(remote, ZERO, sha, None, created=True)))
    assert failed["status"] == "failed" and "invalid manifest" in failed["error"] and failed["attempts"] == 1
    assert deployments_of(appwrite_sdk, "fn-m") == []


async def test_a_manifest_from_git_cannot_read_receiver_secrets_or_leave_the_tree(
    receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path, monkeypatch: Any, appwrite_version: str
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_must_not_leak")
    monkeypatch.setenv("PUBLIC_SETTING", "visible")
    remote = Remote(tmp_path)
    manifest = (
        "version: 1\nfunctions:\n  fn-s:\n    name: s\n    runtime: node-18.0\n    path: src\n    entrypoint: index.js\n"
        "    variables:\n      TOKEN: ${GITHUB_TOKEN:-unset}\n      SETTING: ${PUBLIC_SETTING:-unset}\n"
    )
    sha = remote.commit({"src/index.js": NODE, "functions.yaml": manifest})
    link(appwrite_sdk, "fn-s", "src")
    async with receiver() as client:
        done = await settled(client, await deliver(client, "push", push(remote, ZERO, sha, None, created=True)))
        assert done["status"] == "done", done
        values = {v["key"]: v["value"] for v in appwrite_sdk.list_variables("fn-s")["variables"]}
        values.pop("FNSYNC_SECRET_DIGESTS", None)  # 1.7+: the digest record of secret variables
        # SETTING came from the environment, so it is sensitive: a secret variable (reads back empty) from 1.7 on
        assert values == {"TOKEN": "unset", "SETTING": "visible" if appwrite_version == "1.6.2" else ""}

        # `..` is the receiver's work folder; its `tree/src/index.js` exists, so only the escape check stops it
        escape = manifest.replace("path: src", "path: ..").replace("entrypoint: index.js", "entrypoint: tree/src/index.js")
        sha2 = remote.commit({"functions.yaml": escape})
        failed = await settled(client, await deliver(client, "push", push(remote, sha, sha2, ["functions.yaml"])))
        assert failed["status"] == "failed" and "leaves the repository" in failed["error"], failed
    assert len(deployments_of(appwrite_sdk, "fn-s")) == 1


async def test_a_push_leaves_the_variables_of_a_function_outside_the_manifest_as_they_are(
    receiver: Receiver, appwrite_sdk: Functions, local_server: LocalServer, appwrite_version: str, tmp_path: Path
) -> None:
    """No manifest in the commit: the receiver deploys code only. A plain variable stays plain and a secret one
    (Appwrite 1.7+, which reads back empty) is not rewritten, with its own value or an empty one."""
    import httpx

    remote = Remote(tmp_path)
    first = remote.commit({"a/index.js": NODE})
    link(appwrite_sdk, "fn-v", "a")
    newer = appwrite_version != "1.6.2"
    headers = {"X-Appwrite-Project": local_server.project, "X-Appwrite-Key": local_server.api_key,
               "X-Appwrite-Response-Format": "1.9.0" if newer else "1.6.0"}
    with httpx.Client(base_url=local_server.endpoint, headers=headers) as api:
        plain = {"key": "PLAIN", "value": "visible", **({"secret": False} if newer else {})}  # 1.7+ defaults to secret
        api.post("/functions/fn-v/variables", json=plain).raise_for_status()
        if newer:
            api.post("/functions/fn-v/variables", json={"key": "TOKEN", "value": "s3cret", "secret": True}).raise_for_status()

        def variables() -> set[tuple[Any, ...]]:
            listed = api.get("/functions/fn-v/variables").json()["variables"]
            return {(v["key"], v["value"], v.get("secret"), v["$updatedAt"]) for v in listed}

        before = variables()
        with FakeGitHub() as gh:
            async with receiver(github_api_url=gh.url, github_token="ghs_test") as client:
                done = await settled(client, await deliver(client, "push", push(remote, ZERO, first, None, created=True)))
                assert done["status"] == "done" and set(done["deployments"]) == {"fn-v"}, done
        assert variables() == before
