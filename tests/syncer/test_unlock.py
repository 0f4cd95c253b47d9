"""Locks that free themselves: a killed apply's lock is taken over at once on the same machine, and
`fnsync unlock LOCK_ID` releases a lock by hand after confirmation, never another holding than the one named."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncer.lock import LOCK_FUNCTION_ID, LOCK_KEY, LockInfo, LockOwner, acquire, break_lock, current_lock
from syncer.lock_owner import current_owner, process_gone, process_start
from tests.conftest import LocalServer
from tests.helpers import wait_until
from tests.syncer.support import Project, fnsync, open_client, run_cli

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from syncer.cli import main; main()"]
ELSEWHERE = LockOwner(user="ci", host="runner-7", pid=123, ci="GitHub run 456", command="fnsync apply")



def lock_variables(sdk: Any) -> list[dict[str, Any]]:
    return [v for v in sdk.list_variables(LOCK_FUNCTION_ID)["variables"] if v["key"] == LOCK_KEY]


async def hold_elsewhere(server: LocalServer, owner: LockOwner = ELSEWHERE) -> str:
    """A lock held by `owner` (by default a process on another machine: never taken over as dead); its lock id."""
    async with open_client(server) as client:
        return (await acquire(client, owner)).lock_id


def run_on_terminal(argv: list[str], env: dict[str, str], answer: str) -> tuple[int, str]:
    """Run `argv` as a real process whose stdin and stderr are a terminal; type `answer`; return (exit code, all output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env={**os.environ, **env}, close_fds=True)
    os.close(slave)
    os.write(master, answer.encode() + b"\n")  # buffered by the terminal until the prompt reads it
    output = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every end of the terminal is closed, the process is done
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), output.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- a killed apply ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_sigkilled_apply_does_not_block_the_next_apply_on_this_machine(
    project: Project, env: dict[str, str], appwrite_sdk: Any
) -> None:
    project.functions["api"]["commands"] = "sleep 120"  # a slow build: apply holds the lock while it waits
    project.write()
    apply = subprocess.Popen(
        [*CLI, "apply", "--yes", "-f", str(project.path)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def holding_and_building() -> bool:
            ids = {f["$id"] for f in appwrite_sdk.list()["functions"]}
            if not {"api", LOCK_FUNCTION_ID} <= ids or not lock_variables(appwrite_sdk):
                return False
            return any(d["status"] == "building" for d in appwrite_sdk.list_deployments("api")["deployments"])

        wait_until(holding_and_building, timeout=120, what="the apply to hold the lock during its build")
        variable = lock_variables(appwrite_sdk)[0]
        holder, holder_id = LockInfo.model_validate_json(variable["value"]), variable["$id"]
        assert holder.owner.pid == apply.pid  # the lock is the killed process's own
    finally:
        apply.send_signal(signal.SIGKILL)
        apply.wait()
    assert len(lock_variables(appwrite_sdk)) == 1  # it died holding the lock: nothing released it

    project.functions["api"]["commands"] = "true"
    project.write()
    # No --lock-timeout: a lock still counted as held would fail this apply at once.
    result = fnsync(project, env, "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert "locked by" not in result.stderr
    assert f"taking over the project lock {holder_id} of " in result.stderr and "its process on this machine is gone" in result.stderr
    assert appwrite_sdk.get("api")["commands"] == "true" and appwrite_sdk.get("api")["deployment"]
    assert lock_variables(appwrite_sdk) == []  # taken over, then released by the new apply


def test_a_lock_on_another_machine_is_not_taken_over_and_the_error_gives_the_unlock_command(
    project: Project, env: dict[str, str], local_server: LocalServer, appwrite_sdk: Any
) -> None:
    lock_id = asyncio.run(hold_elsewhere(local_server))
    held = fnsync(project, env, "apply", "--yes")
    assert held.exit_code == 1
    assert f"lock id {lock_id}" in held.stderr
    command = f"fnsync unlock {lock_id} -f {shlex.quote(str(project.path))}"
    assert f"release its lock with: {command}" in " ".join(held.stderr.split())
    assert [v["$id"] for v in lock_variables(appwrite_sdk)] == [lock_id]

    released = run_cli(env, *shlex.split(command)[1:], "--yes")  # the printed command, as the user would paste it
    assert released.exit_code == 0, released.output
    assert f"Released lock {lock_id}" in released.stderr and lock_variables(appwrite_sdk) == []
    assert fnsync(project, env, "apply", "--yes").exit_code == 0


# --- fnsync unlock ----------------------------------------------------------------------------------------------


def test_unlock_refuses_a_wrong_id_and_releases_nothing(env: dict[str, str], local_server: LocalServer, appwrite_sdk: Any) -> None:
    lock_id = asyncio.run(hold_elsewhere(local_server))
    wrong = run_cli(env, "unlock", "0123456789abcdef0123", "--yes")
    assert wrong.exit_code == 1
    assert "0123456789abcdef0123 is not the current lock" in wrong.stderr
    assert "ci@runner-7 (pid 123, GitHub run 456, `fnsync apply`)" in wrong.stderr and f"lock id {lock_id}" in wrong.stderr
    assert "Nothing was released" in wrong.stderr
    assert [v["$id"] for v in lock_variables(appwrite_sdk)] == [lock_id]


def test_unlock_without_a_terminal_needs_yes(env: dict[str, str], local_server: LocalServer, appwrite_sdk: Any) -> None:
    lock_id = asyncio.run(hold_elsewhere(local_server))
    refused = run_cli(env, "unlock", lock_id)
    assert refused.exit_code == 1 and "pass --yes" in refused.stderr
    assert "is held by ci@runner-7" in refused.stderr  # the holder is shown before anything is asked
    assert [v["$id"] for v in lock_variables(appwrite_sdk)] == [lock_id]

    forced = run_cli(env, "unlock", lock_id, "--force")
    assert forced.exit_code == 0 and lock_variables(appwrite_sdk) == []
    again = run_cli(env, "unlock", lock_id, "--yes")  # converges: nothing left to release
    assert again.exit_code == 0 and "not locked" in again.stderr


@pytest.mark.slow
def test_unlock_asks_on_a_terminal_and_does_what_the_answer_says(
    env: dict[str, str], local_server: LocalServer, appwrite_sdk: Any
) -> None:
    lock_id = asyncio.run(hold_elsewhere(local_server))
    code, shown = run_on_terminal([*CLI, "unlock", lock_id], env, "n")
    assert code == 1, shown
    assert "is held by ci@runner-7 (pid 123, GitHub run 456, `fnsync apply`)" in shown and "Release this lock?" in shown
    assert "cannot tell whether pid 123 on runner-7 still runs" in shown
    assert "Unlock cancelled" in shown and [v["$id"] for v in lock_variables(appwrite_sdk)] == [lock_id]

    code, shown = run_on_terminal([*CLI, "unlock", lock_id], env, "y")
    assert code == 0, shown
    assert f"Released lock {lock_id}" in shown and lock_variables(appwrite_sdk) == []


async def test_breaking_a_lock_by_id_never_releases_a_later_holding(local_server: LocalServer) -> None:
    """The id read (and confirmed) names one holding: if it ended meanwhile and someone else took the lock,
    unlocking the old id leaves the new holder's lock alone."""
    async with open_client(local_server) as client:
        first = await acquire(client, ELSEWHERE)
        await first.release(client)
        second = await acquire(client, ELSEWHERE.model_copy(update={"user": "bob"}))
        assert not await break_lock(client, first.lock_id)
        held = await current_lock(client)
        assert held is not None and held.lock_id == second.lock_id and second.lock_id != first.lock_id
        assert await break_lock(client, second.lock_id) and await current_lock(client) is None


def test_an_expired_lock_says_so_when_unlocking(env: dict[str, str], local_server: LocalServer) -> None:
    async def expired() -> str:
        async with open_client(local_server) as client:
            return (await acquire(client, ELSEWHERE, now=lambda: datetime.now(UTC) - timedelta(hours=1))).lock_id

    lock_id = asyncio.run(expired())
    result = run_cli(env, "unlock", lock_id, "--yes")
    assert result.exit_code == 0 and "It has expired" in result.stderr and "Released lock" in result.stderr



# --- is the holder gone? -----------------------------------------------------------------------------------------


def test_a_holder_is_gone_only_when_this_machine_can_tell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = current_owner("fnsync apply")
    alive = subprocess.Popen(["sleep", "60"])
    zombie = subprocess.Popen(["true"])  # exits at once; not reaped until we wait for it
    try:
        live = here.model_copy(update={"pid": alive.pid, "started": process_start(alive.pid) or 0})
        assert live.started and not process_gone(live)
        assert process_gone(live.model_copy(update={"started": live.started + 1}))  # the pid now names another process
        assert not process_gone(live.model_copy(update={"host_id": "another-boot/pid:[1]"}))  # cannot tell: alive
        assert not process_gone(live.model_copy(update={"host": "elsewhere"}))
        wait_until(lambda: (Path("/proc") / str(zombie.pid) / "stat").read_text().split(") ")[1].startswith("Z"), what="a zombie")
        assert process_gone(here.model_copy(update={"pid": zombie.pid, "started": process_start(zombie.pid) or 0}))
        monkeypatch.setattr("syncer.lock_owner.PROC", tmp_path)  # /proc hides other processes (hidepid)
        assert not process_gone(live.model_copy(update={"host_id": ""})) and not process_gone(live)
    finally:
        alive.kill()
        alive.wait()
        zombie.wait()


def test_unlock_warns_when_the_holder_still_runs_on_this_machine(env: dict[str, str], local_server: LocalServer, appwrite_sdk: Any) -> None:
    alive = subprocess.Popen(["sleep", "60"])
    try:
        owner = current_owner("fnsync apply").model_copy(update={"pid": alive.pid, "started": process_start(alive.pid) or 0})
        lock_id = asyncio.run(hold_elsewhere(local_server, owner))
        result = run_cli(env, "unlock", lock_id)
        assert result.exit_code == 1 and f"Its process (pid {alive.pid}) is still running on this machine" in result.stderr
        assert [v["$id"] for v in lock_variables(appwrite_sdk)] == [lock_id]
    finally:
        alive.kill()
        alive.wait()
