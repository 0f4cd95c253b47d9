"""`fnsync import`: adopt a server's functions (built with the official SDK, never with fnsync) or an Appwrite CLI
config, so that the next `fnsync plan` is empty; and refuse bad input without writing anything."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from syncer.importer.render import assign_env_names, dotenv_line, escape_literal, manifest_text
from syncer.importer.model import ImportedFunction
from syncer.importer.unpack import UnsafeArchiveError, unpack_archive
from syncer.reserved import is_reserved
from syncer.manifest import load_manifest
from syncer.manifest.interpolate import interpolate_text, read_dotenv
from syncer.plan import server_settings
from syncer.packaging import code_hash_of_archive, package_function
from syncer.manifest.models import FunctionSpec
from syncer.state import read_active_code
from syncer.secret_digests import RECORD_KEY
from tests.conftest import LocalServer
from tests.helpers import wait_until
from tests.syncer.support import open_client, run_cli, running_server, server_env

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "appwrite-cli"

# Values chosen to break naive quoting: YAML types, interpolation syntax, dotenv quoting, newlines.
TRICKY_VALUES = {
    "API_TOKEN": "s3cr3t-token",
    "VERSION": "1.10",
    "FLAG": "yes",
    "EMPTY": "",
    "TEMPLATE": "${amount} EUR and $${x} and $HOME",
    "MULTI": 'line one\nline "two" \\ back',
    "HASH": "a # not a comment",
}


# --- building server state with the official SDK --------------------------------------------------------------


def make_tar(path: Path, files: dict[str, tuple[bytes, int]], *, dot_prefix: bool = True, dirs: bool = True) -> Path:
    """A tar.gz the way `tar czf code.tar.gz .` makes one: `./` prefixes, directory entries, real modes."""
    prefix = "./" if dot_prefix else ""
    with tarfile.open(path, "w:gz") as tar:
        if dirs:
            tar.addfile(_dir_info(prefix or "."))
            for folder in sorted({str(Path(name).parent) for name in files if "/" in name}):
                tar.addfile(_dir_info(prefix + folder + "/"))
        for name, (content, mode) in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(content)
            info.mode = mode
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
    return path


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def deploy_with_sdk(sdk: Any, function_id: str, archive: Path, **kwargs: Any) -> str:
    """Upload and wait (polling) until the deployment is the function's active one and the function is live."""
    from appwrite.input_file import InputFile

    deployment = sdk.create_deployment(function_id, InputFile.from_path(str(archive)), True, **kwargs)

    def active() -> bool:
        fn = sdk.get(function_id)
        status = sdk.get_deployment(function_id, deployment["$id"])["status"]
        assert status != "failed", sdk.get_deployment(function_id, deployment["$id"])["buildLogs"]
        return bool(fn["deployment"] == deployment["$id"] and fn["live"])

    wait_until(active, timeout=60, what=f"deployment of {function_id}")
    return str(deployment["$id"])


def build_varied_state(sdk: Any, work: Path) -> None:
    """Several functions with different runtimes and settings, variables first, then code (so they end up live)."""
    sdk.create(
        "api", "Public API", "python-3.12", execute=["any"], timeout=30, entrypoint="main.py",
        scopes=["users.read", "databases.read"],
    )  # fmt: skip
    for key, value in TRICKY_VALUES.items():
        sdk.create_variable("api", key, value)
    api_tar = make_tar(
        work / "api.tar.gz",
        {
            "main.py": (b'from .lib.util import hello\ndef main(context):\n    return context.res.text(hello())\n', 0o644),
            "lib/__init__.py": (b"", 0o644),
            "lib/util.py": (b'def hello():\n    return "hi"\n', 0o664),
            "run.sh": (b"#!/bin/sh\necho run\n", 0o775),
        },
    )
    deploy_with_sdk(sdk, "api", api_tar, entrypoint="main.py")

    sdk.create(
        "nightly", "Nightly report", "node-20.0", schedule="0 3 * * *", enabled=False, logging=False,
        entrypoint="index.js", commands="echo building", timeout=120, specification="s-1vcpu-1gb",
    )  # fmt: skip
    sdk.create_variable("nightly", "REPORT_TO", "ops@example.com")
    node_tar = make_tar(work / "nightly.tar.gz", {"index.js": (b"module.exports = async (c) => c.res.text('ok');\n", 0o644)}, dot_prefix=False, dirs=False)
    deploy_with_sdk(sdk, "nightly", node_tar, entrypoint="index.js", commands="echo building")

    sdk.create(
        "on-signup", "On signup", "python-3.11",
        events=["users.*.create", "databases.*.collections.*.documents.*.update"],
        execute=["users", "team:admins/owner", "label:vip"],
    )  # fmt: skip
    sdk.create_variable("on-signup", "api_token", "another secret")  # collides with api's API_TOKEN once upper-cased

    sdk.create("legacy-ruby", "Legacy", "ruby-3.3", entrypoint="main.rb", scopes=["functions.read"])
    ruby_tar = make_tar(work / "ruby.tar.gz", {"main.rb": (b"def main(context)\n  context.res.text('x')\nend\n", 0o644)})
    deploy_with_sdk(sdk, "legacy-ruby", ruby_tar, entrypoint="main.rb")

    # An archive that fnsync made (deterministic, hash in the gzip header), uploaded with the SDK.
    folder = work / "packaged-src"
    (folder / "pkg").mkdir(parents=True)
    (folder / "main.py").write_text("def main(context):\n    return context.res.text('packaged')\n")
    (folder / "pkg" / "data.json").write_text('{"a": 1}\n')
    sdk.create("packaged", "Packaged", "python-3.12", entrypoint="main.py")
    spec = FunctionSpec(id="packaged", name="Packaged", runtime="python-3.12", path=folder, entrypoint="main.py")
    package = package_function(spec, work / "out")
    deploy_with_sdk(sdk, "packaged", package.archive, entrypoint="main.py")


# --- helpers --------------------------------------------------------------------------------------------------


def fnsync(*args: str, env: dict[str, str] | None = None) -> Result:
    return run_cli(env or {}, *args)


def snapshot(server: LocalServer) -> dict[str, Any]:
    """Every function's settings, variables and active code hash, as fnsync's planner sees them."""

    async def read() -> dict[str, Any]:
        async with open_client(server) as client:
            result: dict[str, Any] = {}
            for fn in await client.list_functions():
                if is_reserved(fn.id):  # the apply lock `fnsync apply` keeps on the server
                    continue
                active = await read_active_code(client, fn) if fn.deployment else None
                result[fn.id] = {
                    "settings": server_settings(fn, await client.capabilities()),
                    "variables": {v.key: v.value for v in fn.vars if v.key != RECORD_KEY},  # not its bookkeeping
                    "code_hash": active.code_hash if active else None,
                }
            return result

    return asyncio.run(read())


@pytest.fixture
def second_server(tmp_path: Path, appwrite_version: str) -> Iterator[LocalServer]:
    with running_server(tmp_path / "second-server", appwrite_version=appwrite_version) as server:
        yield server


# --- the round trip -------------------------------------------------------------------------------------------


def test_round_trip_import_plan_empty_then_apply_to_empty_server_matches(
    tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any, second_server: LocalServer
) -> None:
    build_varied_state(appwrite_sdk, tmp_path)
    project = tmp_path / "project"
    manifest = project / "functions.yaml"

    imported = fnsync("import", "--out", str(manifest), env=server_env(local_server))
    assert imported.exit_code == 0, imported.output
    assert "does not round-trip" not in imported.output

    # The manifest is short: defaults left out, order kept, code folders and .env in place.
    data = yaml.safe_load(manifest.read_text())
    assert list(data["functions"]) == ["api", "nightly", "on-signup", "legacy-ruby", "packaged"]
    api = data["functions"]["api"]
    assert api["path"] == "functions/api" and api["execute"] == ["any"] and api["timeout"] == 30
    assert "enabled" not in api and "logging" not in api and "schedule" not in api
    # 1.6's default specification is left out; 1.9.6 gives a new function its largest, written as it is
    assert ("specification" in api) is (local_server.config.appwrite_version != "1.6.2")
    written = [value if isinstance(value, str) else value["value"] for value in api["variables"].values()]
    assert all(value.startswith("${") for value in written)
    assert data["functions"]["nightly"]["enabled"] is False and data["functions"]["nightly"]["specification"] == "s-1vcpu-1gb"
    assert "path" not in data["functions"]["on-signup"]  # never deployed: settings only
    assert data["endpoint"] == local_server.endpoint and data["project"] == local_server.project
    assert (project / "functions" / "api" / "lib" / "util.py").read_text() == 'def hello():\n    return "hi"\n'
    assert (project / "functions" / "api" / "run.sh").stat().st_mode & 0o100
    assert (project / "functions" / "packaged" / "pkg" / "data.json").is_file()
    assert ".env" in (project / ".gitignore").read_text().splitlines()
    dotenv, _ = read_dotenv((project / ".env").read_text(), ".env")
    assert sorted(dotenv.values()) == sorted([*TRICKY_VALUES.values(), "ops@example.com", "another secret"])
    assert "s3cr3t-token" not in manifest.read_text()
    loaded = load_manifest(manifest, environ={})
    assert {k: v.value for k, v in loaded.functions["api"].variables.items()} == TRICKY_VALUES
    assert loaded.functions["on-signup"].variables["api_token"].value == "another secret"

    plan = fnsync("plan", "-f", str(manifest), "--detailed-exitcode", env=server_env(local_server))
    assert plan.exit_code == 0, plan.output
    assert "No changes" in plan.stdout

    applied = fnsync("apply", "-f", str(manifest), "--yes", env=server_env(second_server))
    assert applied.exit_code == 0, applied.output
    assert snapshot(second_server) == snapshot(local_server)

    # The copy now runs fnsync's own archives (and holds fnsync's apply lock function): importing it round-trips too.
    again = tmp_path / "again" / "functions.yaml"
    reimported = fnsync("import", "--out", str(again), env=server_env(second_server))
    assert reimported.exit_code == 0, reimported.output
    assert "fnsync-lock" not in again.read_text()
    assert yaml.safe_load(again.read_text())["functions"] == data["functions"]
    assert fnsync("plan", "-f", str(again), "--detailed-exitcode", env=server_env(second_server)).exit_code == 0


def test_inline_values_keep_every_value_exact_and_write_no_env(tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any) -> None:
    appwrite_sdk.create("api", "API", "python-3.12")
    for key, value in TRICKY_VALUES.items():
        appwrite_sdk.create_variable("api", key, value)
    manifest = tmp_path / "p" / "functions.yaml"
    result = fnsync("import", "--out", str(manifest), "--inline-values", env=server_env(local_server))
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "p" / ".env").exists() and not (tmp_path / "p" / ".gitignore").exists()
    assert "s3cr3t-token" in manifest.read_text()
    loaded = load_manifest(manifest, environ={})
    assert {k: v.value for k, v in loaded.functions["api"].variables.items()} == TRICKY_VALUES
    assert not any(v.sensitive for v in loaded.functions["api"].variables.values())
    plan = fnsync("plan", "-f", str(manifest), "--detailed-exitcode", env=server_env(local_server))
    assert plan.exit_code == 0, plan.output


def test_git_settings_round_trip(tmp_path: Path) -> None:
    with running_server(tmp_path / "vcs-server", installations=("inst-1",)) as server:
        from appwrite.client import Client
        from appwrite.services.functions import Functions

        sdk = Functions(Client().set_endpoint(server.endpoint).set_project(server.project).set_key(server.api_key))
        sdk.create(
            "web", "Web", "node-20.0", installation_id="inst-1", provider_repository_id="repo-9",
            provider_branch="main", provider_root_directory="functions/web", provider_silent_mode=True,
        )  # fmt: skip
        manifest = tmp_path / "functions.yaml"
        result = fnsync("import", "--out", str(manifest), env=server_env(server))
        assert result.exit_code == 0, result.output
        git = yaml.safe_load(manifest.read_text())["functions"]["web"]["git"]
        assert git == {"installationId": "inst-1", "repositoryId": "repo-9", "branch": "main", "rootDirectory": "functions/web", "silentMode": True}
        plan = fnsync("plan", "-f", str(manifest), "--detailed-exitcode", env=server_env(server))
        assert plan.exit_code == 0, plan.output


def test_env_imports_from_that_environments_server(tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any) -> None:
    appwrite_sdk.create("a", "A", "python-3.12")
    source = tmp_path / "src" / "functions.yaml"
    source.parent.mkdir()
    source.write_text(
        f"version: 1\nendpoint: {local_server.endpoint}\nproject: no-such-project\nfunctions: {{}}\n"
        f"environments:\n  live: {{project: {local_server.project}}}\n"
    )
    key_only = {"APPWRITE_API_KEY": local_server.api_key, "APPWRITE_ENDPOINT": None, "APPWRITE_PROJECT_ID": None}
    out = tmp_path / "out" / "functions.yaml"

    absent = run_cli(key_only, "import", "--env", "live", "-f", str(tmp_path / "absent.yaml"), "--out", str(out))
    assert absent.exit_code == 1 and "--env live reads the server of that environment from a manifest" in absent.stderr
    unknown = run_cli(key_only, "import", "--env", "nope", "-f", str(source), "--out", str(out))
    assert unknown.exit_code == 1 and "nope" in unknown.stderr
    assert not out.exists()

    imported = run_cli(key_only, "import", "--env", "live", "-f", str(source), "--out", str(out))
    assert imported.exit_code == 0, imported.output
    written = yaml.safe_load(out.read_text())
    assert list(written["functions"]) == ["a"] and written["project"] == local_server.project


def test_target_imports_only_the_named_functions(tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any) -> None:
    appwrite_sdk.create("a", "A", "python-3.12")
    appwrite_sdk.create("b", "B", "python-3.12", timeout=5)
    manifest = tmp_path / "functions.yaml"
    result = fnsync("import", "--out", str(manifest), "--target", "b", env=server_env(local_server))
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load(manifest.read_text())["functions"]) == ["b"]
    plan = fnsync("plan", "-f", str(manifest), "--detailed-exitcode", "--target", "b", env=server_env(local_server))
    assert plan.exit_code == 0, plan.output


def test_archive_that_cannot_round_trip_is_imported_and_reported(tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any) -> None:
    appwrite_sdk.create("junk", "Junk", "python-3.12", entrypoint="main.py")
    archive = make_tar(
        tmp_path / "junk.tar.gz",
        {"main.py": (b"def main(context):\n    return context.res.text('x')\n", 0o644), "__pycache__/main.cpython-312.pyc": (b"\x00pyc", 0o644)},
    )
    deploy_with_sdk(appwrite_sdk, "junk", archive, entrypoint="main.py")
    manifest = tmp_path / "functions.yaml"
    result = fnsync("import", "--out", str(manifest), env=server_env(local_server))
    assert result.exit_code == 0, result.output
    assert "does not round-trip" in result.stderr and "__pycache__/main.cpython-312.pyc" in result.stderr
    plan = fnsync("plan", "-f", str(manifest), "--detailed-exitcode", env=server_env(local_server))
    assert plan.exit_code == 2 and "code: deploy" in plan.stdout


# --- refusals and bad input -----------------------------------------------------------------------------------


def test_refuses_to_overwrite_manifest_or_code_folder_without_force(tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any) -> None:
    appwrite_sdk.create("api", "API", "python-3.12", entrypoint="main.py")
    deploy_with_sdk(appwrite_sdk, "api", make_tar(tmp_path / "a.tar.gz", {"main.py": (b"def main(c):\n    return c.res.text('')\n", 0o644)}), entrypoint="main.py")
    project = tmp_path / "project"
    project.mkdir()
    manifest = project / "functions.yaml"
    manifest.write_text("mine\n")
    refused = fnsync("import", "--out", str(manifest), env=server_env(local_server))
    assert refused.exit_code == 1 and "already exists" in refused.stderr and "--force" in refused.stderr
    assert manifest.read_text() == "mine\n" and not (project / "functions").exists()

    manifest.unlink()
    (project / "functions" / "api").mkdir(parents=True)
    (project / "functions" / "api" / "old.py").write_text("old")
    refused = fnsync("import", "--out", str(manifest), env=server_env(local_server))
    assert refused.exit_code == 1 and "not empty" in refused.stderr
    assert not manifest.exists() and (project / "functions" / "api" / "old.py").exists()

    forced = fnsync("import", "--out", str(manifest), "--force", env=server_env(local_server))
    assert forced.exit_code == 0, forced.output
    assert not (project / "functions" / "api" / "old.py").exists() and (project / "functions" / "api" / "main.py").exists()
    assert fnsync("plan", "-f", str(manifest), "--detailed-exitcode", env=server_env(local_server)).exit_code == 0


def test_unknown_target_is_an_error_and_writes_nothing(tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any) -> None:
    appwrite_sdk.create("api", "API", "python-3.12")
    result = fnsync("import", "--out", str(tmp_path / "p" / "functions.yaml"), "--target", "nope", env=server_env(local_server))
    assert result.exit_code == 1 and "unknown --target: nope" in result.stderr
    assert not (tmp_path / "p").exists()


def test_existing_env_and_gitignore_are_extended_not_replaced(tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any) -> None:
    appwrite_sdk.create("api", "API", "python-3.12")
    appwrite_sdk.create_variable("api", "MODE", "prod")
    (tmp_path / ".env").write_text("API_MODE=something else\nOTHER=1\n")
    (tmp_path / ".gitignore").write_text("node_modules/")
    manifest = tmp_path / "functions.yaml"
    result = fnsync("import", "--out", str(manifest), env=server_env(local_server))
    assert result.exit_code == 0, result.output
    dotenv, _ = read_dotenv((tmp_path / ".env").read_text(), ".env")
    assert dotenv["API_MODE"] == "something else" and dotenv["OTHER"] == "1" and dotenv["API_MODE_2"] == "prod"
    expected: Any = "${API_MODE_2}"
    if local_server.config.appwrite_version != "1.6.2":  # from .env yet plain on the server: stays plain
        expected = {"value": "${API_MODE_2}", "secret": False}
    assert yaml.safe_load(manifest.read_text())["functions"]["api"]["variables"] == {"MODE": expected}
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "node_modules/"
    assert ".env" in (tmp_path / ".gitignore").read_text().splitlines()
    assert fnsync("plan", "-f", str(manifest), "--detailed-exitcode", env=server_env(local_server)).exit_code == 0


# --- appwrite.json conversion -----------------------------------------------------------------------------------


@pytest.fixture
def cli_project(tmp_path: Path) -> Path:
    """The fixture CLI project (configs + code folders) copied to a temp dir."""
    target = tmp_path / "cli-project"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.mark.parametrize("config_name", ["appwrite.json", "appwrite.config.json"])
def test_convert_cli_config_then_validate(cli_project: Path, tmp_path: Path, config_name: str) -> None:
    out = tmp_path / "converted" / "functions.yaml"
    result = fnsync("import", "--from", str(cli_project / config_name), "--out", str(out))
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text())
    source = json.loads((cli_project / config_name).read_text())
    assert data["project"] == source["projectId"] and list(data["functions"]) == [f["$id"] for f in source["functions"]]
    for function in source["functions"]:
        converted = data["functions"][function["$id"]]
        assert converted["name"] == function["name"] and converted["runtime"] == function["runtime"]
        assert (out.parent / converted["path"]).resolve() == (cli_project / function["path"]).resolve()
    validated = fnsync("validate", "-f", str(out))
    assert validated.exit_code == 0, validated.output
    loaded = load_manifest(out, environ={})
    for function in source["functions"]:
        spec = loaded.functions[function["$id"]]
        assert spec.execute == tuple(function.get("execute", ())) and spec.timeout == function.get("timeout", 15)
        assert spec.schedule == (function.get("schedule") or "") and spec.enabled == function.get("enabled", True)
        assert spec.ignore == tuple(function.get("ignore") or ())


def test_convert_config_shape_variables_and_git(cli_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "functions.yaml"
    result = fnsync("import", "--from", str(cli_project / "appwrite.config.json"), "--out", str(out))
    assert result.exit_code == 0, result.output
    loaded = load_manifest(out, environ={})
    source = {f["$id"]: f for f in json.loads((cli_project / "appwrite.config.json").read_text())["functions"]}
    for fid, function in source.items():
        assert {k: v.value for k, v in loaded.functions[fid].variables.items()} == {v["key"]: v["value"] for v in function.get("vars", [])}
    assert loaded.endpoint == "https://fra.cloud.appwrite.io/v1"
    assert all(v.sensitive for spec in loaded.functions.values() for v in spec.variables.values())  # via .env


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{ not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"projectId": "p", "functions": {"a": 1}}', "must be a list"),
        ('{"projectId": "p", "functions": [{"$id": "a", "runtime": "node-20.0"}]}', "functions[0] ($id 'a').name"),
        ('{"projectId": "p", "functions": [{"$id": "a", "name": "A", "runtime": "node-20.0", "timeout": "soon"}]}', "timeout"),
        ('{"projectId": "p"}', "declares no functions"),
        (
            '{"projectId": "p", "functions": [{"$id": "a", "name": "A", "runtime": "r"}, {"$id": "a", "name": "B", "runtime": "r"}]}',
            "declared twice",
        ),
        ('{"projectId": "p", "functions": [{"$id": "a", "name": "A", "runtime": "r", "execute": ["*"]}]}', "Wildcard role"),
    ],
)
def test_bad_cli_config_is_a_clear_error_and_writes_nothing(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "appwrite.json"
    config.write_text(content)
    out = tmp_path / "out" / "functions.yaml"
    result = fnsync("import", "--from", str(config), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_unreadable_cli_config(tmp_path: Path) -> None:
    result = fnsync("import", "--from", str(tmp_path / "missing.json"), "--out", str(tmp_path / "functions.yaml"))
    assert result.exit_code == 1 and "file not found" in result.stderr
    assert not (tmp_path / "functions.yaml").exists()


def test_from_with_unknown_target_or_connection_flags(cli_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "functions.yaml"
    unknown = fnsync("import", "--from", str(cli_project / "appwrite.json"), "--out", str(out), "--target", "zzz")
    assert unknown.exit_code == 1 and "unknown --target: zzz" in unknown.stderr
    both = fnsync("import", "--from", str(cli_project / "appwrite.json"), "--out", str(out), "--endpoint", "http://x/v1")
    assert both.exit_code != 0 and "--from" in both.output  # a usage error (`fnsync` itself exits 1)
    env_flag = fnsync("import", "--from", str(cli_project / "appwrite.json"), "--out", str(out), "--env", "staging")
    assert env_flag.exit_code != 0 and "--from" in env_flag.output
    assert not out.exists()
    from_environ = fnsync("import", "--from", str(cli_project / "appwrite.json"), "--out", str(out), env={"FNSYNC_ENV": "staging"})
    assert from_environ.exit_code == 0, from_environ.output  # a CI-wide FNSYNC_ENV does not stop a conversion


# --- units: quoting and archives ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [*TRICKY_VALUES.values(), "$${", "$$${", "${", "${A:-b}", "'", '"', "\\n", "\t tab", "~", "null", "- x", "a: b"])
def test_values_survive_manifest_and_dotenv_quoting(value: str) -> None:
    assert interpolate_text(escape_literal(value), {})[0] == value
    parsed, issues = read_dotenv(dotenv_line("X", value) + "\n", ".env")
    assert not issues and parsed == {"X": value}


def test_env_names_are_collision_free_and_avoid_the_environment() -> None:
    functions = [
        ImportedFunction(id="api", settings={}, variables={"TOKEN": "a", "token": "b"}),
        ImportedFunction(id="api-token", settings={}, variables={"X": "c"}),
        ImportedFunction(id="1st", settings={}, variables={"K": "d"}),
    ]
    names = assign_env_names(functions, taken={"API_TOKEN_2": "other"}, reserved={"API_TOKEN"})
    assert names[("api", "TOKEN")] == "API_TOKEN_3" and names[("api", "token")] == "API_TOKEN_4"
    assert names[("1st", "K")] == "FN_1ST_K"
    assert len(set(names.values())) == len(names)
    text = manifest_text(functions, names)
    assert "${API_TOKEN_3}" in text


def test_unpack_refuses_escapes_and_skips_links(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(UnsafeArchiveError, match=r"'\.\.'"):
        unpack_archive(evil, tmp_path / "a")
    assert not (tmp_path / "outside.txt").exists()

    absolute = tmp_path / "abs.tar.gz"
    with tarfile.open(absolute, "w:gz") as tar:
        info = tarfile.TarInfo("/etc/x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(UnsafeArchiveError, match="absolute"):
        unpack_archive(absolute, tmp_path / "b")

    links = tmp_path / "links.tar.gz"
    with tarfile.open(links, "w:gz") as tar:
        info = tarfile.TarInfo("main.py")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
        link = tarfile.TarInfo("escape")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
        hard = tarfile.TarInfo("hard")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "main.py"
        tar.addfile(hard)
    unpacked = unpack_archive(links, tmp_path / "c")
    assert unpacked.files == ["main.py"] and sorted(unpacked.skipped_links) == ["escape", "hard"]
    assert not (tmp_path / "c" / "escape").exists() and not (tmp_path / "c" / "escape").is_symlink()


def test_unpacked_foreign_archive_packages_back_to_its_hash(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "x.tar.gz",
        {"main.py": (b"print(1)\n", 0o600), "bin/tool": (b"#!/bin/sh\n", 0o700), "bin/tool.txt": (b"t", 0o666)},
    )
    unpack_archive(archive, tmp_path / "code")
    spec = FunctionSpec(id="x", name="X", runtime="python-3.12", path=tmp_path / "code", entrypoint="main.py", commands="make")
    package = package_function(spec, tmp_path / "pkg")
    assert package.code_hash == code_hash_of_archive(archive, entrypoint="main.py", commands="make", runtime="python-3.12")
