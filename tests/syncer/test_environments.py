"""`environments:` in the manifest and `--env`: the loader's overrides, `.env.NAME` layering and its issues, then
plan/apply end to end against two real local servers (staging and production) that differ in endpoint, project,
a variable and a schedule."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from localserver import ServerConfig
from syncer.manifest import ManifestError, load_every_environment, load_manifest, parse_manifest_text
from syncer.manifest.models import GitSettings, VariableValue
from tests.conftest import LocalServer, _ThreadedUvicorn
from tests.syncer import support

pytestmark = pytest.mark.slow

MANIFEST = """\
version: 1
endpoint: http://127.0.0.1:9/v1
project: base
defaults:
  runtime: python-3.12
  timeout: 10
  variables:
    LOG_LEVEL: info
functions:
  api:
    name: API
    schedule: "0 * * * *"
    execute: [any]
    variables:
      MODE: base
      TOKEN: ${TOKEN:-none}
    git: {installationId: inst, repositoryId: repo, branch: main}
  worker:
    name: Worker
environments:
  staging:
    project: stage
    functions:
      api:
        schedule: "*/5 * * * *"
        variables:
          MODE: staging
        git: {branch: develop}
  production:
    endpoint: https://prod.example.com/v1
    project: prod
    defaults:
      timeout: 60
      variables:
        LOG_LEVEL: warning
    functions:
      api:
        execute: [users]
        timeout:
        variables:
          MODE: production
  empty:
"""  # `timeout:` (line 39) overrides nothing: api keeps the merged default


def write(folder: Path, text: str, **dotenvs: str) -> Path:
    """The manifest as `functions.yaml`, plus dotenv files: `env=...` is `.env`, `staging=...` is `.env.staging`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "functions.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    for name, content in dotenvs.items():
        (folder / (".env" if name == "env" else f".env.{name}")).write_text(content, encoding="utf-8")
    return path


def issues(path: Path, env: str | None, environ: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, environ=environ or {}, env=env)
    return [(i.line, i.field, i.message) for i in caught.value.issues]


# --- overrides ---------------------------------------------------------------------------------------------


def test_without_env_the_manifest_is_read_as_written(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, MANIFEST), environ={})

    assert manifest.environment is None and manifest.environments == ("staging", "production", "empty")
    assert (manifest.endpoint, manifest.project) == ("http://127.0.0.1:9/v1", "base")
    api = manifest.functions["api"]
    assert api.schedule == "0 * * * *" and api.variables["MODE"].value == "base" and api.timeout == 10


def test_staging_overrides_project_a_schedule_a_variable_and_git_key_by_key(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, MANIFEST), environ={}, env="staging")

    assert manifest.environment == "staging" and manifest.environments == ("staging", "production", "empty")
    assert (manifest.endpoint, manifest.project) == ("http://127.0.0.1:9/v1", "stage")  # endpoint not overridden
    api, worker = manifest.functions["api"], manifest.functions["worker"]
    assert api.schedule == "*/5 * * * *" and api.execute == ("any",)
    assert {k: v.value for k, v in api.variables.items()} == {"LOG_LEVEL": "info", "MODE": "staging", "TOKEN": "none"}
    assert api.git == GitSettings(installation_id="inst", repository_id="repo", branch="develop")
    assert api.lines["schedule"] == 25 and api.lines["execute"] == 13  # the override's line; untouched keys keep theirs
    assert worker.timeout == 10 and worker.variables["LOG_LEVEL"].value == "info"


def test_production_overrides_endpoint_defaults_and_replaces_lists(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, MANIFEST), environ={}, env="production")

    assert (manifest.endpoint, manifest.project) == ("https://prod.example.com/v1", "prod")
    api, worker = manifest.functions["api"], manifest.functions["worker"]
    assert api.execute == ("users",)  # a list replaces, never concatenates
    assert api.timeout == 60 and worker.timeout == 60  # from the overridden defaults; `timeout:` overrode nothing
    assert api.schedule == "0 * * * *"
    assert api.variables["MODE"].value == "production" and worker.variables["LOG_LEVEL"].value == "warning"
    assert api.lines["timeout"] == 33  # environments.production.defaults.timeout


def test_an_empty_environment_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, MANIFEST)
    plain, empty = load_manifest(path, environ={}), load_manifest(path, environ={}, env="empty")

    assert empty.environment == "empty"
    assert empty.functions == plain.functions and (empty.endpoint, empty.project) == (plain.endpoint, plain.project)


def test_load_every_environment_gives_each_one(tmp_path: Path) -> None:
    manifests = load_every_environment(write(tmp_path, MANIFEST), environ={})

    assert list(manifests) == [None, "staging", "production", "empty"]
    assert [m.project for m in manifests.values()] == ["base", "stage", "prod", "base"]


def test_overrides_may_interpolate(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 1
        functions:
          api: {name: API, runtime: node-22}
        environments:
          staging:
            project: ${STAGING_PROJECT}
            functions:
              api: {variables: {KEY: "${STAGING_KEY}"}}
        """,
    )

    manifest = load_manifest(path, environ={"STAGING_PROJECT": "p1", "STAGING_KEY": "k"}, env="staging")

    assert manifest.project == "p1" and manifest.functions["api"].variables["KEY"] == VariableValue(value="k", sensitive=True)


# --- .env layering and sensitivity --------------------------------------------------------------------------

LAYERED = """\
version: 1
functions:
  api:
    name: API
    runtime: node-22
    variables:
      A: ${A}
      B: ${B}
      C: ${C}
      D: ${D:-written-default}
"""


def test_dotenv_name_is_layered_over_dotenv_and_the_process_environment_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        LAYERED + "environments:\n  staging:\n  production:\n",
        env="A=dotenv\nB=dotenv\nC=dotenv\n",
        staging="B=staging\nC=staging\n",
        production="A=production\nB=production\nC=production\n",
    )

    staging = load_manifest(path, environ={"C": "process"}, env="staging").functions["api"].variables
    plain = load_manifest(path, environ={}).functions["api"].variables

    assert {k: v.value for k, v in staging.items()} == {"A": "dotenv", "B": "staging", "C": "process", "D": "written-default"}
    assert {k: v.value for k, v in plain.items()} == {"A": "dotenv", "B": "dotenv", "C": "dotenv", "D": "written-default"}
    assert [k for k, v in staging.items() if v.sensitive] == ["A", "B", "C"]  # D came from the manifest: shown


def test_dotenv_name_alone_can_supply_a_value(tmp_path: Path) -> None:
    path = write(tmp_path, LAYERED + "environments:\n  staging:\n", staging="A=a\nB=b\nC=c\n")

    assert load_manifest(path, environ={}, env="staging").functions["api"].variables["A"].value == "a"
    assert {line for line, _, _ in issues(path, None)} == {7, 8, 9}  # without --env, .env.staging is not read


def test_parse_manifest_text_takes_both_dotenv_texts(tmp_path: Path) -> None:
    text = LAYERED + "environments:\n  staging:\n"

    manifest = parse_manifest_text(
        text, tmp_path / "functions.yaml", {}, dotenv_text="A=1\nB=1\nC=1\n", env_dotenv_text="C=2\n", env="staging",
        check_files=False,
    )

    assert [v.value for v in manifest.functions["api"].variables.values()] == ["1", "1", "2", "written-default"]


def test_only_values_from_the_environment_are_sensitive(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 1
        functions:
          api:
            name: API
            runtime: node-22
            variables:
              DEFAULTED: ${UNSET:-shown}
              EMPTY_DEFAULT: ${UNSET:-}
              EMPTY_VALUE_DEFAULTED: ${EMPTY:-shown-too}
              FROM_ENV_OVER_DEFAULT: ${SET:-hidden}
              MIXED_DEFAULT: "a-${UNSET:-b}-c"
              MIXED_ENV: "a-${SET}-c"
        """,
    )

    spec = load_manifest(path, environ={"SET": "s3cr3t", "EMPTY": ""}).functions["api"]

    assert {k: (v.value, v.sensitive) for k, v in spec.variables.items()} == {
        "DEFAULTED": ("shown", False),
        "EMPTY_DEFAULT": ("", False),
        "EMPTY_VALUE_DEFAULTED": ("shown-too", False),
        "FROM_ENV_OVER_DEFAULT": ("s3cr3t", True),
        "MIXED_DEFAULT": ("a-b-c", False),
        "MIXED_ENV": ("a-s3cr3t-c", True),
    }
    assert spec.variables["DEFAULTED"].display() == "shown" and spec.variables["MIXED_ENV"].display() == "(sensitive)"


# --- bad environments ---------------------------------------------------------------------------------------


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, MANIFEST)

    assert issues(path, "stagng") == [
        (20, "environments", "unknown environment 'stagng' (did you mean 'staging'?); the manifest defines: staging, production, empty")
    ]


def test_environment_on_a_manifest_without_environments(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nfunctions: {}\n")

    assert issues(path, "staging") == [(0, "", "unknown environment 'staging': the manifest has no `environments:` section")]


def test_override_of_an_undeclared_function_points_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, MANIFEST.replace("      api:\n        schedule", "      apii:\n        schedule"))

    expected = (24, "environments.staging.functions.apii", "no function 'apii' in `functions:` (did you mean 'api'?); an environment can only override functions the manifest declares")
    assert issues(path, None) == [expected]  # the shape of every environment is checked on every load
    assert issues(path, "production") == [expected]


def test_bad_override_values_are_reported_at_their_line_when_selected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 1
        functions:
          api: {name: API, runtime: node-22}
        environments:
          production:
            endpoint: ftp://nope
            defaults:
              timeout: 5000
            functions:
              api:
                schedule: "0 0 31 2 *"
                variables:
                  LIST: [a]
                  TOKEN: ${PROD_TOKEN}
        """,
    )

    assert load_manifest(path, environ={}).functions["api"].timeout == 15  # values are checked when selected
    found = issues(path, "production")

    assert [(line, field) for line, field, _ in found] == [
        (6, "environments.production.endpoint"),
        (8, "environments.production.defaults.timeout"),
        (11, "environments.production.functions.api.schedule"),
        (13, "environments.production.functions.api.variables.LIST"),
        (14, "environments.production.functions.api.variables.TOKEN"),
    ]
    assert "between 1 and 900" in found[1][2] and "can never fire" in found[2][2] and "PROD_TOKEN is not set" in found[4][2]


def test_shape_problems_in_environments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 1
        functions:
          api: {name: API, runtime: node-22}
        environments:
          -bad: {}
          staging:
            projet: p
            functions:
              api:
                timout: 5
          production: [a]
          qa:
            functions: nope
          dev:
            defaults: {runtme: x}
        """,
    )

    assert issues(path, None) == [
        (5, "environments.-bad", "an environment name is 1-64 letters, digits, `-` or `_`, starting with a letter or digit"),
        (7, "environments.staging.projet", "unknown key 'projet' (did you mean 'project'?)"),
        (10, "environments.staging.functions.api.timout", "unknown key 'timout' (did you mean 'timeout'?)"),
        (11, "environments.production", "must be a mapping, not a list"),
        (13, "environments.qa.functions", "must be a mapping, not text"),
        (15, "environments.dev.defaults.runtme", "unknown key 'runtme' (did you mean 'runtime'?)"),
    ]
    assert issues(path, "staging")[1:3] == issues(path, None)[1:3]  # reported once, not again by the selected merge


def test_section_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nfunctions: {}\nenvironments: [staging]\n")

    assert issues(path, None) == [(3, "environments", "must be a mapping of environment names to overrides, not a list")]


def test_every_environment_issue_at_once_and_named_when_not_obvious(tmp_path: Path) -> None:
    for folder in ("code", "other"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "code" / "main.py").write_text("")
    path = write(
        tmp_path,
        """\
        version: 1
        functions:
          api:
            name: API
            runtime: node-22
            path: code
            entrypoint: main.py
            timeout: 0
        environments:
          staging:
            functions:
              api: {timeout: 2000}
          production:
            functions:
              api: {path: other, timeout: 5}
        """,
    )

    with pytest.raises(ManifestError) as caught:
        load_every_environment(path, environ={})

    assert [(i.line, i.field, i.message) for i in caught.value.issues] == [
        (7, "functions.api.entrypoint", "file 'main.py' not found in 'other' (with environment production)"),
        (8, "functions.api.timeout", "must be between 1 and 900 seconds"),  # the manifest as written; production fixes it
        (12, "environments.staging.functions.api.timeout", "must be between 1 and 900 seconds"),
    ]


# --- end to end: staging and production on two local servers ------------------------------------------------

API_KEY = secrets.token_hex(16)  # one key for both servers: CI would pass each job its own APPWRITE_API_KEY
MAIN_PY = 'import os\n\ndef main(context):\n    return context.res.json({"mode": os.environ.get("MODE")})\n'
E2E = """\
version: 1
defaults:
  runtime: python-3.12
functions:
  api:
    name: API
    path: fn/api
    entrypoint: main.py
    schedule: "0 * * * *"
    variables:
      MODE: base
      TOKEN: ${{TOKEN}}
environments:
  staging:
    endpoint: {staging}
    project: stage
    functions:
      api:
        schedule: "*/5 * * * *"
        variables: {{MODE: staging}}
  production:
    endpoint: {production}
    project: prod
    functions:
      api:
        schedule: "0 3 * * *"
        variables: {{MODE: production}}
"""


def _server(data_dir: Path, project: str) -> tuple[LocalServer, _ThreadedUvicorn]:
    """Like `start_local_server`, but serving project `project` (so the two environments' projects differ)."""
    config = ServerConfig(data_dir=data_dir, project_id=project, api_key=API_KEY)
    runner = _ThreadedUvicorn(config)
    runner.start()
    return LocalServer(f"http://127.0.0.1:{runner.port}/v1", project, API_KEY, data_dir, config), runner


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, LocalServer]]:
    started = {name: _server(tmp_path / f"{name}-data", project) for name, project in (("staging", "stage"), ("production", "prod"))}
    try:
        yield {name: server for name, (server, _) in started.items()}
    finally:
        for _, runner in started.values():
            runner.stop()


@pytest.fixture
def e2e(tmp_path: Path, servers: dict[str, LocalServer]) -> Path:
    folder = tmp_path / "project"
    (folder / "fn" / "api").mkdir(parents=True)
    (folder / "fn" / "api" / "main.py").write_text(MAIN_PY)
    text = E2E.format(staging=servers["staging"].endpoint, production=servers["production"].endpoint)
    return write(folder, text, env="TOKEN=dev-token\n", staging="TOKEN=staging-secret\n", production="TOKEN=production-secret\n")


def fnsync(manifest: Path, *args: str, fnsync_env: str | None = None) -> Result:
    environ = {"APPWRITE_API_KEY": API_KEY, "APPWRITE_ENDPOINT": None, "APPWRITE_PROJECT_ID": None, "FNSYNC_ENV": fnsync_env}
    return support.fnsync(manifest, environ, *args)


SENSITIVE_RECORD = {"FNSYNC_SECRET_DIGESTS": '{"fnsync":1,"sensitive":["TOKEN"]}'}  # 1.6: the keys applied as sensitive


def server_state(server: LocalServer) -> dict[str, object]:
    """The manifest's functions as the server holds them, read with plain HTTP (not with fnsync); other
    functions (e.g. an apply lock's) are left out."""
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key}
    with httpx.Client(base_url=server.endpoint, headers=headers) as http:
        functions = http.get("/functions").raise_for_status().json()["functions"]
        state: dict[str, object] = {}
        for function in functions:
            if function["$id"] != "api":
                continue
            variables = http.get(f"/functions/{function['$id']}/variables").raise_for_status().json()["variables"]
            state[function["$id"]] = {
                "schedule": function["schedule"],
                "variables": {v["key"]: v["value"] for v in variables},
                "deployment": bool(function["deployment"]),
            }
        return state


def test_staging_and_production_each_plan_and_apply_their_own_diff(e2e: Path, servers: dict[str, LocalServer]) -> None:
    staging_plan = fnsync(e2e, "plan", "--env", "staging", "--detailed-exitcode")
    production_plan = fnsync(e2e, "plan", "--json", fnsync_env="production")

    assert staging_plan.exit_code == 2, staging_plan.output
    assert 'variable MODE = "staging"' in staging_plan.stdout and "*/5 * * * *" in staging_plan.stdout
    assert "Environment staging" in staging_plan.stderr
    assert production_plan.exit_code == 0, production_plan.output
    production_json = json.dumps(json.loads(production_plan.stdout))
    assert '"production"' in production_json and "0 3 * * *" in production_json and "*/5" not in production_json
    for result in (staging_plan, production_plan):
        assert "secret" not in result.output and "dev-token" not in result.output  # from .env files: sensitive

    applied = fnsync(e2e, "apply", "--env", "staging", "--yes")

    assert applied.exit_code == 0, applied.output
    assert server_state(servers["staging"]) == {
        "api": {"schedule": "*/5 * * * *", "variables": {"MODE": "staging", "TOKEN": "staging-secret", **SENSITIVE_RECORD}, "deployment": True}
    }
    assert server_state(servers["production"]) == {}  # another endpoint and project: untouched
    assert "No changes" in fnsync(e2e, "plan", "--env", "staging").stdout
    assert fnsync(e2e, "plan", "--env", "production", "--detailed-exitcode").exit_code == 2

    executed = fnsync(e2e, "exec", "api", "--env", "staging", "-X", "GET")
    assert executed.exit_code == 0 and '"mode": "staging"' in executed.stdout.replace('":"', '": "'), executed.output

    applied = fnsync(e2e, "apply", "--yes", fnsync_env="production")

    assert applied.exit_code == 0, applied.output
    assert server_state(servers["production"]) == {
        "api": {"schedule": "0 3 * * *", "variables": {"MODE": "production", "TOKEN": "production-secret", **SENSITIVE_RECORD}, "deployment": True}
    }
    assert server_state(servers["staging"])["api"]["variables"]["MODE"] == "staging"  # type: ignore[index]
    assert fnsync(e2e, "plan", "--env", "production", "--detailed-exitcode").exit_code == 0


def test_unknown_environment_fails_before_anything_is_read_or_written(e2e: Path, servers: dict[str, LocalServer]) -> None:
    for command in (("plan", "--env", "prod"), ("apply", "--env", "prod", "--yes"), ("validate", "--env", "prod")):
        result = fnsync(e2e, *command)

        assert result.exit_code == 1, result.output
        assert "unknown environment 'prod'; the manifest defines: staging, production" in result.output
    assert server_state(servers["staging"]) == {} and server_state(servers["production"]) == {}


def test_validate_checks_every_environment_without_env(tmp_path: Path) -> None:
    path = write(tmp_path, MANIFEST.replace("        timeout:\n", "        timeout: 0\n"))

    every = fnsync(path, "validate")
    staging = fnsync(path, "validate", "--env", "staging")
    as_json = fnsync(path, "validate", "--json")

    assert every.exit_code == 1 and "functions.yaml:39: environments.production.functions.api.timeout: must be between" in every.stdout
    assert staging.exit_code == 0 and "OK (2 functions, environment staging)" in staging.stdout
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["issues"][0]["field"] == "environments.production.functions.api.timeout"
    fixed = fnsync(write(tmp_path, MANIFEST), "validate")
    assert fixed.exit_code == 0 and "OK (2 functions, environments: staging, production, empty)" in fixed.stdout


def test_manifests_in_the_environments_docs_are_valid_in_every_environment(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "docs" / "environments.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL) if b.startswith("version: 1")]
    assert blocks
    for block in blocks:
        environ = {name: "set" for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", block)}
        source = tmp_path / "functions.yaml"
        names = parse_manifest_text(block, source, environ, check_files=False).environments
        assert names == ("staging", "production")
        for name in names:
            assert parse_manifest_text(block, source, environ, check_files=False, env=name).environment == name


WATCHED = """\
version: 1
functions:
  api:
    name: API
    runtime: python-3.12
    timeout: 10
    variables:
      GREETING: {value: "${GREETING:-none}", secret: false}  # readable, so the test can see it on 1.7+ too
environments:
  staging:
    functions:
      api: {timeout: 20}
"""


async def test_watch_keeps_its_environment_across_reloads_and_reads_dotenv_name(tmp_path: Path, local_server: LocalServer) -> None:
    from syncer.watch import Watcher, WatchOptions
    from tests.helpers import async_wait_until

    path = write(tmp_path / "project", WATCHED)
    async with support.open_client(local_server) as client:

        async def server_has(timeout: int, greeting: str) -> bool:
            function = await client.get_function("api")
            variables = {v.key: v.value for v in await client.list_variables("api")} if function else {}
            return function is not None and function.timeout == timeout and variables.get("GREETING") == greeting

        watcher = Watcher(load_manifest(path, environ={}, env="staging"), client, environ={}, options=WatchOptions())
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop))
        try:
            await asyncio.wait_for(watcher.ready.wait(), 20)
            await async_wait_until(lambda: server_has(20, "none"), timeout=20, what="staging's timeout at start")
            (path.parent / ".env.staging").write_text("GREETING=hola\n")
            await async_wait_until(lambda: server_has(20, "hola"), timeout=20, what="the value from .env.staging")
            path.write_text(WATCHED.replace("timeout: 20", "timeout: 30"))
            await async_wait_until(lambda: server_has(30, "hola"), timeout=20, what="the reloaded staging override")
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
