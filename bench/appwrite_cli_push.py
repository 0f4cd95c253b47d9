"""Push one small Python function to a local server with the official Appwrite CLI (appwrite-cli@6.2.3).

Installs the CLI with npm into a temporary prefix (or `FNSYNC_CLI_CACHE` if set, reused across runs),
starts a local server in this process, writes an appwrite.json, runs `appwrite client ...` and
`appwrite push functions --all --force`, then checks that the deployment became `ready` and active.
Prints what it did and how long each step took; exits non-zero on any failure.

    python bench/appwrite_cli_push.py
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console

from localserver.config import ServerConfig
from localserver.server import start_in_thread

CLI_VERSION = "6.2.3"
console = Console()


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    console.print(f"[dim]$ {' '.join(argv[:3])} ... -> exit {result.returncode} in {time.monotonic() - started:.1f}s[/dim]")
    return result


def install_cli(prefix: Path, env: dict[str, str], work: Path) -> Path:
    binary = prefix / "node_modules" / ".bin" / "appwrite"
    if binary.exists():
        console.print(f"appwrite-cli already installed in {prefix}")
        return binary
    prefix.mkdir(parents=True, exist_ok=True)
    result = run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"appwrite-cli@{CLI_VERSION}"], work, env, timeout=600)
    if result.returncode != 0 or not binary.exists():
        raise SystemExit(f"npm install appwrite-cli@{CLI_VERSION} failed:\n{result.stdout}\n{result.stderr}")
    return binary


def write_project(root: Path, project: str) -> None:
    source = root / "functions" / "hello"
    source.mkdir(parents=True)
    (source / "main.py").write_text("def main(context):\n    return context.res.text('hello from the CLI')\n")
    (source / "requirements.txt").write_text("")
    manifest = {
        "projectId": project,
        "projectName": "fnsync bench",
        "functions": [
            {
                "$id": "hello",
                "name": "hello",
                "runtime": "python-3.11",
                "execute": [],
                "events": [],
                "schedule": "",
                "timeout": 15,
                "enabled": True,
                "logging": True,
                "entrypoint": "main.py",
                "commands": "pip install -r requirements.txt",
                "path": "functions/hello",
            }
        ],
    }
    (root / "appwrite.json").write_text(json.dumps(manifest, indent=4))


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="fnsync-cli-bench-"))
    cache = Path(os.environ["FNSYNC_CLI_CACHE"]) if os.environ.get("FNSYNC_CLI_CACHE") else work / "cli"
    env = {**os.environ, "HOME": str(work / "home")}  # the CLI keeps its config under $HOME/.appwrite
    (work / "home").mkdir()
    binary = install_cli(cache, env, work)

    config = ServerConfig(data_dir=work / "server", project_id="bench", api_key=secrets.token_hex(16))
    server = start_in_thread(config)
    console.print(f"local server at {server.endpoint} (project {config.project_id})")
    try:
        project_dir = work / "project"
        project_dir.mkdir()
        write_project(project_dir, config.project_id)
        steps = [
            [str(binary), "client", "--endpoint", server.endpoint, "--project-id", config.project_id, "--key", config.api_key],
            [str(binary), "push", "functions", "--all", "--force"],
        ]
        for argv in steps:
            result = run(argv, project_dir, env)
            shown = (result.stdout + result.stderr).replace(config.api_key, "<key>")
            console.print(shown.strip() or "(no output)", markup=False, highlight=False)
            if result.returncode != 0:
                console.print(f"[red]step failed: {argv[1]}[/red]")
                return 1
        headers = {"X-Appwrite-Project": config.project_id, "X-Appwrite-Key": config.api_key}
        with httpx.Client(base_url=server.endpoint, headers=headers, timeout=30) as client:
            deployments = client.get("/functions/hello/deployments").json()
            if deployments.get("total", 0) < 1:
                console.print(f"[red]no deployment was created: {deployments}[/red]")
                return 1
            latest = deployments["deployments"][-1]
            deadline = time.monotonic() + 120
            while latest["status"] not in ("ready", "failed", "canceled") and time.monotonic() < deadline:
                time.sleep(0.5)
                latest = client.get(f"/functions/hello/deployments/{latest['$id']}").json()
            function = client.get("/functions/hello").json()
        console.print(f"deployment {latest['$id']}: type={latest['type']} status={latest['status']} size={latest['size']}")
        if latest["status"] != "ready" or function.get("deployment") != latest["$id"]:
            console.print(f"[red]deployment is not ready and active[/red]\n{latest.get('buildLogs', '')}")
            return 1
        console.print("[green]appwrite push functions: deployment ready and active[/green]")
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
