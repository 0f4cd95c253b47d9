"""Push one small Python function to a local server with the official Appwrite CLI and time each step.

Default: appwrite-cli 6.2.3 against the 1.6.2 emulation; `--cli 12.0.1 --appwrite-version 1.9.6` for today's pair
(CLI 12 creates functions only with a console session, so the function is created through the API first).
The CLI comes from the judges cache (`python tests/judges/install.py --npm`) and is installed there if missing.
Starts a local server in this process, runs `appwrite client ...` and `appwrite push functions --all --force`,
then checks that the deployment became `ready` and active. Prints what it did and how long each step took;
exits non-zero on any failure.

    python bench/appwrite_cli_push.py [--cli 12.0.1] [--appwrite-version 1.9.6]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localserver.config import ServerConfig  # noqa: E402
from localserver.server import start_in_thread  # noqa: E402
from tests.judges.cli import push_functions, write_project  # noqa: E402
from tests.judges.install import CLIS, cli_binary, install_cli  # noqa: E402

console = Console()


def main() -> int:
    parser = argparse.ArgumentParser(description="Time `appwrite push functions` against the local server.")
    parser.add_argument("--cli", default="6.2.3", choices=CLIS, help="appwrite-cli version (default 6.2.3)")
    parser.add_argument("--appwrite-version", default="1.6.2", help="version the local server emulates (default 1.6.2)")
    args = parser.parse_args()
    install_cli(args.cli)
    binary = cli_binary(args.cli)
    work = Path(tempfile.mkdtemp(prefix="fnsync-cli-bench-"))
    config = ServerConfig(data_dir=work / "server", project_id="bench", api_key=secrets.token_hex(16), appwrite_version=args.appwrite_version)
    server = start_in_thread(config)
    console.print(f"local server {args.appwrite_version} at {server.endpoint} (project {config.project_id}), appwrite-cli {args.cli}")
    headers = {"X-Appwrite-Project": config.project_id, "X-Appwrite-Key": config.api_key}
    try:
        project_dir = work / "project"
        function = write_project(project_dir, config.project_id)
        with httpx.Client(base_url=server.endpoint, headers=headers, timeout=30) as client:
            if args.cli != "6.2.3":
                client.post("/functions", json={"functionId": function["$id"], "name": function["name"], "runtime": function["runtime"]})
            for run in push_functions(binary, project_dir, work / "home", server.endpoint, config.project_id, config.api_key):
                console.print(f"[dim]$ appwrite {' '.join(run.argv[1:3])} ... -> exit {run.returncode} in {run.seconds:.1f}s[/dim]")
                console.print(run.output.strip() or "(no output)", markup=False, highlight=False)
                if run.returncode != 0:
                    console.print("[red]step failed[/red]")
                    return 1
            deployments = client.get("/functions/hello/deployments").json()
            if deployments.get("total", 0) < 1:
                console.print(f"[red]no deployment was created: {deployments}[/red]")
                return 1
            latest = deployments["deployments"][-1]
            deadline = time.monotonic() + 120
            while latest["status"] not in ("ready", "failed", "canceled") and time.monotonic() < deadline:
                time.sleep(0.5)
                latest = client.get(f"/functions/hello/deployments/{latest['$id']}").json()
            active = client.get("/functions/hello").json()
        active_id = active.get("deploymentId", active.get("deployment"))
        console.print(f"deployment {latest['$id']}: type={latest['type']} status={latest['status']}")
        if latest["status"] != "ready" or active_id != latest["$id"]:
            console.print(f"[red]deployment is not ready and active[/red]\n{latest.get('buildLogs', '')}")
            return 1
        console.print("[green]appwrite push functions: deployment ready and active[/green]")
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
