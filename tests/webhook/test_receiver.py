"""The HTTP contract of the receiver: signatures, size cap, JSON, redeliveries, ignored events, full queue,
the delivery log and health. Workers are off unless a test needs them, so nothing here deploys."""

from __future__ import annotations

import pytest

import json
import warnings
from pathlib import Path

from appwrite.services.functions import Functions

from localserver import ServerConfig
from localserver import create_app as create_local_app
from tests.conftest import LocalServer
from tests.webhook.conftest import Receiver, admin, receiver_config
from tests.webhook.support import SECRET, ZERO, encode, fixture, github_headers, push_payload, sign
from webhook import create_app

pytestmark = pytest.mark.slow


def _link(sdk: Functions, function_id: str, repo_id: str, branch: str = "main", root: str = "") -> None:
    sdk.create(function_id, function_id, "node-18.0", entrypoint="index.js", provider_repository_id=repo_id,
               provider_branch=branch, provider_root_directory=root or function_id, installation_id="inst1")


def _push(repo_id: int = 42, branch: str = "main") -> dict:
    return push_payload(repo_id=repo_id, clone_url="https://github.com/o/r.git", branch=branch, before="a" * 40,
                        after="b" * 40, commits=[{"id": "b" * 40, "modified": ["f/index.js"]}])


async def _deliveries(client) -> list[dict]:  # type: ignore[no-untyped-def]
    response = await client.get("/deliveries", headers=admin())
    assert response.status_code == 200
    return response.json()["deliveries"]


async def test_bad_or_missing_signature_is_401_and_records_nothing(receiver: Receiver, appwrite_sdk: Functions) -> None:
    _link(appwrite_sdk, "fn", "42")
    async with receiver(run_workers=False) as client:
        body = encode(_push())
        headers = github_headers("push", body)
        bad = {**headers, "X-Hub-Signature-256": sign(body, "wrong-secret")}
        assert (await client.post("/webhooks/github", content=body, headers=bad)).status_code == 401
        missing = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
        response = await client.post("/webhooks/github", content=body, headers=missing)
        assert response.status_code == 401 and response.json()["error"] == "missing or invalid signature"
        tampered = {**headers}
        assert (await client.post("/webhooks/github", content=body.replace(b"main", b"evil"), headers=tampered)).status_code == 401
        latin1 = {**headers, "X-Hub-Signature-256": "sha256=\u00e9".encode("latin-1")}  # a non-ASCII header: 401, not 500
        assert (await client.post("/webhooks/github", content=body, headers=latin1)).status_code == 401
        assert await _deliveries(client) == []


async def test_body_too_large_is_413(receiver: Receiver) -> None:
    async with receiver(run_workers=False, max_body_size=2048) as client:
        body = encode({**fixture("ping"), "padding": "x" * 4096})
        response = await client.post("/webhooks/github", content=body, headers=github_headers("ping", body))
        assert response.status_code == 413
        assert await _deliveries(client) == []


async def test_what_the_headers_refuse_is_refused_before_the_body(receiver: Receiver) -> None:
    """A wrong GitLab token or a missing signature header is a 401 even when the declared body is huge; a declared
    size over the cap with a signature header present is a 413. Nothing is recorded."""
    async with receiver(run_workers=False, max_body_size=2048) as client:
        big = b"{" + b" " * 4096 + b"}"
        gitlab = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong", "Content-Type": "application/json"}
        assert (await client.post("/webhooks/gitlab", content=big, headers=gitlab)).status_code == 401
        unsigned = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
        assert (await client.post("/webhooks/github", content=big, headers=unsigned)).status_code == 401
        signed = {**unsigned, "X-Hub-Signature-256": sign(big)}
        assert (await client.post("/webhooks/github", content=big, headers=signed)).status_code == 413
        assert await _deliveries(client) == []


async def test_malformed_json_under_a_valid_signature_is_400(receiver: Receiver) -> None:
    async with receiver(run_workers=False) as client:
        body = b'{"ref": "refs/heads/main",'
        response = await client.post("/webhooks/github", content=body, headers=github_headers("push", body))
        assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
        shape = encode({"ref": "refs/heads/main"})
        response = await client.post("/webhooks/github", content=shape, headers=github_headers("push", shape))
        assert response.status_code == 400 and "malformed push payload" in response.json()["error"]
        injected = encode({**_push(), "after": "--upload-pack=touch /tmp/pwned"})  # would reach git's argv
        response = await client.post("/webhooks/github", content=injected, headers=github_headers("push", injected))
        assert response.status_code == 400 and "malformed push payload: after" in response.json()["error"]
        assert await _deliveries(client) == []


async def test_events_we_do_not_act_on_get_2xx_with_the_reason(receiver: Receiver, appwrite_sdk: Functions) -> None:
    _link(appwrite_sdk, "fn", "42")
    deleted = {**_push(), "deleted": True, "after": ZERO}
    cases = [
        ("ping", fixture("ping"), "ping"),
        ("push", fixture("push-tag"), "tag pushes are not deployed"),
        ("push", fixture("push-tag-deleted"), "was deleted"),
        ("push", deleted, "branch main was deleted"),
        ("push", _push(repo_id=99), "no function is linked to repository 99"),
        ("push", _push(branch="other"), "no function is linked to repository 42 on branch other"),
        ("star", {"action": "created"}, "not handled"),
    ]
    async with receiver(run_workers=False) as client:
        for event, payload, reason in cases:
            body = encode(payload)
            response = await client.post("/webhooks/github", content=body, headers=github_headers(event, body))
            assert response.status_code == 200, (event, response.text)
            assert response.json()["status"] == "ignored" and reason in response.json()["reason"], response.json()
        logged = await _deliveries(client)
        assert len(logged) == len(cases) and {d["status"] for d in logged} == {"ignored"}


async def test_redelivery_is_acknowledged_and_ignored(receiver: Receiver, appwrite_sdk: Functions) -> None:
    _link(appwrite_sdk, "fn", "42")
    async with receiver(run_workers=False) as client:
        body = encode(_push())
        headers = github_headers("push", body, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
        first = await client.post("/webhooks/github", content=body, headers=headers)
        assert first.status_code == 202 and first.json()["status"] == "queued"
        again = await client.post("/webhooks/github", content=body, headers=headers)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        logged = await _deliveries(client)
        assert [d["id"] for d in logged] == ["github:72d3162e-cc78-11e3-81ab-4c9367dc0958"]
        assert logged[0]["status"] == "queued" and logged[0]["commit"] == "b" * 40


async def test_full_queue_is_503_and_not_recorded(receiver: Receiver, appwrite_sdk: Functions) -> None:
    _link(appwrite_sdk, "fn", "42")
    _link(appwrite_sdk, "fn2", "42", branch="dev")
    async with receiver(run_workers=False, queue_size=1) as client:
        body = encode(_push())
        assert (await client.post("/webhooks/github", content=body, headers=github_headers("push", body))).status_code == 202
        body2 = encode(_push(branch="dev"))
        headers2 = github_headers("push", body2)
        full = await client.post("/webhooks/github", content=body2, headers=headers2)
        assert full.status_code == 503 and full.headers["retry-after"] == "30"
        assert len(await _deliveries(client)) == 1
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "queue full" in ready.json()["problems"][0]


async def test_delivery_log_requires_the_admin_token(receiver: Receiver) -> None:
    async with receiver(run_workers=False) as client:
        body = encode(fixture("ping"))
        headers = github_headers("ping", body, delivery="d-1")
        await client.post("/webhooks/github", content=body, headers=headers)
        assert (await client.get("/deliveries")).status_code == 401
        assert (await client.get("/deliveries", headers={"Authorization": "Bearer nope"})).status_code == 401
        one = await client.get("/deliveries/github:d-1", headers=admin())
        assert one.status_code == 200
        data = one.json()
        assert data["status"] == "ignored" and data["history"][0]["status"] == "ignored"
        assert (await client.get("/deliveries/github:unknown", headers=admin())).status_code == 404
        only = await client.get("/deliveries", params={"status": "queued"}, headers=admin())
        assert only.json()["deliveries"] == []
    async with receiver(run_workers=False, admin_token=None) as client:
        assert (await client.get("/deliveries", headers=admin())).status_code == 401


async def test_health_and_readiness(receiver: Receiver) -> None:
    async with receiver(run_workers=False) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
    async with receiver(run_workers=False, endpoint="http://127.0.0.1:9/v1") as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "Appwrite unreachable" in ready.json()["problems"][0]


async def test_gitea_and_gitlab_routes(receiver: Receiver, appwrite_sdk: Functions) -> None:
    _link(appwrite_sdk, "fn", "42")
    async with receiver(run_workers=False) as client:
        body = encode(_push())
        gitea = {"Content-Type": "application/json", "X-Gitea-Event": "push", "X-Gitea-Delivery": "g-1",
                 "X-GitHub-Event": "push", "X-GitHub-Delivery": "g-1", "X-Gitea-Signature": sign(body)[7:],
                 "X-Hub-Signature-256": sign(body)}
        wrong_route = await client.post("/webhooks/github", content=body, headers=gitea)
        assert wrong_route.status_code == 400 and "/webhooks/gitea" in wrong_route.json()["error"]
        ok = await client.post("/webhooks/gitea", content=body, headers=gitea)
        assert ok.status_code == 202, ok.text
        bad = await client.post("/webhooks/gitea", content=body, headers={**gitea, "X-Gitea-Signature": "00"})
        assert bad.status_code == 401
        hook = {"object_kind": "push", "ref": "refs/tags/v1", "before": ZERO, "after": "c" * 40,
                "project": {"id": 42, "git_http_url": "https://gitlab.com/o/r.git"}, "commits": [], "total_commits_count": 0}
        gl = encode(hook)
        assert (await client.post("/webhooks/gitlab", content=gl, headers={"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": "x"})).status_code == 401
        tag = await client.post("/webhooks/gitlab", content=gl, headers={"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": SECRET, "Idempotency-Key": "k1"})
        assert tag.status_code == 200 and "tag" in tag.json()["reason"]
        assert json.loads(tag.content)["delivery"] == "gitlab:k1"


async def test_function_linked_after_the_last_refresh_is_not_ignored(receiver: Receiver, appwrite_sdk: Functions) -> None:
    """The periodic index is stale here (refreshed hourly); a miss is re-read before the delivery is dropped."""
    async with receiver(run_workers=False, link_refresh=3600, link_miss_ttl=0) as client:
        body = encode(_push())
        before = await client.post("/webhooks/github", content=body, headers=github_headers("push", body))
        assert before.status_code == 200 and "no function is linked to repository 42" in before.json()["reason"]
        _link(appwrite_sdk, "fn", "42")
        after = await client.post("/webhooks/github", content=body, headers=github_headers("push", body))
        assert after.status_code == 202 and after.json()["status"] == "queued", after.text


async def test_delivery_log_rejects_bad_query_params(receiver: Receiver) -> None:
    async with receiver(run_workers=False) as client:
        for params in ({"limit": "0"}, {"limit": "1001"}, {"limit": "many"}, {"status": "bogus"}):
            response = await client.get("/deliveries", params=params, headers=admin())
            assert response.status_code == 400, (params, response.text)
        assert (await client.get("/deliveries", params={"limit": "1000"}, headers=admin())).status_code == 200


def test_apps_are_built_without_deprecation_warnings(local_server: LocalServer, tmp_path: Path) -> None:
    """Litestar deprecations (inferred or default-style parameters) would become errors in Litestar 3."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        create_app(receiver_config(local_server, tmp_path / "webhook-data"))
        create_local_app(ServerConfig(data_dir=tmp_path / "server-data", api_key="k" * 32))
