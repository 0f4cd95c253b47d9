"""Drive the official Appwrite CLI (npm `appwrite-cli`) against a local server: `client`, then `push functions`.

Shared by tests/judges/test_cli.py and bench/appwrite_cli_push.py. The CLI keeps its login in $HOME/.appwrite,
so every run gets its own HOME. Only an API key is configured: CLI 12 creates functions only with a console
session (`appwrite login`), so callers that use CLI 12 create the function through the API first.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAIN_PY = "def main(context):\n    return context.res.text('hello from the CLI')\n"


@dataclass
class CliRun:
    argv: list[str]
    returncode: int
    output: str
    seconds: float


def write_project(root: Path, project: str, function_id: str = "hello", runtime: str = "python-3.11") -> dict[str, Any]:
    """A project folder with one Python function and an appwrite.json (the file both CLI 6 and 12 read)."""
    source = root / "functions" / function_id
    source.mkdir(parents=True)
    (source / "main.py").write_text(MAIN_PY)
    (source / "requirements.txt").write_text("")
    function = {
        "$id": function_id, "name": function_id, "runtime": runtime, "execute": [], "events": [], "schedule": "",
        "timeout": 15, "enabled": True, "logging": True, "entrypoint": "main.py",
        "commands": "pip install -r requirements.txt", "path": f"functions/{function_id}",
    }
    (root / "appwrite.json").write_text(json.dumps({"projectId": project, "projectName": "fnsync", "functions": [function]}, indent=4))
    return function


def run_cli(binary: Path, args: list[str], cwd: Path, home: Path, secret: str, timeout: float = 300) -> CliRun:
    """One CLI command; its combined output with `secret` (the API key) masked."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "NO_COLOR": "1", "CI": "true"}
    started = time.monotonic()
    done = subprocess.run([str(binary), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    output = (done.stdout + done.stderr).replace(secret, "<key>")
    return CliRun([str(binary), *args], done.returncode, output, time.monotonic() - started)


def push_functions(binary: Path, project_dir: Path, home: Path, endpoint: str, project: str, key: str) -> list[CliRun]:
    """`appwrite client --endpoint --project-id --key`, then `appwrite push functions --all --force`; stops at a failure."""
    runs = [run_cli(binary, ["client", "--endpoint", endpoint, "--project-id", project, "--key", key], project_dir, home, key)]
    if runs[-1].returncode == 0:
        runs.append(run_cli(binary, ["push", "functions", "--all", "--force"], project_dir, home, key))
    return runs
