"""The project lock: a delivery never reconciles while another fnsync (e.g. `fnsync apply`) holds it; it waits,
retries with backoff naming the holder in the delivery log, deploys once the lock is released, and gives it back."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
from appwrite.services.functions import Functions

from syncer.client import AppwriteClient
from syncer.lock import LockOwner, acquire, read_lock
from syncer.lock_owner import current_owner, process_start
from tests.conftest import LocalServer
from tests.helpers import async_wait_until
from tests.webhook.conftest import Receiver, admin
from tests.webhook.fake_github import FakeGitHub
from tests.webhook.support import ZERO, Remote
from webhook.errors import TerminalError, TransientError
from webhook.locking import project_lock
from tests.webhook.test_end_to_end import NODE, active, deliver, deployments_of, link, push, settled

pytestmark = pytest.mark.slow

APPLY = LockOwner(user="alice", host="laptop", pid=4242, command="fnsync apply")


async def test_a_held_project_lock_delays_the_deploy_until_released(
    receiver: Receiver, appwrite_sdk: Functions, local_server: LocalServer, tmp_path: Path
) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"fns/a/index.js": NODE})
    link(appwrite_sdk, "fn-a", "fns/a")
    async with AppwriteClient(local_server.endpoint, local_server.project, local_server.api_key) as client:
        lease = await acquire(client, APPLY)  # "fnsync apply" is running
        with FakeGitHub() as gh:
            async with receiver(github_api_url=gh.url, lock_wait=0.1, max_attempts=50) as http:
                delivery = await deliver(http, "push", push(remote, ZERO, sha, None, created=True))

                async def retried_naming_the_holder() -> dict[str, Any] | None:
                    data: dict[str, Any] = (await http.get(f"/deliveries/{delivery}", headers=admin())).json()
                    retries = [h for h in data["history"] if "retrying in" in h["message"]]
                    return data if len(retries) >= 2 else None

                waiting = await async_wait_until(retried_naming_the_holder, timeout=30, what="two lock retries")
                messages = [h["message"] for h in waiting["history"]]
                assert any("waiting up to 0.1s" in m and "alice@laptop" in m and "`fnsync apply`" in m for m in messages), messages
                retry = next(m for m in messages if "retrying in" in m)
                assert "the project is locked by alice@laptop (pid 4242, `fnsync apply`)" in retry, retry
                assert waiting["status"] in ("queued", "deploying") and waiting["deployments"] == {}, waiting
                assert deployments_of(appwrite_sdk, "fn-a") == []  # nothing was deployed under someone else's lock

                await lease.release(client)  # apply finished
                done = await settled(http, delivery)
                assert done["status"] == "done", done
                assert active(appwrite_sdk, "fn-a") == done["deployments"]["fn-a"]
        assert await read_lock(client) is None  # the receiver gave the lock back



async def test_the_lock_is_released_when_the_reconcile_fails_or_is_cancelled(local_server: LocalServer) -> None:
    async with AppwriteClient(local_server.endpoint, local_server.project, local_server.api_key) as client:
        try:
            async with project_lock(client, "fnsync webhook d1", wait=0, ttl=60):
                held = await read_lock(client)
                assert held is not None and held[1] is not None and held[1].owner.command == "fnsync webhook d1"
                raise TerminalError("build failed")
        except TerminalError:
            pass
        assert await read_lock(client) is None

        entered = asyncio.Event()

        async def body() -> None:
            async with project_lock(client, "fnsync webhook d2", wait=0, ttl=60):
                entered.set()
                await asyncio.Event().wait()  # a reconcile that never ends: shutdown cancels it

        task = asyncio.create_task(body())
        await entered.wait()
        assert await read_lock(client) is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await read_lock(client) is None


async def test_a_lock_held_past_the_wait_is_transient_and_names_the_holder(local_server: LocalServer) -> None:
    async with AppwriteClient(local_server.endpoint, local_server.project, local_server.api_key) as client:
        lease = await acquire(client, APPLY)
        notes: list[str] = []
        with pytest.raises(TransientError) as caught:
            async with project_lock(client, "fnsync webhook d3", wait=0.05, ttl=60, on_wait=notes.append):
                pytest.fail("the body must not run while someone else holds the lock")
        assert "the project is locked by alice@laptop (pid 4242, `fnsync apply`)" in str(caught.value)
        assert "--lock-timeout" not in str(caught.value)  # a CLI hint means nothing in a delivery log
        assert len(notes) == 1 and "alice@laptop" in notes[0]
        held = await read_lock(client)
        assert held is not None and held[1] is not None and held[1].token == lease.info.token  # not taken from apply
        await lease.release(client)


async def test_the_lock_of_a_dead_holder_on_this_host_is_taken_over_at_once(local_server: LocalServer) -> None:
    """A receiver killed while reconciling restarts and resumes that delivery: its own stale lock (or a killed
    `fnsync apply`'s) must not block it for a whole TTL. A live holder, or one on another machine, is waited for."""
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process
    alive = subprocess.Popen(["sleep", "60"])
    try:
        here = current_owner("fnsync webhook github:old")
        dead = here.model_copy(update={"pid": gone.pid})
        live = here.model_copy(update={"pid": alive.pid, "started": process_start(alive.pid)})
        async with AppwriteClient(local_server.endpoint, local_server.project, local_server.api_key) as client:
            for owner in (dead.model_copy(update={"host": "other-host"}), dead.model_copy(update={"host_id": "other-boot"}), live):
                lease = await acquire(client, owner)
                with pytest.raises(TransientError):
                    async with project_lock(client, "fnsync webhook github:new", wait=0, ttl=60):
                        pytest.fail("must not take a lock that may still be in use")
                await lease.release(client)
            reused = live.model_copy(update={"started": live.started + 1})  # the holder's pid now names another process
            for owner in (dead, dead.model_copy(update={"command": "fnsync apply"}), reused):
                await acquire(client, owner)
                async with project_lock(client, "fnsync webhook github:new", wait=0, ttl=60):
                    held = await read_lock(client)
                    assert held is not None and held[1] is not None and held[1].owner.command == "fnsync webhook github:new"
                assert await read_lock(client) is None
    finally:
        alive.kill()
        alive.wait()
