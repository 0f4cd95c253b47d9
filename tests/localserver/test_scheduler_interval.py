"""Cloud 2.5 `interval` schedules (minutes, instead of a cron `schedule`), driven by the test-only ManualClock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx

from localserver import ServerConfig
from localserver.scheduler import ManualClock, next_time, timing_of
from tests.conftest import LocalServer, _ThreadedUvicorn
from tests.functions.deploy import deploy
from tests.functions.harness import app_context, finished, sdk
from tests.helpers import wait_until

import pytest
pytestmark = pytest.mark.slow

START = datetime(2030, 1, 1, 12, 0, 30, tzinfo=timezone.utc)


def test_timing_prefers_schedule_then_interval() -> None:
    assert timing_of({"schedule": "* * * * *", "interval": 5}) == "* * * * *"
    assert next_time(timing_of({"schedule": "", "interval": 5}), START) == datetime(2030, 1, 1, 12, 5, 30, tzinfo=timezone.utc)
    assert timing_of({"schedule": "", "interval": None}) == ""


def test_interval_runs_every_n_minutes_on_cloud(tmp_path: Path) -> None:
    clock = ManualClock(START)
    config = ServerConfig(data_dir=tmp_path / "data", project_id="test", api_key="k" * 32, appwrite_version="2.5.0")
    runner = _ThreadedUvicorn(config)
    app_context(runner).services.update(clock=clock)
    runner.start()
    try:
        server = LocalServer(f"http://127.0.0.1:{runner.port}/v1", "test", config.api_key, config.data_dir, config)
        headers = {"X-Appwrite-Project": "test", "X-Appwrite-Key": config.api_key}
        count = tmp_path / "count.txt"
        with httpx.Client(base_url=server.endpoint, headers=headers) as raw:
            created = raw.post("/functions", json={"functionId": "tick", "name": "tick", "runtime": "python-3.12", "entrypoint": "main.py", "interval": 2})
            assert created.status_code == 201 and created.json()["interval"] == 2
            raw.post("/functions/tick/variables", json={"variableId": "unique()", "key": "COUNT_FILE", "value": str(count), "secret": False})
        functions = sdk(server)
        deploy(functions, "tick", "python-misc", "main.py")
        store = app_context(runner).store
        state = wait_until(lambda: store.get("meta", "scheduler:tick"), what="interval armed")
        assert state["next"] == "2030-01-01T12:02:30.000+00:00"
        clock.advance(60)
        assert functions.list_executions("tick")["total"] == 0
        clock.advance(60)
        first = wait_until(lambda: functions.list_executions("tick")["executions"], what="first interval run")
        assert first[0]["trigger"] == "schedule"
        finished(functions, "tick", first[0]["$id"])
    finally:
        runner.stop()
