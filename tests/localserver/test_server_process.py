"""`fnsync local-server` as a real process: printed endpoint, persisted key and state, clean SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from localserver.server import ensure_api_key, find_running
from tests.helpers import wait_until

pytestmark = pytest.mark.slow

FNSYNC = [sys.executable, "-c", "from syncer.cli import main; main()"]


class Proc:
    """A server subprocess whose stdout is collected by a reader thread (so we never block on it)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:  # closed at EOF (the process ended), so no unclosed-pipe warning later
            for line in self.process.stdout:
                self.lines.append(line)

    def field(self, name: str) -> str:
        def probe() -> str | None:
            for line in list(self.lines):
                match = re.match(rf"\s*{name}:\s+(\S+)", line)
                if match:
                    return match.group(1)
            assert self.process.poll() is None, "".join(self.lines)
            return None

        return wait_until(probe, timeout=30, what=f"{name} line")


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait(timeout=10)


def start(procs: list[Proc], data: Path, *extra: str, env: dict[str, str] | None = None) -> Proc:
    proc = Proc([*FNSYNC, "local-server", "--port", "0", "--data", str(data), *extra], env=env)
    procs.append(proc)
    return proc


def test_state_and_key_survive_sigkill_and_sigterm_is_clean(tmp_path: Path, procs: list[Proc]) -> None:
    data = tmp_path / "local"
    first = start(procs, data)
    endpoint, project, key = first.field("Endpoint"), first.field("Project ID"), first.field("API key")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", endpoint) and not endpoint.endswith(":0/v1")
    assert project == "local"
    assert (data / "api-key").stat().st_mode & 0o777 == 0o600
    headers = {"X-Appwrite-Project": project, "X-Appwrite-Key": key}
    created = httpx.post(f"{endpoint}/functions", headers=headers, json={"functionId": "keep", "name": "Keep", "runtime": "python-3.12"})
    assert created.status_code == 201
    # `fnsync local-server` answers as 1.9.6 by default: variables need a `variableId` there.
    assert httpx.get(f"{endpoint}/health/version").json() == {"version": "1.9.6"}
    variable = httpx.post(f"{endpoint}/functions/keep/variables", headers=headers, json={"variableId": "unique()", "key": "K", "value": "v"})
    assert variable.status_code == 201, variable.text
    running = find_running(data)
    assert running is not None and running["endpoint"] == endpoint and running["pid"] == first.process.pid

    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    assert find_running(data) is None  # stale discovery file: pid gone

    second = start(procs, data)
    endpoint2, key2 = second.field("Endpoint"), second.field("API key")
    assert key2 == key
    body = httpx.get(f"{endpoint2}/functions/keep", headers=headers).json()
    assert body["name"] == "Keep" and [v["key"] for v in body["vars"]] == ["K"]

    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(timeout=30) == 0
    assert not (data / "server.json").exists()


def test_explicit_key_from_env_and_python_dash_m(tmp_path: Path, procs: list[Proc]) -> None:
    env = {**os.environ, "FNSYNC_LOCAL_API_KEY": "secret-from-env", "FNSYNC_LOCAL_APPWRITE_VERSION": "1.6.2"}
    proc = Proc([sys.executable, "-m", "localserver", "--port", "0", "--data", str(tmp_path / "d"), "--project", "demo", "--runtimes", "python-3.12"], env=env)
    procs.append(proc)
    endpoint = proc.field("Endpoint")
    assert proc.field("API key") == "secret-from-env" and proc.field("Project ID") == "demo"
    assert httpx.get(f"{endpoint}/health/version").json() == {"version": "1.6.2"}
    # 1.6.2: the runtimes list takes the API key (scope functions.read).
    runtimes = httpx.get(f"{endpoint}/functions/runtimes", headers={"X-Appwrite-Project": "demo", "X-Appwrite-Key": "secret-from-env"}).json()
    assert runtimes["total"] == 1
    proc.process.send_signal(signal.SIGINT)
    assert proc.process.wait(timeout=30) == 0


@pytest.mark.parametrize("args", [["--runtimes", "cobol-1"], ["--project", "console"], ["--port", "99999"], ["--appwrite-version", "1.7.0"]])
def test_bad_flags_exit_1(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from syncer.cli import main

    with pytest.raises(SystemExit) as info:
        main(["local-server", "--data", str(tmp_path), *args])
    assert info.value.code == 1
    assert "Invalid value" in capsys.readouterr().err
    assert not (tmp_path / "server.json").exists()


def test_ensure_api_key_generates_once(tmp_path: Path) -> None:
    key = ensure_api_key(tmp_path, None)
    assert ensure_api_key(tmp_path, None) == key and len(key) > 32
    assert ensure_api_key(tmp_path, "given") == "given"
    assert ensure_api_key(tmp_path, None) == key
