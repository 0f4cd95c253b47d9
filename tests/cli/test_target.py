"""Never the wrong server: the embedded local server only when nothing points elsewhere (issue 13, point 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import MANIFEST, files_under, fnsync, new_project
from tests.conftest import LocalServer


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"APPWRITE_PROJECT_ID": "prod-project"}, "APPWRITE_PROJECT_ID is set"),
        ({"APPWRITE_API_KEY": "secret-key-1234"}, "APPWRITE_API_KEY is set"),
    ],
)
@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"], ["drift"], ["deployments", "hello"], ["rollback", "hello", "--yes"], ["import", "-o", "new/functions.yaml"]])
def test_real_project_in_environment_refuses_the_embedded_server(
    folder: Path, env: dict[str, str], named: str, command: list[str]
) -> None:
    new_project(folder)
    before = files_under(folder)
    result = fnsync(*command, env=env)
    assert result.exit_code == 1, result.output
    assert named in result.stderr
    assert "--endpoint" in result.stderr and "APPWRITE_ENDPOINT" in result.stderr and "--local" in result.stderr
    assert "secret-key-1234" not in result.output
    assert files_under(folder) == before  # no .fnsync/local, no manifest


def test_manifest_project_refuses(folder: Path) -> None:
    new_project(folder, "project: prod-project\n" + MANIFEST)
    result = fnsync("plan")
    assert result.exit_code == 1
    assert "functions.yaml names `project: prod-project`" in result.stderr
    assert not (folder / ".fnsync").exists()


def test_manifest_environment_with_endpoint_refuses_without_env(folder: Path) -> None:
    new_project(folder, MANIFEST + "environments:\n  prod:\n    endpoint: https://appwrite.example.com/v1\n    project: p\n")
    result = fnsync("plan")
    assert result.exit_code == 1
    assert "environments with an endpoint (prod); choose one with --env NAME" in result.stderr


def test_local_flag_uses_the_embedded_server_on_purpose(folder: Path) -> None:
    new_project(folder)
    result = fnsync("plan", "--local", env={"APPWRITE_PROJECT_ID": "prod-project"})
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Using the embedded local server")
    assert '+ function "hello" will be created' in result.stdout


def test_nothing_pointing_elsewhere_uses_the_embedded_server_and_says_so_first(folder: Path) -> None:
    new_project(folder)
    result = fnsync("apply")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0].startswith("Using the embedded local server")


def test_writing_to_a_remote_server_names_it_first(folder: Path, local_server: LocalServer) -> None:
    new_project(folder)
    env = {"APPWRITE_ENDPOINT": local_server.endpoint, "APPWRITE_PROJECT_ID": local_server.project, "APPWRITE_API_KEY": local_server.api_key}
    result = fnsync("apply", "--yes", env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"Server: {local_server.endpoint}, project {local_server.project} (env endpoint)."


def test_saved_plan_from_another_server_is_refused(folder: Path, local_server: LocalServer) -> None:
    new_project(folder)
    env = {"APPWRITE_ENDPOINT": local_server.endpoint, "APPWRITE_PROJECT_ID": local_server.project, "APPWRITE_API_KEY": local_server.api_key}
    assert fnsync("plan", "--out", "plan.json", env=env).exit_code == 0
    assert json.loads((folder / "plan.json").read_text())["server"] == f"{local_server.endpoint} project {local_server.project}"
    result = fnsync("apply", "plan.json")
    assert result.exit_code == 1
    assert f"the saved plan was made against {local_server.endpoint} project {local_server.project}" in result.stderr
    assert not (folder / ".fnsync" / "local").exists()


def test_saved_plan_from_the_embedded_server_is_not_applied_elsewhere(folder: Path, local_server: LocalServer) -> None:
    new_project(folder)
    assert fnsync("plan", "--out", "plan.json").exit_code == 0
    env = {"APPWRITE_ENDPOINT": local_server.endpoint, "APPWRITE_PROJECT_ID": local_server.project, "APPWRITE_API_KEY": local_server.api_key}
    result = fnsync("apply", "plan.json", env=env)
    assert result.exit_code == 1
    assert "was planned against embedded" in result.stderr


def test_manifest_converted_from_appwrite_json_refuses_the_embedded_server(folder: Path) -> None:
    (folder / "functions" / "hello").mkdir(parents=True)
    (folder / "functions" / "hello" / "main.py").write_text("def main(context):\n    return context.res.text('hi')\n")
    config = {
        "projectId": "prod-project",
        "functions": [{"$id": "hello", "name": "Hello", "runtime": "python-3.12", "path": "functions/hello", "entrypoint": "main.py"}],
    }
    (folder / "appwrite.json").write_text(json.dumps(config))
    converted = fnsync("import", "--from", "appwrite.json")
    assert converted.exit_code == 0, converted.output
    result = fnsync("plan")
    assert result.exit_code == 1
    assert "names `project: prod-project`" in result.stderr


def test_read_only_command_without_manifest_creates_nothing(folder: Path) -> None:
    result = fnsync("deployments", "hello")
    assert result.exit_code == 1
    assert "no manifest and no local server state" in result.stderr
    assert files_under(folder) == set()


def test_import_from_an_empty_embedded_server_into_a_new_folder_refuses(folder: Path) -> None:
    result = fnsync("import", "-o", "new/functions.yaml")
    assert result.exit_code == 1
    assert "has no functions: there is nothing to import" in result.stderr
    assert files_under(folder) == set()


def test_import_from_an_empty_remote_server_refuses(folder: Path, local_server: LocalServer) -> None:
    env = {"APPWRITE_ENDPOINT": local_server.endpoint, "APPWRITE_PROJECT_ID": local_server.project, "APPWRITE_API_KEY": local_server.api_key}
    result = fnsync("import", "-o", "new/functions.yaml", env=env)
    assert result.exit_code == 1
    assert f"{local_server.endpoint} project {local_server.project} has no functions" in result.stderr
    assert not (folder / "new" / "functions.yaml").exists()


def test_stale_saved_plan_says_the_exact_command_to_plan_again(folder: Path) -> None:
    new_project(folder)
    assert fnsync("plan", "--out", "plan.json").exit_code == 0
    (folder / "fn" / "hello" / "main.py").write_text('def main(context):\n    return context.res.text("v2")\n')
    result = fnsync("apply", "plan.json")
    assert result.exit_code == 1
    assert "Saved plan is stale: the code of hello changed" in result.stderr
    manifest = folder / "functions.yaml"
    assert f"Plan again with: `fnsync plan -f {manifest} --out plan.json`, then `fnsync apply plan.json`" in result.stderr.replace("\n", " ")


def test_local_and_endpoint_contradict(folder: Path) -> None:
    new_project(folder)
    result = fnsync("plan", "--local", "--endpoint", "https://appwrite.example.com/v1")
    assert result.exit_code == 1
    assert "--local and --endpoint contradict each other" in result.stderr
    assert not (folder / ".fnsync").exists()


def test_the_server_comes_first_then_the_environment(folder: Path, local_server: LocalServer) -> None:
    environment = f"environments:\n  staging:\n    endpoint: {local_server.endpoint}\n    project: {local_server.project}\n"
    new_project(folder, MANIFEST + environment)
    result = fnsync("apply", "--env", "staging", "--yes", env={"APPWRITE_API_KEY": local_server.api_key})
    assert result.exit_code == 0, result.output
    first, second = result.stderr.splitlines()[:2]
    assert first == f"Server: {local_server.endpoint}, project {local_server.project} (manifest endpoint)."
    assert second == "Environment staging of functions.yaml."
