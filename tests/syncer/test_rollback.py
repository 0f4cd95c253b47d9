"""`fnsync deployments` and `fnsync rollback` against the real local server, with history made by fnsync and by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncer.client.models import Deployment
from syncer.history import source_of
from syncer.reserved import LOCK_FUNCTION_ID
from tests.conftest import LocalServer
from tests.localserver.support import MAIN_PY, make_archive, upload, wait_built
from tests.syncer.support import Project, fnsync, run_cli, running_server, server_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server for the module: the history below takes seconds of builds to make, so it is made once."""
    with running_server(tmp_path_factory.mktemp("rollback") / "server-data") as server:
        yield server


@pytest.fixture(scope="module")
def sdk(server: LocalServer) -> Any:
    from appwrite.client import Client
    from appwrite.services.functions import Functions

    return Functions(Client().set_endpoint(server.endpoint).set_project(server.project).set_key(server.api_key))


@pytest.fixture(scope="module")
def env(server: LocalServer) -> dict[str, str]:
    return server_env(server)


def apply_ok(project: Project, env: dict[str, str]) -> None:
    project.write()
    result = fnsync(project, env, "apply", "--yes")
    assert result.exit_code == 0, result.output


def cli_upload(server: LocalServer, function_id: str, commands: str) -> str:
    """An upload as the Appwrite CLI sends it (x-sdk-language: cli), so Appwrite types it `cli`."""
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key, "x-sdk-language": "cli"}
    with httpx.Client(base_url=server.endpoint, headers=headers, timeout=30) as http:
        response = http.post(
            f"/functions/{function_id}/deployments",
            data={"activate": "false", "commands": commands},
            files={"code": ("code.tar.gz", make_archive({"main.py": MAIN_PY}), "application/gzip")},
        )
    response.raise_for_status()
    return str(response.json()["$id"])


@dataclass
class History:
    project: Project
    v1: str
    v2: str
    manual: str
    failed: str
    v3: str
    other: str


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str], sdk: Any, server: LocalServer) -> History:
    """api: v1, v2 (fnsync), a manual upload (ready), a cli upload whose build failed, v3 (fnsync, active)."""
    appwrite_sdk, local_server = sdk, server
    p = Project(tmp_path_factory.mktemp("rollback") / "project")
    p.add("api")
    p.add("other")
    apply_ok(p, env)
    v1 = appwrite_sdk.get("api")["deployment"]
    p.code("api", 2)
    apply_ok(p, env)
    v2 = appwrite_sdk.get("api")["deployment"]
    manual = upload(appwrite_sdk, "api", activate=False, entrypoint="main.py")["$id"]
    assert wait_built(appwrite_sdk, "api", manual)["status"] == "ready"
    failed = cli_upload(local_server, "api", "exit 3")
    assert wait_built(appwrite_sdk, "api", failed)["status"] == "failed"
    p.code("api", 3)
    apply_ok(p, env)
    v3 = appwrite_sdk.get("api")["deployment"]
    assert len({v1, v2, manual, failed, v3}) == 5
    return History(p, v1, v2, manual, failed, v3, appwrite_sdk.get("other")["deployment"])


@pytest.fixture
def history(made: History, sdk: Any) -> Iterator[History]:
    """The shared history, with v3 active again after each test (rollbacks change only the active deployment)."""
    yield made
    if sdk.get("api")["deployment"] != made.v3:
        sdk.update_deployment("api", made.v3)


@pytest.fixture
def appwrite_sdk(sdk: Any) -> Any:
    return sdk


def test_deployments_lists_sources_newest_first_with_active_marker(history: History, env: dict[str, str]) -> None:
    result = fnsync(history.project, env, "deployments", "api")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0] == "Deployments of api, newest first (* = active):"
    order = [history.v3, history.failed, history.manual, history.v2, history.v1]
    body = lines[2:]
    assert [next(d for d in order if d in line) for line in body] == order
    assert body[0].startswith("*") and not any(line.startswith("*") for line in body[1:])
    assert "fnsync " in body[0] and "ready" in body[0]
    assert " failed " in body[1] and body[1].rstrip().endswith("cli")
    assert body[2].rstrip().endswith("manual")  # ids are printed whole (matched above), never truncated

    data = json.loads(fnsync(history.project, env, "deployments", "api", "--json").stdout)
    assert data["kind"] == "deployments" and data["active"] == history.v3
    by_id = {d["id"]: d for d in data["deployments"]}
    assert [d["id"] for d in data["deployments"]] == order
    assert {d: by_id[d]["source"] for d in order} == {
        history.v3: "fnsync", history.failed: "cli", history.manual: "manual", history.v2: "fnsync", history.v1: "fnsync"
    }
    assert by_id[history.v3]["active"] and not by_id[history.v2]["active"]
    assert by_id[history.v3]["code_hash"] and by_id[history.manual]["code_hash"] is None
    assert by_id[history.v3]["size"] > 0 and by_id[history.failed]["status"] == "failed"

    limited = json.loads(fnsync(history.project, env, "deployments", "api", "--json", "--limit", "2").stdout)
    assert [d["id"] for d in limited["deployments"]] == order[:2]


def test_source_of_vcs_and_commit() -> None:
    vcs = Deployment.model_validate({"$id": "d", "type": "vcs", "providerCommitHash": "abc123"})
    assert source_of(vcs, None) == "vcs" and source_of(vcs, "f" * 64) == "fnsync"
    assert source_of(Deployment.model_validate({"$id": "d", "type": ""}), None) == "manual"


def test_rollback_to_previous_ready_then_plan_shows_drift(history: History, env: dict[str, str], appwrite_sdk: Any) -> None:
    result = fnsync(history.project, env, "rollback", "api", "--yes")
    assert result.exit_code == 0, result.output
    # the failed cli upload is skipped: the previous *ready* one is the manual upload
    assert f"Rolled back api: {history.manual} is active (was {history.v3})" in result.stdout
    assert "the server now differs from functions.yaml" in result.stderr and "fnsync apply" in result.stderr
    assert appwrite_sdk.get("api")["deployment"] == history.manual

    plan = fnsync(history.project, env, "plan", "--detailed-exitcode")
    assert plan.exit_code == 2 and f"was: active {history.manual}" in plan.stdout
    drift = fnsync(history.project, env, "drift")
    assert drift.exit_code == 2 and f"on the server deployment {history.manual} is active" in drift.stdout

    again = fnsync(history.project, env, "rollback", "api", "--yes")  # from manual: the next older ready is v2
    assert again.exit_code == 0 and appwrite_sdk.get("api")["deployment"] == history.v2


def test_rollback_to_named_deployment(history: History, env: dict[str, str], appwrite_sdk: Any) -> None:
    result = fnsync(history.project, env, "rollback", "api", "--to", history.v1, "--yes")
    assert result.exit_code == 0, result.output
    assert appwrite_sdk.get("api")["deployment"] == history.v1
    assert f"activate deployment {history.v1} (created " in result.stderr and "fnsync, code " in result.stderr
    same = fnsync(history.project, env, "rollback", "api", "--to", history.v1, "--yes")
    assert same.exit_code == 0 and "already active" in same.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("failed", "is not ready (status failed)"),
        ("nope", "deployment nope not found on function api"),
        ("other", "belongs to function other, not api"),
    ],
)
def test_rollback_refusals_change_nothing(
    history: History, env: dict[str, str], appwrite_sdk: Any, target: str, message: str
) -> None:
    deployment = getattr(history, target, target)
    result = fnsync(history.project, env, "rollback", "api", "--to", deployment, "--yes")
    assert result.exit_code == 1
    assert message in result.stderr
    assert appwrite_sdk.get("api")["deployment"] == history.v3


def test_rollback_refusals_without_history(history: History, env: dict[str, str], appwrite_sdk: Any) -> None:
    first = fnsync(history.project, env, "rollback", "other", "--yes")  # only one deployment
    assert first.exit_code == 1 and "no ready deployment older than the active one" in first.stderr
    assert fnsync(history.project, env, "rollback", "ghost", "--yes").stderr.count("function ghost not found") == 1
    reserved = fnsync(history.project, env, "rollback", LOCK_FUNCTION_ID, "--yes")
    assert reserved.exit_code == 1 and "reserved" in reserved.stderr
    assert fnsync(history.project, env, "deployments", "ghost").exit_code == 1


def test_rollback_needs_confirmation_without_a_terminal(history: History, env: dict[str, str], appwrite_sdk: Any) -> None:
    result = fnsync(history.project, env, "rollback", "api")
    assert result.exit_code == 1 and "refusing to roll back without confirmation" in result.stderr
    assert appwrite_sdk.get("api")["deployment"] == history.v3


def test_works_without_a_manifest(history: History, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no functions.yaml here: the connection comes from the environment
    listed = run_cli(env, "deployments", "api", "--limit", "1")
    assert listed.exit_code == 0 and history.v3 in listed.stdout
    missing = run_cli(env, "deployments", "api", "-f", "absent.yaml")
    assert missing.exit_code == 1  # a named manifest must exist


def test_env_selects_the_environment_whose_server_is_read(history: History, server: LocalServer, tmp_path: Path) -> None:
    manifest = tmp_path / "functions.yaml"
    manifest.write_text(
        f"version: 1\nendpoint: {server.endpoint}\nproject: no-such-project\nfunctions: {{}}\n"
        f"environments:\n  live: {{project: {server.project}}}\n"
    )
    key_only = {"APPWRITE_API_KEY": server.api_key, "APPWRITE_ENDPOINT": None, "APPWRITE_PROJECT_ID": None}
    assert fnsync(manifest, key_only, "deployments", "api").exit_code == 1  # the manifest as written: another project
    listed = fnsync(manifest, key_only, "deployments", "api", "--env", "live", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["active"] == history.v3
    same = fnsync(manifest, key_only, "rollback", "api", "--env", "live", "--to", history.v3)
    assert same.exit_code == 0 and "already active" in same.stderr
    absent = run_cli(key_only, "deployments", "api", "--env", "live", "-f", str(tmp_path / "absent.yaml"))
    assert absent.exit_code == 1 and "--env live needs a manifest" in absent.stderr


def test_rollback_refuses_when_the_active_deployment_changed_meanwhile(
    history: History, env: dict[str, str], appwrite_sdk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def someone_activates(*args: Any, **kwargs: Any) -> None:  # while the user reads the question
        appwrite_sdk.update_deployment("api", history.v1)

    monkeypatch.setattr("syncer.cli.rollback.confirm_apply", someone_activates)
    result = fnsync(history.project, env, "rollback", "api", "--to", history.v2)
    assert result.exit_code == 1 and "changed since it was read" in result.stderr
    assert appwrite_sdk.get("api")["deployment"] == history.v1
