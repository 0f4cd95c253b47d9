"""Worker outcomes without Appwrite: transient failures retry with backoff until a final state, terminal ones
fail at once, and a crashing job ends its delivery instead of the worker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from webhook.config import WebhookConfig
from webhook.deploy import Outcome
from webhook.errors import TerminalError, TransientError
from webhook.events import JobRequest
from webhook.signatures import Provider
from webhook.deliveries import Claim, Status, Store
from webhook.worker import WorkerPool
from tests.webhook.conftest import MakeStore


class ScriptedRunner:
    """Plays back a list of results (an exception to raise or an Outcome to return), one per attempt."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.claims: list[Claim] = []

    async def run(self, claim: Claim) -> Outcome:
        self.claims.append(claim)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step  # type: ignore[no-any-return]

    def build_seconds(self, delivery_id: str) -> dict[str, float]:
        return {}


Setup = Callable[..., Awaitable[tuple[Store, WorkerPool, ScriptedRunner]]]

pytestmark = pytest.mark.slow


@pytest.fixture
def setup(make_store: MakeStore, tmp_path: Path) -> Setup:
    async def make(script: list[Any], **config: Any) -> tuple[Store, WorkerPool, ScriptedRunner]:
        return await _setup(await make_store(), tmp_path, script, **config)

    return make


async def _setup(store: Store, tmp_path: Path, script: list[Any], **config: Any) -> tuple[Store, WorkerPool, ScriptedRunner]:
    settings = {"secret": "webhook-secret", "data_dir": tmp_path, "endpoint": "http://127.0.0.1:9/v1", "project": "p", "retry_base": 5.0, **config}
    runner = ScriptedRunner(script)
    pool = WorkerPool(WebhookConfig(**settings), store, runner)  # type: ignore[arg-type]
    job = JobRequest(provider=Provider.GITHUB, kind="push", repo_id="1", repo_name="o/r", clone_url="u", branch="main",
                     fetch_ref="refs/heads/main", sha="a" * 40)
    await store.accept("d1", "github", "push", job, 10)
    return store, pool, runner


async def _drain(store: Store, pool: WorkerPool) -> None:
    """Process every attempt, jumping over retry delays instead of waiting for them."""
    for _ in range(20):
        retry_at = await store.next_retry_at()
        claim = await store.claim(now=(retry_at or 0) + 1 if retry_at else None)
        if claim is None:
            return
        await pool.process(claim)


async def test_transient_failures_retry_then_succeed(setup: Setup) -> None:
    store, pool, runner = await setup([TransientError("GET /functions -> 503: down"), Outcome(Status.DONE, "deployed")])
    await _drain(store, pool)
    record = await store.get("d1")
    assert record is not None and record.status is Status.DONE and record.attempts == 2
    assert any("retrying in 5.0s" in h.message for h in record.history or [])


async def test_transient_failures_end_after_max_attempts(setup: Setup) -> None:
    store, pool, runner = await setup([TransientError("no response")] * 3, max_attempts=3)
    await _drain(store, pool)
    record = await store.get("d1")
    assert record is not None and record.status is Status.FAILED and record.attempts == 3
    assert record.reason == "failed after 3 attempts" and record.error == "no response"


async def test_terminal_failure_is_final_at_once(setup: Setup) -> None:
    store, pool, runner = await setup([TerminalError("invalid manifest functions.yaml: ...")])
    await _drain(store, pool)
    record = await store.get("d1")
    assert record is not None and record.status is Status.FAILED and record.attempts == 1
    assert len(runner.claims) == 1


async def test_a_crashing_job_fails_its_delivery_and_scrubs_secrets(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    store, pool, runner = await setup([RuntimeError("boom with s3cr3t-key")], api_key="s3cr3t-key")
    with caplog.at_level(logging.ERROR, logger="fnsync.webhook"):
        await _drain(store, pool)
    record = await store.get("d1")
    assert record is not None and record.status is Status.FAILED and record.reason == "internal error"
    assert "s3cr3t-key" not in record.error and "***" in record.error
    assert "RuntimeError: boom with ***" in caplog.text and "Traceback" in caplog.text  # logged with its traceback...
    assert "s3cr3t-key" not in caplog.text  # ...and without the secret
