"""Helpers the syncer tests share: a project on disk, running the CLI against a server, extra local servers."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from click.testing import CliRunner, Result

from syncer.apply import make_plan
from syncer.cli import cli
from syncer.client import AppwriteClient, Capabilities, ServerVersion
from syncer.manifest import load_manifest
from syncer.manifest.models import Manifest
from syncer.plan import Plan, PlanOptions
from tests.conftest import LocalServer, start_local_server

MAIN_PY = 'def main(context):\n    return context.res.json({"ok": True, "v": %d})\n'


class Project:
    """A manifest and its code folders in a temp dir, rewritten by tests to make one change at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.functions: dict[str, dict[str, Any]] = {}
        self.keep: list[str] = []

    def add(self, fid: str, version: int = 1, **settings: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"name": fid.title(), "runtime": "python-3.12", "path": f"fn/{fid}", "entrypoint": "main.py"}
        data.update(settings)
        self.functions[fid] = data
        self.code(fid, version)
        return data

    def code(self, fid: str, version: int) -> None:
        folder = self.root / "fn" / fid
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "main.py").write_text(MAIN_PY % version)

    @property
    def path(self) -> Path:
        return self.root / "functions.yaml"

    def write(self) -> Path:
        doc: dict[str, Any] = {"version": 1, "functions": self.functions}
        if self.keep:
            doc["prune"] = {"keep": self.keep}
        self.path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return self.path

    def load(self, environ: dict[str, str] | None = None) -> Manifest:
        self.write()
        return load_manifest(self.path, environ=environ or {})


def server_env(server: LocalServer, **extra: str) -> dict[str, str]:
    """The environment that points the CLI at `server` (plus `extra` variables, e.g. values a manifest reads)."""
    return {
        "APPWRITE_ENDPOINT": server.endpoint,
        "APPWRITE_PROJECT_ID": server.project,
        "APPWRITE_API_KEY": server.api_key,
        **extra,
    }


def run_cli(env: Mapping[str, str | None], *argv: str) -> Result:
    """`fnsync ARGV...` in process, with `env` over the process environment (None unsets a variable)."""
    return CliRunner().invoke(cli, list(argv), env=dict(env), catch_exceptions=False)


def fnsync(manifest: Project | Path, env: Mapping[str, str | None], *args: str, root: tuple[str, ...] = ()) -> Result:
    """`fnsync [ROOT...] COMMAND -f MANIFEST ARGS...`; `root` holds the root group's flags (e.g. -vv)."""
    path = manifest.path if isinstance(manifest, Project) else manifest
    return run_cli(env, *root, args[0], "-f", str(path), *args[1:])


@contextmanager
def running_server(data_dir: Path, **overrides: object) -> Iterator[LocalServer]:
    """One more local server (`tests.conftest.start_local_server`), stopped on exit."""
    server, runner = start_local_server(data_dir, **overrides)
    try:
        yield server
    finally:
        runner.stop()


def console(server: LocalServer) -> httpx.Client:
    """What the Appwrite console does to a server: its own response format, with the key (for edits by hand)."""
    fmt = Capabilities.negotiate(ServerVersion.parse(server.config.appwrite_version)).response_format
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key, "X-Appwrite-Response-Format": fmt}
    return httpx.Client(base_url=server.endpoint + "/", headers=headers)


def console_set_variable(server: LocalServer, function_id: str, key: str, value: str) -> None:
    """Change (or add) a variable by hand, keeping whether it is secret."""
    with console(server) as http:
        listed = http.get(f"functions/{function_id}").json()["vars"]
        found = next((v for v in listed if v["key"] == key), None)
        if found is None:
            body: dict[str, Any] = {"key": key, "value": value}
            if Capabilities.negotiate(ServerVersion.parse(server.config.appwrite_version)).variable_id_on_create:
                body["variableId"] = "unique()"
            http.post(f"functions/{function_id}/variables", json=body).raise_for_status()
        else:
            http.put(f"functions/{function_id}/variables/{found['$id']}", json={"key": key, "value": value}).raise_for_status()


def open_client(server: LocalServer) -> AppwriteClient:
    return AppwriteClient(server.endpoint, server.project, server.api_key)


async def plan_of(manifest: Manifest, client: AppwriteClient, **options: Any) -> Plan:
    with tempfile.TemporaryDirectory() as tmp:
        plan, _, _ = await make_plan(manifest, client, PlanOptions(**options), work_dir=Path(tmp))
    return plan


def addresses(plan: Plan) -> list[tuple[str, str]]:
    return [(c.address, c.action.value) for c in plan.changes]


def secret_project(root: Path) -> Project:
    """One function with a sensitive variable (TOKEN from $API_TOKEN) and a plain one (PLAIN = visible-value)."""
    project = Project(root)
    project.add("api", variables={"TOKEN": "${API_TOKEN}", "PLAIN": "visible-value"})
    project.write()
    return project


def run_all(project: Project, env: Mapping[str, str], planfile: Path) -> list[str]:
    """Every command a user might run, returning all stdout and stderr."""
    outputs: list[str] = []
    for root, args in (
        ((), ("plan",)),
        ((), ("plan", "--json")),
        (("-vv",), ("plan", "--out", str(planfile))),
        (("-vv",), ("apply", "--yes")),
        ((), ("plan", "--detailed-exitcode")),
        ((), ("apply", "--yes", "--json")),
    ):
        result = fnsync(project, env, *args, root=root)
        assert result.exit_code == 0, result.output
        outputs += [result.stdout, result.stderr]
    return outputs
