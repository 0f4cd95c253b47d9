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
import json, os, sys
from appwrite.client import Client
client = Client()
client.set_endpoint(os.environ["JUDGE_ENDPOINT"]).set_project(os.environ["JUDGE_PROJECT"]).set_key(os.environ["JUDGE_KEY"])
def emit(name, value):
    print("JUDGE " + json.dumps([name, value], default=lambda o: o.to_dict() if hasattr(o, "to_dict") else repr(o)), flush=True)
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
