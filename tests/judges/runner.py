"""Run a Python script under one official Appwrite SDK (a `tests/judges/install.py` target dir) against a server.

The SDKs conflict with each other and with the project's own pin, so each runs in a subprocess with
PYTHONPATH=<its dir>. In CI (env CI=true) a judge that is not installed fails the test; elsewhere it skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.judges.install import CLIS, SDKS, cli_binary, sdk_dir

PRELUDE = """
import io, json, os, sys, tarfile, time
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.functions import Functions

def make_client(key=True):
    made = Client().set_endpoint(os.environ["JUDGE_ENDPOINT"]).set_project(os.environ["JUDGE_PROJECT"])
    return made.set_key(os.environ["JUDGE_KEY"]) if key else made

client = make_client()
functions = Functions(client)
called = set()

def _plain(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, bytes):
        return {"bytes": len(value)}
    return value if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)

def emit(name, value):
    print("JUDGE " + json.dumps([name, _plain(value)], default=_plain), flush=True)
    return value

def call(method, *args, service=None, **kwargs):
    \"\"\"Call Functions.<method>, note it as driven, emit what it answered (or the Appwrite error).\"\"\"
    called.add(method)
    try:
        result = getattr(service or functions, method)(*args, **kwargs)
    except AppwriteException as error:
        emit(method, {"error": error.type, "code": error.code})
        raise
    return emit(method, result)

def archive():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"def main(context):\\n    return context.res.text('hi')\\n"
        info = tarfile.TarInfo("main.py"); info.size = len(data); tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()

def field(model, name):
    return model[name] if isinstance(model, dict) else getattr(model, name)

def wait_status(function_id, deployment_id, states=("ready", "failed", "canceled")):
    for _ in range(300):
        got = functions.get_deployment(function_id, deployment_id)
        status = field(got, "status")
        status = getattr(status, "value", status)
        if status in states:
            return got
        time.sleep(0.2)
    raise SystemExit("deployment never finished building")

def finish():
    emit("methods", sorted(n for n in dir(Functions) if not n.startswith("_")))
    emit("called", sorted(called))
"""


def _missing(what: str) -> None:
    message = f"{what} is not installed: run `python tests/judges/install.py`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_sdk(version: str) -> Path:
    assert version in SDKS, version
    target = sdk_dir(version)
    if not (target / ".installed").exists():
        _missing(f"appwrite {version} (PyPI)")
    return target


def require_cli(version: str) -> Path:
    assert version in CLIS, version
    binary = cli_binary(version)
    if not binary.exists():
        _missing(f"appwrite-cli {version} (npm)")
    return binary


@dataclass
class JudgeRun:
    returncode: int
    stdout: str
    stderr: str
    emitted: dict[str, Any]

    def check(self) -> JudgeRun:
        assert self.returncode == 0, f"judge script failed ({self.returncode}):\n{self.stdout}\n{self.stderr}"
        return self


def run_sdk(version: str, script: str, endpoint: str, project: str, key: str, timeout: float = 180) -> JudgeRun:
    """Run `script` (PRELUDE gives it `client` and `emit(name, value)`) under appwrite==version; values it emitted."""
    target = require_sdk(version)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")},
        "PYTHONPATH": str(target), "JUDGE_ENDPOINT": endpoint, "JUDGE_PROJECT": project, "JUDGE_KEY": key,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    code = PRELUDE + textwrap.dedent(script)
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); exec(compile({code!r}, 'judge', 'exec'))"],
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)
    emitted: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith("JUDGE "):
            name, value = json.loads(line[6:])
            emitted[name] = value
    return JudgeRun(done.returncode, done.stdout, done.stderr, emitted)
