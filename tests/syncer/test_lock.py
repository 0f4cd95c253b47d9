"""The project apply lock (syncer.lock) against the real local server, alone and wired into `fnsync apply`."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncer.client import AppwriteClient
from syncer.lock import (
    LOCK_FUNCTION_ID,
    LOCK_KEY,
    Held,
    Lease,
    LockHeld,
    LockInfo,
    LockOwner,
    acquire,
    ci_job,
    current_owner,
    read_lock,
    try_acquire,
)
from syncer.lock_holder import holding_lock
from tests.conftest import LocalServer
from tests.helpers import wait_until
from tests.syncer.support import Project, fnsync, open_client

pytestmark = pytest.mark.slow



@pytest.fixture
async def client(local_server: LocalServer) -> AsyncIterator[AppwriteClient]:
    async with open_client(local_server) as c:
        yield c


def factory(server: LocalServer) -> Any:
    return lambda: open_client(server)


def lock_variables(sdk: Any) -> list[dict[str, Any]]:
    return [v for v in sdk.list_variables(LOCK_FUNCTION_ID)["variables"] if v["key"] == LOCK_KEY]


def owner(name: str = "ci") -> LockOwner:
    return LockOwner(user=name, host="runner-7", pid=123, ci="GitHub run 456", command="fnsync apply")


def record(expires_in: float, who: str = "old") -> str:
    now = datetime.now(UTC)
    info = LockInfo(owner=owner(who), token=who, acquired_at=now - timedelta(minutes=20), expires_at=now + timedelta(seconds=expires_in))
    return info.model_dump_json()


# --- the lock alone ---------------------------------------------------------------------------------------------


async def test_racing_acquires_have_exactly_one_winner(client: AppwriteClient) -> None:
    results = await asyncio.gather(*(try_acquire(client, owner(f"u{i}")) for i in range(6)))
    winners = [r for r in results if isinstance(r, Lease)]
    assert len(winners) == 1
    losers = [r for r in results if not isinstance(r, Lease)]
    assert all(isinstance(r, Held) and r.holder is not None and r.holder.token == winners[0].info.token for r in losers)
    assert all(r.lock_id == winners[0].lock_id for r in losers if isinstance(r, Held))

    fn = await client.get_function(LOCK_FUNCTION_ID)
    assert fn is not None and not fn.enabled and fn.deployment == "" and fn.execute == ()
    await winners[0].release(client)
    assert await read_lock(client) is None
    assert isinstance(await try_acquire(client, owner()), Lease)  # free again


async def test_racers_in_one_process_never_take_each_others_lock_for_a_dead_one(client: AppwriteClient) -> None:
    """Receiver workers share a pid: a lock just created by one of them is live, even before its create returns."""
    me = current_owner("fnsync webhook d1")
    for _ in range(3):
        results = await asyncio.gather(*(try_acquire(client, me) for _ in range(6)))
        winners = [r for r in results if isinstance(r, Lease)]
        assert len(winners) == 1, results
        assert all(isinstance(r, Held) and r.lock_id == winners[0].lock_id for r in results if r is not winners[0])
        await winners[0].release(client)


async def test_held_lock_names_its_owner(client: AppwriteClient) -> None:
    lease = await acquire(client, owner())
    with pytest.raises(LockHeld) as caught:
        await acquire(client, owner("other"))
    text = str(caught.value)
    since, until = lease.info.acquired_at.strftime("%H:%M"), lease.info.expires_at.strftime("%H:%M")
    assert f"locked by ci@runner-7 (pid 123, GitHub run 456, `fnsync apply`) since {since} UTC, expires {until} UTC" in text
    assert f"lock id {lease.lock_id}" in text and caught.value.lock_id == lease.lock_id
    assert "--lock-timeout" in text


async def test_waiting_acquire_gets_the_lock_when_released(client: AppwriteClient) -> None:
    lease = await acquire(client, owner("first"))
    released: list[asyncio.Task[None]] = []

    def on_wait(message: str) -> None:  # the waiter says it waits: now the holder finishes
        assert "waiting up to 10s" in message and "first@runner-7" in message
        released.append(asyncio.get_running_loop().create_task(lease.release(client)))

    second = await acquire(client, owner("second"), timeout=10, poll_interval=0.05, on_wait=on_wait)
    assert released and second.info.owner.user == "second"
    current = await read_lock(client)
    assert current is not None and current[1] is not None and current[1].token == second.info.token


async def test_expired_lock_is_taken_over_by_id(client: AppwriteClient) -> None:
    stale = await acquire(client, owner("dead"), ttl=60)
    clock = lambda: datetime.now(UTC) + timedelta(seconds=61)
    taker = await acquire(client, owner("next"), ttl=60, now=clock)
    assert taker.variable_id != stale.variable_id
    current = await read_lock(client)
    assert current is not None and current[1] is not None and current[1].owner.user == "next"
    assert not await stale.refresh(client)  # the dead holder's variable is gone: it knows it lost the lock
    await stale.release(client)  # and its late release does not remove the new holder's lock
    assert (await read_lock(client)) is not None


async def test_refresh_pushes_expiry(client: AppwriteClient) -> None:
    lease = await acquire(client, owner(), ttl=60)
    first = lease.info.expires_at
    assert await lease.refresh(client, now=lambda: datetime.now(UTC) + timedelta(seconds=30))
    current = await read_lock(client)
    assert current is not None and current[1] is not None and current[1].expires_at > first


async def test_unreadable_recent_record_counts_as_held(client: AppwriteClient) -> None:
    await acquire(client, owner())
    current = await read_lock(client)
    assert current is not None
    await client.update_variable(LOCK_FUNCTION_ID, current[0].id, LOCK_KEY, "not json")
    with pytest.raises(LockHeld, match="unreadable"):
        await acquire(client, owner("other"))
    later = lambda: datetime.now(UTC) + timedelta(seconds=61)
    taker = await acquire(client, owner("other"), ttl=60, now=later)  # an old unreadable record is taken over
    assert taker.variable_id != current[0].id


def test_holding_lock_refreshes_in_the_background_and_releases(local_server: LocalServer, appwrite_sdk: Any) -> None:
    warnings: list[str] = []
    with holding_lock(factory(local_server), command="test", ttl=0.6, warn=warnings.append) as lease:
        first = lease.info.expires_at
        wait_until(lambda: lease.info.expires_at > first, timeout=10, what="a background refresh")
        stored = LockInfo.model_validate_json(lock_variables(appwrite_sdk)[0]["value"])
        assert stored.token == lease.info.token and stored.expires_at > first
        appwrite_sdk.delete_variable(LOCK_FUNCTION_ID, lease.variable_id)  # someone takes it away
        wait_until(lambda: warnings, timeout=10, what="the lost-lock warning")
    assert "taken over" in warnings[0]
    assert lock_variables(appwrite_sdk) == []


def test_owner_from_ci_environment() -> None:
    assert ci_job({"GITHUB_RUN_ID": "456"}) == "GitHub run 456"
    assert ci_job({"GITHUB_RUN_ID": "456", "GITHUB_RUN_ATTEMPT": "2"}) == "GitHub run 456 attempt 2"
    assert ci_job({"GITLAB_CI": "true", "CI_JOB_ID": "9"}) == "GitLab job 9"
    assert ci_job({}) == ""
    me = current_owner("fnsync apply", {"GITHUB_RUN_ID": "7"})
    assert me.ci == "GitHub run 7" and me.pid > 0 and me.command == "fnsync apply"


async def test_bad_ttl_is_refused(client: AppwriteClient) -> None:
    with pytest.raises(ValueError):
        await acquire(client, owner(), ttl=0)


# --- wired into apply ------------------------------------------------------------------------------------------


def test_second_apply_fails_while_the_lock_is_held_and_changes_nothing(
    project: Project, env: dict[str, str], local_server: LocalServer, appwrite_sdk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "456")
    with holding_lock(factory(local_server), command="fnsync apply") as lease:
        result = fnsync(project, env, "apply", "--yes")
        assert result.exit_code == 1
        assert f"locked by {lease.info.owner.user}@{lease.info.owner.host} (pid " in result.stderr
        assert "GitHub run 456" in result.stderr and "--lock-timeout" in result.stderr
        assert [f["$id"] for f in appwrite_sdk.list()["functions"]] == [LOCK_FUNCTION_ID]  # nothing applied

        forced = fnsync(project, env, "apply", "--yes", "--no-lock")
        assert forced.exit_code == 0 and "--no-lock" in forced.stderr
        assert len(lock_variables(appwrite_sdk)) == 1  # --no-lock neither took nor dropped the held lock
    assert lock_variables(appwrite_sdk) == []


def test_apply_takes_over_an_expired_lock_and_releases_it(project: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.create(LOCK_FUNCTION_ID, "lock", "python-3.12", enabled=False)
    appwrite_sdk.create_variable(LOCK_FUNCTION_ID, LOCK_KEY, record(expires_in=-60))  # a CI job killed an hour ago
    result = fnsync(project, env, "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert appwrite_sdk.get("api")["deployment"]
    assert lock_variables(appwrite_sdk) == []


def test_apply_waits_with_lock_timeout_then_fails_naming_the_holder(project: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    appwrite_sdk.create(LOCK_FUNCTION_ID, "lock", "python-3.12", enabled=False)
    appwrite_sdk.create_variable(LOCK_FUNCTION_ID, LOCK_KEY, record(expires_in=600, who="busy"))
    # Long enough that the first look at the lock (slow on a loaded machine) never uses the whole wait.
    result = fnsync(project, env, "apply", "--yes", "--lock-timeout", "3")
    assert result.exit_code == 1
    assert "waiting up to 3s" in result.stderr and "locked by busy@runner-7" in result.stderr
    assert re.search(r"\(waited \d+s\)", result.stderr), result.stderr
    assert len(lock_variables(appwrite_sdk)) == 1 and json.loads(lock_variables(appwrite_sdk)[0]["value"])["token"] == "busy"


def test_lock_released_after_success_and_failure(project: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    assert fnsync(project, env, "apply", "--yes").exit_code == 0
    assert appwrite_sdk.get(LOCK_FUNCTION_ID)["enabled"] is False and lock_variables(appwrite_sdk) == []

    project.functions["api"]["commands"] = "exit 7"
    project.write()
    failed = fnsync(project, env, "apply", "--yes")
    assert failed.exit_code == 1 and "Apply failed" in failed.stdout
    assert lock_variables(appwrite_sdk) == []

    refused = fnsync(project, env, "apply")  # no terminal, no --yes: refused after planning, under the lock
    assert refused.exit_code == 1 and lock_variables(appwrite_sdk) == []


def test_lock_released_on_keyboard_interrupt(
    project: Project, env: dict[str, str], appwrite_sdk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    async def interrupted(*args: Any, **kwargs: Any) -> None:
        seen.append(len(lock_variables(appwrite_sdk)))  # the lock is held while applying
        raise KeyboardInterrupt

    monkeypatch.setattr("syncer.cli.apply.apply_plan", interrupted)
    result = fnsync(project, env, "apply", "--yes")
    assert result.exit_code != 0 and seen == [1]
    assert lock_variables(appwrite_sdk) == []


def test_reserved_function_never_shows_in_plan_prune_or_unmanaged(project: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    assert fnsync(project, env, "apply", "--yes").exit_code == 0  # creates the lock function
    assert LOCK_FUNCTION_ID in {f["$id"] for f in appwrite_sdk.list()["functions"]}
    appwrite_sdk.create("stray", "Stray", "python-3.12")

    plan = json.loads(fnsync(project, env, "plan", "--prune", "--json").stdout)
    assert plan["unmanaged"] == [] and [c["function_id"] for c in plan["changes"]] == ["stray"]
    human = fnsync(project, env, "plan")
    assert "stray" in human.stdout and LOCK_FUNCTION_ID not in human.stdout
    assert fnsync(project, env, "apply", "--prune", "--yes").exit_code == 0
    assert {f["$id"] for f in appwrite_sdk.list()["functions"]} == {"api", LOCK_FUNCTION_ID}
    target = fnsync(project, env, "plan", "--target", LOCK_FUNCTION_ID)
    assert target.exit_code == 1 and "unknown --target" in target.stderr
    drift = fnsync(project, env, "drift", "--include-unmanaged")
    assert drift.exit_code == 0 and LOCK_FUNCTION_ID not in drift.stdout


def test_apply_refuses_when_the_server_changed_before_it_got_the_lock(
    project: Project, env: dict[str, str], appwrite_sdk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fnsync(project, env, "apply", "--yes").exit_code == 0
    project.functions["api"]["timeout"] = 40
    project.write()

    def someone_applies_meanwhile(*args: Any, **kwargs: Any) -> None:  # while the user reads the plan
        appwrite_sdk.update("api", "Api", runtime="python-3.12", timeout=20, entrypoint="main.py")

    monkeypatch.setattr("syncer.cli.apply.confirm_apply", someone_applies_meanwhile)
    result = fnsync(project, env, "apply")
    assert result.exit_code == 1 and "the server changed since the plan was made" in result.stderr
    assert appwrite_sdk.get("api")["timeout"] == 20  # the shown plan (15 -> 40) was not applied over it
    assert lock_variables(appwrite_sdk) == []


def test_a_manifest_may_not_declare_the_lock_function(project: Project, env: dict[str, str], appwrite_sdk: Any) -> None:
    project.add(LOCK_FUNCTION_ID)
    project.write()
    for command in ("plan", "apply"):
        refused = fnsync(project, env, command, "--yes") if command == "apply" else fnsync(project, env, command)
        assert refused.exit_code == 1
        assert f"functions.{LOCK_FUNCTION_ID}" in refused.stderr and "fnsync reserves it for its project lock" in refused.stderr
    assert appwrite_sdk.list()["total"] == 0  # refused before anything was read or written
