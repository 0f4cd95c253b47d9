"""Cron schedules and scheduledAt executions, driven by the test-only ManualClock (no wall-clock waits)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from croniter import croniter

from localserver.sandbox import run_root_for
from localserver.scheduler import ManualClock, next_time
from tests.functions.deploy import create_and_deploy, deploy
from tests.functions.harness import finished, sdk, server_at
from tests.helpers import wait_until

import pytest
pytestmark = pytest.mark.slow

START = datetime(2030, 1, 1, 12, 0, 30, tzinfo=timezone.utc)


def runs(count_file: Path) -> list[str]:
    return count_file.read_text().split() if count_file.exists() else []


def count_file(data: Path, function_id: str, deployment_id: str) -> Path:
    """Where the function's `COUNT_FILE=count.txt` lands: functions are sandboxed, so they can write only in
    their deployment's private copy (docs/sandbox.md), and that is where the test reads the count."""
    return run_root_for(data) / "functions" / function_id / deployment_id / "code" / "count.txt"


def test_next_time_is_utc_cron() -> None:
    assert next_time("*/15 * * * *", START) == datetime(2030, 1, 1, 12, 15, tzinfo=timezone.utc)
    assert croniter.is_valid("@hourly")


def test_cron_schedule_fires_once_per_tick(tmp_path: Path) -> None:
    clock = ManualClock(START)
    with server_at(tmp_path / "data", clock=clock) as (server, runner):
        functions = sdk(server)
        functions.create("cron", "cron", "python-3.12", entrypoint="main.py", schedule="* * * * *")
        functions.create_variable("cron", "COUNT_FILE", "count.txt")
        count = count_file(tmp_path / "data", "cron", deploy(functions, "cron", "python-misc", "main.py"))
        store = runner.server.config.app.state.ctx.store
        state = wait_until(lambda: store.get("meta", "scheduler:cron"), what="schedule armed")
        assert state["next"] == "2030-01-01T12:01:00.000+00:00"
        assert functions.list_executions("cron")["total"] == 0
        clock.advance(60)
        first = wait_until(lambda: functions.list_executions("cron")["executions"], what="first scheduled run")
        assert first[0]["trigger"] == "schedule" and first[0]["requestMethod"] == "POST" and first[0]["requestPath"] == "/"
        finished(functions, "cron", first[0]["$id"])
        clock.advance(1)  # still the same minute: nothing new
        clock.advance(60)
        wait_until(lambda: functions.list_executions("cron")["total"] == 2, what="second run")
        execution_ids = [e["$id"] for e in functions.list_executions("cron")["executions"]]
        for execution_id in execution_ids:
            finished(functions, "cron", execution_id)
        assert runs(count) == ["schedule", "schedule"]


def test_schedule_needs_an_active_deployment(tmp_path: Path) -> None:
    clock = ManualClock(START)
    with server_at(tmp_path / "data", clock=clock) as (server, runner):
        functions = sdk(server)
        functions.create("idle", "idle", "python-3.12", entrypoint="main.py", schedule="* * * * *")
        scheduler = runner.server.config.app.state.ctx.services["scheduler"]
        clock.advance(120)
        wait_until(lambda: scheduler.clock.now() == clock.now(), what="clock")
        assert scheduler.tick() == []
        assert functions.list_executions("idle")["total"] == 0


def test_scheduled_at_runs_on_time(tmp_path: Path) -> None:
    clock = ManualClock(START)
    with server_at(tmp_path / "data", clock=clock) as (server, _):
        functions = sdk(server)
        create_and_deploy(functions, "later", "python-3.12", "python-misc", "main.py")
        when = (START + timedelta(minutes=3)).replace(second=0)
        created = functions.create_execution("later", xasync=True, scheduled_at=when.isoformat())
        assert created["status"] == "scheduled"
        clock.advance(60)
        assert functions.get_execution("later", created["$id"])["status"] == "scheduled"
        clock.advance(120)
        done = finished(functions, "later", created["$id"])
        assert done["status"] == "completed" and done["trigger"] == "schedule"


def test_deleting_a_scheduled_execution_cancels_it(tmp_path: Path) -> None:
    clock = ManualClock(START)
    with server_at(tmp_path / "data", clock=clock) as (server, runner):
        functions = sdk(server)
        functions.create("gone", "gone", "python-3.12", entrypoint="main.py")
        functions.create_variable("gone", "COUNT_FILE", "count.txt")
        count = count_file(tmp_path / "data", "gone", deploy(functions, "gone", "python-misc", "main.py"))
        created = functions.create_execution("gone", xasync=True, scheduled_at=(START + timedelta(minutes=2)).replace(second=0).isoformat())
        functions.delete_execution("gone", created["$id"])
        clock.advance(600)
        scheduler = runner.server.config.app.state.ctx.services["scheduler"]
        assert scheduler.tick() == []
        assert runs(count) == [] and functions.list_executions("gone")["total"] == 0


def test_due_scheduled_execution_runs_exactly_once_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    when = (START + timedelta(minutes=2)).replace(second=0)
    with server_at(data, clock=ManualClock(START)) as (server, _):
        functions = sdk(server)
        functions.create("once", "once", "python-3.12", entrypoint="main.py")
        functions.create_variable("once", "COUNT_FILE", "count.txt")
        count = count_file(data, "once", deploy(functions, "once", "python-misc", "main.py"))
        created = functions.create_execution("once", xasync=True, scheduled_at=when.isoformat())
    # the server was down when it fell due; it runs when the server comes back ...
    with server_at(data, clock=ManualClock(START + timedelta(minutes=5))) as (server, _):
        functions = sdk(server)
        done = finished(functions, "once", created["$id"])
        assert done["status"] == "completed"
    # ... and never again on later restarts
    with server_at(data, clock=ManualClock(START + timedelta(minutes=10))) as (server, runner):
        functions = sdk(server)
        assert runner.server.config.app.state.ctx.services["scheduler"].tick() == []
        assert functions.get_execution("once", created["$id"])["status"] == "completed"
    assert runs(count) == ["schedule"]
