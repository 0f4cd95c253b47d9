"""Benchmark: fnsync vs the Appwrite CLI pushing 100 functions with 5 variables each to a local server.

    python bench/sync_bench.py [--functions 100] [--variables 5] [--appwrite-version 1.9.6 ...] [--no-cli]

(BENCH_CLI_OUTPUT=1 shows the tail of every CLI run; it is shown anyway when a run reports an error.)

Runs once per `--appwrite-version` (default: 1.6.2 and 1.9.6), the local server answering as that Appwrite with
its function-creation limit off. fnsync: first apply, no-op plan, no-op apply, one-function code change (wall
time; reads and writes counted by the client). Appwrite CLI, the release made for that server (6.2.3 for 1.6,
12.0.1 for 1.8/1.9; installed by tests/judges/install.py into .cache/judges/): `appwrite push functions --all
--force --with-variables` with an equivalent project file, first push and an unchanged re-push, requests counted
by a pass-through proxy. Both run against the same server (the CLI's functions get a `cli-` prefix).
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from localserver.config import ServerConfig  # noqa: E402
from localserver.server import start_in_thread  # noqa: E402
from syncer.apply import make_plan, reconcile  # noqa: E402
from syncer.client import AppwriteClient  # noqa: E402
from syncer.manifest import load_manifest  # noqa: E402
from syncer.plan import PlanOptions  # noqa: E402
from tests.faultproxy import FaultProxy  # noqa: E402
from tests.judges.install import cli_binary  # noqa: E402
from tests.judges.install import install_cli as judges_install_cli  # noqa: E402

# The Appwrite CLI release made for each server line (NEWER-SERVERS.md §12: 12.0.1 targets 1.8.x).
CLI_FOR_SERVER = {"1.6.2": "6.2.3", "1.8.1": "12.0.1", "1.9.6": "12.0.1", "2.5.0": "12.0.1"}
MAIN_PY = 'def main(context):\n    return context.res.json({"fn": "%s", "v": %d})\n'


def make_project(root: Path, count: int, variables: int, prefix: str = "") -> list[str]:
    ids = [f"{prefix}fn-{i:03d}" for i in range(count)]
    functions = {}
    for fid in ids:
        folder = root / "functions" / fid
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "main.py").write_text(MAIN_PY % (fid, 1))
        functions[fid] = {
            "name": fid,
            "runtime": "python-3.12",
            "path": f"functions/{fid}",
            "entrypoint": "main.py",
            "execute": ["any"],
            "timeout": 30,
            "variables": {f"VAR_{k}": f"value-{k}" for k in range(variables)},
        }
    import yaml

    (root / "functions.yaml").write_text(yaml.safe_dump({"version": 1, "functions": functions}, sort_keys=False))
    return ids


def row(label: str, seconds: float, reads: int, writes: int) -> str:
    return f"  {label:<28} {seconds:8.2f} s   {reads:6d} reads   {writes:6d} writes"


async def bench_fnsync(endpoint: str, project: str, key: str, root: Path, count: int, variables: int) -> dict[str, float]:
    make_project(root, count, variables)
    manifest = load_manifest(root / "functions.yaml", environ={})
    timings: dict[str, float] = {}
    print(f"fnsync ({count} functions x {variables} variables):")
    async with AppwriteClient(endpoint, project, key) as client:

        async def measure(label: str, coro_factory) -> None:  # type: ignore[no-untyped-def]
            client.stats.reset()
            start = time.perf_counter()
            result = await coro_factory()
            elapsed = time.perf_counter() - start
            timings[label] = elapsed
            ok = getattr(result, "ok", True)
            print(row(label, elapsed, client.stats.reads, client.stats.writes) + ("" if ok else "   (FAILED)"))

        async def plan_only():  # type: ignore[no-untyped-def]
            with tempfile.TemporaryDirectory() as tmp:
                plan, _, _ = await make_plan(manifest, client, PlanOptions(), work_dir=Path(tmp))
            assert not plan.has_changes, plan
            return plan

        await measure("first apply", lambda: reconcile(manifest, client))
        await measure("no-op plan", plan_only)
        await measure("no-op apply", lambda: reconcile(manifest, client))
        (root / "functions" / "fn-000" / "main.py").write_text(MAIN_PY % ("fn-000", 2))
        await measure("one-function code change", lambda: reconcile(manifest, client))
    return timings


def install_cli(version: str) -> Path | None:
    binary = cli_binary(version)
    if binary.exists():
        return binary
    if shutil.which("npm") is None:
        print("  npm not found: skipping the Appwrite CLI")
        return None
    try:
        judges_install_cli(version)
    except (subprocess.CalledProcessError, SystemExit) as exc:
        print(f"  npm install appwrite-cli@{version} failed: {exc}")
        return None
    return binary if binary.exists() else None


def bench_cli(
    binary: Path, version: str, endpoint: str, project: str, key: str, root: Path, count: int, variables: int
) -> dict[str, float]:
    ids = make_project(root, count, variables, prefix="cli-")
    for fid in ids:  # CLI 12 reads variables from `<path>/.env` (6.x from `vars`)
        lines = [f"VAR_{k}=value-{k}" for k in range(variables)]
        (root / "functions" / fid / ".env").write_text("\n".join(lines) + "\n")
    appwrite_json = {
        "projectId": project,
        "endpoint": endpoint,
        "functions": [
            {
                "$id": fid,
                "name": fid,
                "runtime": "python-3.12",
                "execute": ["any"],
                "events": [],
                "schedule": "",
                "timeout": 30,
                "enabled": True,
                "logging": True,
                "entrypoint": "main.py",
                "commands": "",
                "path": f"functions/{fid}",
                "vars": [{"key": f"VAR_{k}", "value": f"value-{k}"} for k in range(variables)],
            }
            for fid in ids
        ],
    }
    config_name = "appwrite.json" if version.startswith("6.") else "appwrite.config.json"
    home = root / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "NO_COLOR": "1", "CI": "1"}
    timings: dict[str, float] = {}
    print(f"Appwrite CLI {version} (`appwrite push functions --all --force --with-variables`):")
    with FaultProxy(endpoint) as proxy:
        # The project file's endpoint wins over `appwrite client` in CLI 12: both name the counting proxy.
        (root / config_name).write_text(json.dumps({**appwrite_json, "endpoint": proxy.endpoint}, indent=2))
        setup = subprocess.run(
            [str(binary), "client", "--endpoint", proxy.endpoint, "--project-id", project, "--key", key],
            cwd=root, env=env, capture_output=True, text=True,
        )
        if setup.returncode != 0:
            print(f"  appwrite client failed: {setup.stdout[-1500:]} {setup.stderr[-300:]}")
            return timings
        # CLI 12 creates a function, then asks `GET /console/variables`, which needs a console session: with an API
        # key the first push stops there ("Session not found"; it still exits 0), and a second push deploys.
        labels = ("first push", "unchanged re-push") if version.startswith("6.") else ("first push", "second push", "unchanged re-push")
        for label in labels:
            before = len(proxy.events)
            start = time.perf_counter()
            done = subprocess.run(
                [str(binary), "push", "functions", "--all", "--force", "--with-variables"],
                cwd=root, env=env, capture_output=True, text=True,
            )
            elapsed = time.perf_counter() - start
            events = proxy.events[before:]
            reads = sum(1 for e in events if e.method in ("GET", "HEAD"))
            timings[label] = elapsed
            output = (done.stderr + done.stdout).strip()
            failed = done.returncode != 0 or not events or "Error" in output
            status = f"   (exit {done.returncode}: {output[-300:]})" if failed or os.environ.get("BENCH_CLI_OUTPUT") else ""
            print(row(label, elapsed, reads, len(events) - reads) + status)
    return timings


async def bench_version(version: str, base: Path, args: argparse.Namespace) -> None:
    print(f"== local server as Appwrite {version} ==")
    key = "standard_" + "b" * 64
    config = ServerConfig(data_dir=base / "server", project_id="bench", api_key=key, appwrite_version=version)
    server = start_in_thread(config)
    try:
        ours = await bench_fnsync(server.endpoint, "bench", key, base / "fnsync", args.functions, args.variables)
        if args.no_cli:
            return
        cli_version = CLI_FOR_SERVER[version]
        binary = await asyncio.to_thread(install_cli, cli_version)
        if binary is None:
            return
        theirs = await asyncio.to_thread(
            bench_cli, binary, cli_version, server.endpoint, "bench", key, base / "cli", args.functions, args.variables
        )
        if "first push" in theirs:
            first_deploy = theirs["first push"] + theirs.get("second push", 0.0)
            print("Ratios (Appwrite CLI time / fnsync time):")
            print(f"  first deploy:     {first_deploy / ours['first apply']:6.1f}x")
            if "unchanged re-push" in theirs:
                print(f"  nothing changed:  {theirs['unchanged re-push'] / ours['no-op apply']:6.1f}x")
    finally:
        server.stop()


async def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the embedded server's logging setup would show every request
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=100)
    parser.add_argument("--variables", type=int, default=5)
    parser.add_argument(
        "--appwrite-version", action="append", choices=sorted(CLI_FOR_SERVER), dest="versions",
        help="the Appwrite the local server answers as (repeatable; default: 1.6.2 and 1.9.6)",
    )  # fmt: skip
    parser.add_argument("--no-cli", action="store_true", help="skip the Appwrite CLI comparison")
    args = parser.parse_args()
    for version in args.versions or ["1.6.2", "1.9.6"]:
        with tempfile.TemporaryDirectory(prefix="fnsync-bench-") as tmp:
            await bench_version(version, Path(tmp), args)


if __name__ == "__main__":
    asyncio.run(main())
