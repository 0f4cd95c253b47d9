"""Units without Appwrite: signatures, event classification, the queue, the git mirror, VCS reporting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from pydantic import ValidationError

from tests.webhook.fake_github import FakeGitHub
from tests.webhook.support import CommentIds, SECRET, ZERO, Remote, encode, fixture, pull_request_payload, push_payload, sign
from syncer.client.errors import AppwriteProtocolError
from webhook.config import WebhookConfig, scrub
from webhook.events import Ignored, JobRequest, classify
from webhook.links import LinkIndex
from webhook.credentials import CloneCredentials
from webhook.mirror import GitError, MirrorCache
from webhook.reporting import COMMENT_MARKER, FunctionReport, GitHubReporter
from webhook.signatures import Provider, delivery_id, detect_provider, verify, verify_gitea, verify_github, verify_gitlab
from tests.webhook.conftest import MakeStore
from webhook.store import SCHEMA, DeliveryStore, Status
from webhook.worker import backoff

ALLOW_ALL = lambda url: True  # noqa: E731


# --- signatures ---------------------------------------------------------------------------------------------


def test_github_signature_accepts_only_the_exact_hmac() -> None:
    body = encode(fixture("ping"))
    assert verify_github(SECRET, body, sign(body))
    assert not verify_github(SECRET, body, sign(body, "other"))
    assert not verify_github(SECRET, body + b" ", sign(body))
    assert not verify_github(SECRET, body, None)
    assert not verify_github(SECRET, body, sign(body).removeprefix("sha256="))  # prefix required
    assert not verify_github(SECRET, body, "sha1=" + sign(body)[7:])
    assert not verify_github(SECRET, body, "sha256=\u00e9" + sign(body)[8:])  # non-ASCII: False, not TypeError


def test_gitea_and_gitlab_signatures() -> None:
    body = b'{"a":1}'
    hexsig = sign(body)[7:]
    assert verify_gitea(SECRET, body, hexsig)
    assert not verify_gitea(SECRET, body, "00" + hexsig[2:])
    assert not verify_gitea(SECRET, body, "")
    assert not verify_gitea(SECRET, body, "\u00e9" + hexsig[1:])
    assert verify_gitlab(SECRET, SECRET)
    assert not verify_gitlab(SECRET, SECRET + "x")
    assert not verify_gitlab(SECRET, None)


def test_provider_detection_prefers_gitea_over_its_github_headers() -> None:
    gitea = {"x-github-event": "push", "x-gitea-event": "push", "x-gitea-delivery": "d1"}
    assert detect_provider(gitea) is Provider.GITEA
    assert detect_provider({"x-forgejo-event": "push", "x-github-event": "push"}) is Provider.GITEA
    assert detect_provider({"x-gitlab-event": "Push Hook"}) is Provider.GITLAB
    assert detect_provider({"x-github-event": "push"}) is Provider.GITHUB
    assert detect_provider({}) is None
    assert delivery_id(Provider.GITEA, gitea, b"") == "gitea:d1"
    assert delivery_id(Provider.GITLAB, {}, b"x").startswith("gitlab:sha256:")
    assert not verify(Provider.GITHUB, SECRET, b"{}", {})


# --- classification -----------------------------------------------------------------------------------------


def test_real_push_fixture_becomes_a_job() -> None:
    decision = classify(Provider.GITHUB, "push", fixture("push"), ALLOW_ALL)
    assert isinstance(decision, JobRequest)
    assert (decision.repo_id, decision.branch, decision.sha[:8]) == ("186853002", "master", "6113728f")
    assert decision.repo_name == "Codertocat/Hello-World"
    assert decision.changed is None  # a creation push does not list files relative to what was deployed
    assert decision.key == "github:186853002:master"


def test_push_with_complete_file_lists() -> None:
    payload = push_payload(repo_id=7, clone_url="https://github.com/a/b.git", branch="main", before="a" * 40, after="b" * 40,
                           commits=[{"id": "b" * 40, "added": ["f1/x.js"], "modified": ["f2/y.js"], "removed": ["z"]}])
    decision = classify(Provider.GITHUB, "push", payload, ALLOW_ALL)
    assert isinstance(decision, JobRequest)
    assert decision.changed == ("f1/x.js", "f2/y.js", "z")
    forced = classify(Provider.GITHUB, "push", {**payload, "forced": True}, ALLOW_ALL)
    assert isinstance(forced, JobRequest) and forced.changed is None


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        ("ping", fixture("ping"), "ping"),
        ("push", fixture("push-tag"), "not a branch"),
        ("push", fixture("push-tag-deleted"), "deleted"),
        ("push", {**fixture("push"), "deleted": True, "after": ZERO}, "branch master was deleted"),
        ("pull_request", {**fixture("pull_request-opened"), "action": "closed"}, "does not build"),
        ("issues", {"action": "opened"}, "not handled"),
    ],
)
def test_ignored_events_have_reasons(event: str, payload: dict, reason: str) -> None:
    decision = classify(Provider.GITHUB, event, payload, ALLOW_ALL)
    assert isinstance(decision, Ignored) and reason in decision.reason


def test_clone_url_allow_list() -> None:
    config = WebhookConfig(secret="s", data_dir=Path("/tmp/x"))
    assert config.clone_url_allowed("https://github.com/a/b.git")
    assert not config.clone_url_allowed("https://evil.example/a/b.git")
    assert not config.clone_url_allowed("https://user:pw@github.com/a/b.git")
    assert not config.clone_url_allowed("file:///etc")
    decision = classify(Provider.GITHUB, "push", fixture("push"), config.clone_url_allowed)
    assert isinstance(decision, JobRequest)
    evil = fixture("push")
    evil["repository"]["clone_url"] = "ext::sh -c touch% /tmp/pwned"
    decision = classify(Provider.GITHUB, "push", evil, config.clone_url_allowed)
    assert isinstance(decision, Ignored) and "--allow-clone-url" in decision.reason


def test_pull_requests_previews_and_forks() -> None:
    payload = pull_request_payload(repo_id=5, clone_url="https://github.com/a/b.git", number=9, base="main", base_sha="a" * 40, head_sha="c" * 40)
    decision = classify(Provider.GITHUB, "pull_request", payload, ALLOW_ALL)
    assert isinstance(decision, JobRequest)
    assert (decision.kind, decision.pr_number, decision.branch, decision.fetch_ref) == ("pull_request", 9, "main", "refs/pull/9/head")
    assert decision.key == "github:5:pr/9"
    fork = pull_request_payload(repo_id=5, clone_url="https://github.com/a/b.git", number=9, base="main", base_sha="a" * 40, head_sha="c" * 40, fork=True)
    assert isinstance(classify(Provider.GITHUB, "pull_request", fork, ALLOW_ALL), Ignored)
    assert isinstance(classify(Provider.GITHUB, "pull_request", fork, ALLOW_ALL, allow_forks=True), JobRequest)


def test_malformed_payloads_raise() -> None:
    with pytest.raises(ValidationError):
        classify(Provider.GITHUB, "push", {"ref": "refs/heads/main"}, ALLOW_ALL)
    with pytest.raises(ValueError):
        classify(Provider.GITHUB, "push", [1, 2], ALLOW_ALL)


@pytest.mark.parametrize("field", ["after", "before"])
@pytest.mark.parametrize("value", ["--upload-pack=touch /tmp/pwned", "HEAD", "a" * 39, "A" * 40])
def test_commit_ids_that_are_not_full_hex_shas_are_refused(field: str, value: str) -> None:
    """Commit ids reach git's argv: an option-shaped or symbolic one must never become a job."""
    payload = push_payload(repo_id=1, clone_url="https://github.com/o/r.git", branch="main", before="b" * 40, after="c" * 40,
                           commits=[{"id": "c" * 40, "modified": ["x"]}])
    payload[field] = value
    with pytest.raises(ValidationError):
        classify(Provider.GITHUB, "push", payload, ALLOW_ALL)


def test_gitlab_push_and_merge_request() -> None:
    push = {
        "object_kind": "push", "ref": "refs/heads/main", "before": "a" * 40, "after": "b" * 40, "checkout_sha": "b" * 40,
        "project": {"id": 15, "path_with_namespace": "g/p", "git_http_url": "https://gitlab.com/g/p.git"},
        "commits": [{"id": "b" * 40, "added": ["x"], "modified": [], "removed": []}], "total_commits_count": 1,
    }
    decision = classify(Provider.GITLAB, "Push Hook", push, ALLOW_ALL)
    assert isinstance(decision, JobRequest) and decision.changed == ("x",) and decision.key == "gitlab:15:main"
    assert isinstance(classify(Provider.GITLAB, "Tag Push Hook", push, ALLOW_ALL), Ignored)
    assert isinstance(classify(Provider.GITLAB, "Push Hook", {**push, "after": ZERO}, ALLOW_ALL), Ignored)


# --- queue and delivery log ---------------------------------------------------------------------------------


def _job(sha: str, before: str | None, changed: tuple[str, ...] | None = ("a/x",), branch: str = "main") -> JobRequest:
    return JobRequest(provider=Provider.GITHUB, kind="push", repo_id="1", repo_name="o/r", clone_url="u", branch=branch,
                      fetch_ref=f"refs/heads/{branch}", sha=sha, before=before, changed=changed)


async def test_store_dedup_ignore_and_full(make_store: MakeStore) -> None:
    store = await make_store()
    assert await store.accept("d1", "github", "push", _job("1" * 40, None), queue_size=2, body_hash="h1") == "queued"
    assert await store.accept("d1", "github", "push", _job("1" * 40, None), queue_size=2) == "duplicate"
    assert await store.accept("d1-replayed", "github", "push", _job("1" * 40, None), queue_size=2, body_hash="h1") == "duplicate"
    assert await store.accept("d2", "github", "ping", Ignored(reason="ping"), queue_size=2, body_hash="h2") == "ignored"
    assert await store.accept("d2-again", "github", "ping", Ignored(reason="ping"), queue_size=2, body_hash="h2") == "ignored"
    assert await store.accept("d3", "github", "push", _job("2" * 40, None, branch="b"), queue_size=2) == "queued"
    assert await store.accept("d4", "github", "push", _job("3" * 40, None, branch="c"), queue_size=2) == "full"
    assert await store.get("d4") is None  # not recorded: the sender's retry must not look like a redelivery
    # a queued branch never makes the queue full: the newest push to it replaces the queued one
    assert await store.accept("d5", "github", "push", _job("4" * 40, None), queue_size=2) == "queued"
    assert await store.queued_count() == 2
    record = await store.get("d2")
    assert record is not None and record.status is Status.IGNORED and record.reason == "ping"
    assert [r.id for r in await store.list()] == ["d5", "d3", "d2-again", "d2", "d1"]


async def test_store_replaces_queued_jobs_at_enqueue_and_keeps_candidates(make_store: MakeStore) -> None:
    store = await make_store()
    await store.accept("d1", "github", "push", _job("1" * 40, "0a" * 20, ("f1/a",)), 10)
    await store.accept("d2", "github", "push", _job("2" * 40, "1" * 40, ("f2/b",)), 10)
    await store.accept("d3", "github", "push", _job("3" * 40, "2" * 40, ("f1/c",)), 10)
    await store.accept("x1", "github", "push", _job("9" * 40, None, branch="other"), 10)
    assert await store.queued_count() == 2  # one job per branch; the log keeps all four deliveries
    d1, d2 = await store.get("d1"), await store.get("d2")
    assert d1 is not None and d1.status is Status.SUPERSEDED and d1.superseded_by == "d2"
    assert d2 is not None and d2.status is Status.SUPERSEDED and d2.superseded_by == "d3"
    claim = await store.claim()
    assert claim is not None and claim.delivery_id == "d3" and claim.superseded == ("d2",)
    assert claim.job.candidates == ("1" * 40, "2" * 40)  # the worker picks the newest of these by history
    assert claim.job.before == "0a" * 20  # the oldest replaced push's before: nothing is skipped
    assert claim.job.changed == ("f1/a", "f1/c", "f2/b")
    assert claim.deployed is None
    # the key is busy: a newer push waits (not merged into the running job); the other branch is free
    await store.accept("d4", "github", "push", _job("4" * 40, "3" * 40), 10)
    other = await store.claim()
    assert other is not None and other.delivery_id == "x1"
    assert await store.claim() is None
    await store.finish("d3", Status.DONE, "ok", deployed="3" * 40)
    nxt = await store.claim()
    assert nxt is not None and nxt.delivery_id == "d4" and nxt.job.candidates == ()
    assert nxt.deployed is not None and (nxt.deployed.sha, nxt.deployed.delivery_id) == ("3" * 40, "d3")


async def test_an_older_database_gains_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "q.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA)  # the tables as first released: no body_hash column
    old.close()
    store = DeliveryStore(path)
    assert await store.accept("d1", "github", "push", _job("1" * 40, None), 10, body_hash="h") == "queued"
    assert await store.accept("d2", "github", "push", _job("2" * 40, None), 10, body_hash="h") == "duplicate"
    await store.close()


async def test_replacing_a_job_keeps_older_commits_as_candidates() -> None:
    first, second, third = _job("1" * 40, "0a" * 20, ("a",)), _job("2" * 40, "1" * 40, None), _job("3" * 40, "2" * 40, ("b",))
    merged = third.replacing(second.replacing(first))
    assert merged.sha == "3" * 40 and merged.candidates == ("1" * 40, "2" * 40)
    assert merged.before == "0a" * 20 and merged.changed is None  # one incomplete list makes the union unknown
    assert third.replacing(_job("3" * 40, None)).candidates == ()  # the same commit twice is one candidate


async def test_store_recovers_interrupted_jobs_and_retries(make_store: MakeStore) -> None:
    store = await make_store()
    await store.accept("d1", "github", "push", _job("1" * 40, None), 10)
    claim = await store.claim()
    assert claim is not None
    await store.add_deployment("d1", "fn", "dep1")
    await store.close()
    reopened = await make_store()  # as after a SIGKILL: the row is still `deploying`
    assert await reopened.claim() is None
    assert await reopened.recover() == ["d1"]
    again = await reopened.claim()
    assert again is not None and again.attempts == 2 and again.deployments == {"fn": "dep1"}
    await reopened.retry_later("d1", 60, "boom")
    assert await reopened.claim() is None  # not before its time
    assert await reopened.claim(now=await reopened.next_retry_at() + 1) is not None  # type: ignore[operator]
    record = await reopened.get("d1")
    assert record is not None and [h.status for h in record.history or []][:2] == ["queued", "deploying"]
    assert again.interrupted  # its builds may still run: the worker waits for them before planning
    await reopened.retry_later("d1", 0, "boom")
    await reopened.accept("d2", "github", "push", _job("2" * 40, "1" * 40), 10)  # replaces the attempted job
    replacing = await reopened.claim()
    assert replacing is not None and replacing.delivery_id == "d2" and replacing.attempts == 1 and replacing.interrupted


def test_backoff_is_capped() -> None:
    assert [backoff(n, 2, 10) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]


# --- git mirror ---------------------------------------------------------------------------------------------


def test_mirror_fetches_diffs_and_exports(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    first = remote.commit({"f1/index.js": "one", "f2/index.js": "two"})
    second = remote.commit({"f1/index.js": "one!", "README.md": "hi"})
    cache = MirrorCache(tmp_path / "mirrors")
    fetched = cache.fetch(remote.url, first)
    assert fetched.path.is_dir() and (fetched.path / "HEAD").is_file() and fetched.tip is None
    assert cache.fetch(remote.url, second, ref="refs/heads/main", also=(first,)).tip == second
    assert cache.changed_files(remote.url, first, second) == ("README.md", "f1/index.js")
    assert cache.changed_files(remote.url, "e" * 40, second) is None
    out = cache.export(remote.url, first, tmp_path / "tree")
    assert (out / "f1" / "index.js").read_text() == "one" and not (out / "README.md").exists()
    with pytest.raises(GitError) as info:
        cache.fetch(remote.url, "d" * 40)
    assert not info.value.transient
    with pytest.raises(GitError):
        cache.export(remote.url, "d" * 40, tmp_path / "nothing")


def test_mirror_decides_the_newest_commit_by_history(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    b1 = remote.commit({"a.txt": "1"})
    b2 = remote.commit({"a.txt": "2"})
    b3 = remote.commit({"a.txt": "3"})
    cache = MirrorCache(tmp_path / "mirrors")
    tip = cache.fetch(remote.url, b2, ref="refs/heads/main", also=(b1, b3)).tip
    assert tip == b3
    assert cache.newest(remote.url, (b3, b1, b2), None) == b3  # arrival order does not matter
    assert cache.newest(remote.url, (b1, b2), tip) == b2
    assert cache.is_ancestor(remote.url, b1, b3) and cache.is_ancestor(remote.url, b3, b3)
    assert not cache.is_ancestor(remote.url, b3, b2) and not cache.is_ancestor(remote.url, "e" * 40, b3)
    remote.work.git.reset("--hard", b1)  # a force push: b4 replaces b2, b3
    b4 = remote.commit({"a.txt": "4"})
    tip = cache.fetch(remote.url, b4, ref="refs/heads/main").tip
    assert tip == b4 and cache.newest(remote.url, (b4, b3), tip) == b4
    assert cache.newest(remote.url, (b4, b3), None) == b3  # diverged and no head known: the last to arrive
    remote.push_ref(b4, "refs/heads/gone")
    assert cache.fetch(remote.url, b4, ref="refs/heads/gone").tip == b4
    remote.work.git.push("origin", "--delete", "gone")
    assert cache.fetch(remote.url, b4, ref="refs/heads/gone").tip is None  # gone: no stale tip left behind


def test_export_streams_large_files_to_disk(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    big = "x" * (3 * 1024 * 1024)
    sha = remote.commit({"big/blob.txt": big, "link-free/ok.txt": "ok"})
    cache = MirrorCache(tmp_path / "mirrors")
    cache.fetch(remote.url, sha)
    out = cache.export(remote.url, sha, tmp_path / "tree")
    assert (out / "big" / "blob.txt").stat().st_size == len(big) and (out / "link-free" / "ok.txt").read_text() == "ok"


def test_tokens_go_only_to_their_own_host(tmp_path: Path) -> None:
    def creds(**settings: str) -> CloneCredentials:
        return CloneCredentials.from_config(WebhookConfig(secret="s", data_dir=tmp_path, **settings))  # type: ignore[arg-type]

    every = creds(github_token="ghp", gitlab_token="glpat", gitea_token="gt", gitlab_api_url="https://gl.example.com",
                  gitea_api_url="https://gitea.example.com:3000/")
    assert [(t.provider, t.host) for t in every.tokens] == [
        ("github", "github.com:443"), ("gitlab", "gl.example.com:443"), ("gitea", "gitea.example.com:3000")]
    assert every.for_url("https://github.com/o/r.git", "github").token == "ghp"  # type: ignore[union-attr]
    assert every.for_url("https://github.com/o/r.git", "gitlab") is None  # another provider's delivery: no token
    assert every.for_url("https://GL.example.com:443/g/p.git", "gitlab").token == "glpat"  # type: ignore[union-attr]
    assert every.for_url("https://gitea.example.com:3000/o/r.git", "gitea").token == "gt"  # type: ignore[union-attr]
    for other in ("https://gitea.example.com/o/r.git", "http://github.com/o/r.git", "https://evil.example/o/r.git",
                  "https://api.github.com/o/r.git", "file:///srv/r.git", "https://github.com.evil.example/o/r.git"):
        assert every.for_url(other, "github") is None, other
    assert creds(gitea_token="gt").tokens == ()  # no --gitea-api-url: the payload must not choose its host
    enterprise = creds(github_token="ghe", github_api_url="https://ghe.example.com/api/v3")
    assert [t.host for t in enterprise.tokens] == ["ghe.example.com:443"]
    assert [t.host for t in creds(github_token="x", github_api_url="https://api.acme.ghe.com").tokens] == ["acme.ghe.com:443"]
    # one host named for two providers: the delivery's provider's token
    shared = creds(github_token="ghp", gitlab_token="glpat", github_api_url="https://git.example.com/api/v3",
                   gitlab_api_url="https://git.example.com")
    assert shared.for_url("https://git.example.com/o/r.git", "gitlab").token == "glpat"  # type: ignore[union-attr]
    assert shared.for_url("https://git.example.com/o/r.git", "github").token == "ghp"  # type: ignore[union-attr]
    env = MirrorCache(tmp_path / "m", every)._env("https://evil.example/o/r.git")
    assert "ghp" not in str(env) and "glpat" not in str(env) and env["GIT_CONFIG_KEY_2"] == "credential.helper"


def test_mirror_never_runs_hooks(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"a.txt": "x"})
    cache = MirrorCache(tmp_path / "mirrors")
    mirror = cache.path_for(remote.url)
    cache.fetch(remote.url, sha)
    marker = tmp_path / "hook-ran"
    hook = mirror / "hooks" / "reference-transaction"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    sha2 = remote.commit({"a.txt": "y"})
    cache.fetch(remote.url, sha2)
    assert not marker.exists()


def test_scrub_hides_secrets() -> None:
    assert scrub("token abc123 in url https://x:abc123@h", {"abc123"}) == "token *** in url https://x:***@h"


# --- reporting ----------------------------------------------------------------------------------------------


async def test_reporter_posts_statuses_and_updates_one_comment() -> None:
    with FakeGitHub() as gh:
        async with httpx.AsyncClient() as http:
            ids = CommentIds()
            reporter = GitHubReporter(gh.url, "ghs_token", http, ids)
            report = [FunctionReport("fn-a", "success", "deployed", "dep1")]
            await reporter.statuses("o/r", "a" * 40, report)
            await reporter.pr_comment("o/r", 3, "a" * 40, report)
            await reporter.pr_comment("o/r", 3, "b" * 40, [FunctionReport("fn-a", "failure", "x" * 300)])
            # a fresh process without the remembered id finds the comment by its marker
            await GitHubReporter(gh.url, "ghs_token", http, CommentIds()).pr_comment("o/r", 3, "c" * 40, report)
        statuses = gh.state.all_statuses()
        assert [(s["state"], s["context"]) for s in statuses] == [("success", "fnsync/fn-a")]
        assert "dep1" in statuses[0]["description"]
        comments = gh.state.comments[("o/r", 3)]
        assert len(comments) == 1 and COMMENT_MARKER in comments[0]["body"] and "c" * 12 in comments[0]["body"]
        assert all(r.headers["authorization"] == "Bearer ghs_token" for r in gh.state.requests)


async def test_reporter_failures_are_swallowed_and_no_token_posts_nothing() -> None:
    with FakeGitHub() as gh:
        gh.state.fail_with = 500
        async with httpx.AsyncClient() as http:
            reporter = GitHubReporter(gh.url, "tok", http, CommentIds())
            await reporter.statuses("o/r", "a" * 40, [FunctionReport("f", "pending", "x")])
            await reporter.pr_comment("o/r", 1, "a" * 40, [FunctionReport("f", "pending", "x")])
            gh.state.fail_with = None
            silent = GitHubReporter(gh.url, None, http, CommentIds())
            count = len(gh.state.requests)
            await silent.statuses("o/r", "a" * 40, [FunctionReport("f", "pending", "x")])
            assert len(gh.state.requests) == count
        await asyncio.sleep(0)


# --- the link index -----------------------------------------------------------------------------------------


class _FunctionsOnServer:
    """Stands in for AppwriteClient.list_functions: counts reads; can fail or hold a read until released."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []
        self.reads = 0
        self.fail = False
        self.hold: asyncio.Event | None = None

    async def list_functions(self) -> list[SimpleNamespace]:
        self.reads += 1
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise AppwriteProtocolError("Appwrite is down")
        return [SimpleNamespace(provider_repository_id=r, provider_branch=b) for r, b in self.links]


def _index(server: _FunctionsOnServer, now: list[float], miss_ttl: float = 3.0) -> LinkIndex:
    return LinkIndex(server, miss_ttl=miss_ttl, clock=lambda: now[0])  # type: ignore[arg-type]


async def test_link_made_after_the_last_read_is_found_by_a_re_read() -> None:
    server, now = _FunctionsOnServer(), [100.0]
    links = _index(server, now)
    assert await links.refresh() and server.reads == 1
    server.links.append(("42", "main"))
    now[0] += 0.5
    assert links.linked("42", "main") is False  # the periodic index alone would drop the delivery ...
    assert await links.check("42", "main") is True  # ... the check re-reads once before answering
    assert server.reads == 2
    assert await links.check("42", "main") is True and server.reads == 2  # a hit needs no read


async def test_a_confirmed_miss_is_trusted_briefly_then_re_read() -> None:
    server, now = _FunctionsOnServer(), [100.0]
    links = _index(server, now, miss_ttl=3.0)
    assert await links.check("7", "main") is False and server.reads == 1
    now[0] += 1.0
    assert await links.check("7", "main") is False and server.reads == 1  # cached miss: no read
    assert await links.check("7", "dev") is False and server.reads == 2  # another pair is read afresh
    server.links.append(("7", "main"))
    now[0] += 2.5
    assert await links.check("7", "main") is True and server.reads == 3


async def test_misses_arriving_together_share_one_read() -> None:
    server, now = _FunctionsOnServer(), [100.0]
    links = _index(server, now)
    server.hold = asyncio.Event()
    checks = [asyncio.create_task(links.check(str(repo), "main")) for repo in range(5)]
    await asyncio.sleep(0)
    server.hold.set()
    assert await asyncio.gather(*checks) == [False] * 5
    assert server.reads == 1


async def test_unreadable_appwrite_means_unknown_not_unrelated() -> None:
    server, now = _FunctionsOnServer(), [100.0]
    links = _index(server, now)
    assert await links.refresh()
    server.fail = True
    now[0] += 0.5
    assert await links.check("42", "main") is None  # the receiver queues; the worker decides
    assert "Appwrite is down" in links.error
    server.fail = False
    assert await links.check("42", "main") is False


async def test_an_older_read_landing_late_does_not_replace_a_newer_one() -> None:
    server, now = _FunctionsOnServer(), [100.0]
    links = _index(server, now)
    gate = server.hold = asyncio.Event()
    slow = asyncio.create_task(links.refresh())  # starts at t=100
    await asyncio.sleep(0)
    server.hold = None
    server.links.append(("42", "main"))
    now[0] = 101.0
    assert await links.refresh() and links.linked("42", "main")
    server.links.clear()  # what the slow read will report when it lands
    gate.set()
    assert await slow
    assert links.linked("42", "main") is True


def test_all_zero_ids_of_either_length_are_deletions_and_creations() -> None:
    for zero in ("0" * 40, "0" * 64):
        deleted = push_payload(repo_id=7, clone_url="https://github.com/a/b.git", branch="main", before="a" * 40, after=zero)
        decision = classify(Provider.GITHUB, "push", {**deleted, "deleted": False}, ALLOW_ALL)
        assert isinstance(decision, Ignored) and "deleted" in decision.reason, zero
        gitlab = {"object_kind": "push", "ref": "refs/heads/main", "before": "a" * 64, "after": zero,
                  "project": {"id": 15, "git_http_url": "https://gitlab.com/g/p.git"}, "commits": [], "total_commits_count": 0}
        assert isinstance(classify(Provider.GITLAB, "Push Hook", gitlab, ALLOW_ALL), Ignored), zero
        created = push_payload(repo_id=7, clone_url="https://github.com/a/b.git", branch="main", before=zero, after="b" * 64,
                               commits=[{"id": "b" * 64, "modified": ["x"]}])
        job = classify(Provider.GITHUB, "push", created, ALLOW_ALL)
        assert isinstance(job, JobRequest) and job.before is None and job.changed is None, zero
