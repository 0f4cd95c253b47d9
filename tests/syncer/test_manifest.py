"""Loading good manifests: the example, defaults, interpolation, sensitivity, and the server checks."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from syncer.manifest import (
    GitSettings,
    ManifestError,
    VariableValue,
    check_against_server,
    load_manifest,
    parse_manifest_text,
)

REPO = Path(__file__).resolve().parents[2]


def write(folder: Path, text: str, name: str = "functions.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """A code folder `src/` with `main.py` beside the manifest."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("def main(context):\n    return context.res.empty()\n")
    return tmp_path


def test_example_manifest_loads_with_no_environment() -> None:
    manifest = load_manifest(REPO / "functions.yaml.example", environ={})

    assert list(manifest.functions) == ["hello-api", "cleanup", "on-signup"]
    api, cleanup, signup = manifest.functions.values()
    assert api.runtime == "python-3.12" and api.entrypoint == "main.py" and api.execute == ("any",)
    assert api.path == REPO / "examples" / "functions" / "hello-api"
    assert api.variables["LOG_LEVEL"] == VariableValue(value="info", sensitive=False)  # the manifest's own default
    assert api.variables["GREETING"] == VariableValue(value="Hello", sensitive=False)
    assert cleanup.schedule == "*/15 * * * *" and cleanup.runtime.startswith("node-")
    assert cleanup.variables["MAX_AGE_HOURS"].value == "24"
    assert signup.events == ("users.*.create",) and signup.scopes == ("users.read",)
    assert all((spec.path / spec.entrypoint).is_file() for spec in manifest.functions.values() if spec.path)
    assert manifest.prune.keep == ("legacy-*",)
    assert manifest.source == REPO / "functions.yaml.example"


def test_example_manifest_reads_the_environment() -> None:
    manifest = load_manifest(REPO / "functions.yaml.example", environ={"HELLO_LOG_LEVEL": "debug", "APP_ENV": "prod"})

    api = manifest.functions["hello-api"]
    assert api.variables["LOG_LEVEL"].value == "debug"
    assert api.variables["APP_ENV"] == VariableValue(value="prod", sensitive=True)
    assert manifest.sensitive_values() == {"debug", "prod"}


def test_minimal_function_gets_appwrite_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nfunctions:\n  api:\n    name: API\n    runtime: node-22\n")

    spec = load_manifest(path, environ={}).functions["api"]

    assert (spec.id, spec.name, spec.runtime, spec.path, spec.timeout) == ("api", "API", "node-22", None, 15)
    assert (spec.enabled, spec.logging, spec.execute, spec.specification, spec.git) == (True, True, (), None, None)
    assert spec.line == 3 and spec.lines == {"name": 4, "runtime": 5}


def test_defaults_merge_under_each_function(code: Path) -> None:
    path = write(
        code,
        """\
        version: 1
        defaults:
          runtime: python-3.12
          path: src
          entrypoint: main.py
          timeout: 30
          execute: [users]
          variables: {A: "1", B: "2"}
          git: {installationId: inst, branch: main}
        functions:
          one:
            name: One
            timeout: 5
            variables: {B: "20", C: "30"}
            git: {repositoryId: repo, rootDirectory: one}
          two:
            name: Two
            execute: []
        """,
    )

    one, two = load_manifest(path, environ={}).functions.values()

    assert (one.runtime, one.timeout, one.execute) == ("python-3.12", 5, ("users",))
    assert {k: v.value for k, v in one.variables.items()} == {"A": "1", "B": "20", "C": "30"}
    assert one.git == GitSettings(installation_id="inst", repository_id="repo", branch="main", root_directory="one")
    assert (two.timeout, two.execute, two.path) == (30, (), code / "src")
    assert {k: v.value for k, v in two.variables.items()} == {"A": "1", "B": "2"}
    assert one.lines["runtime"] == 3 and one.lines["timeout"] == 13  # where each value was written


def test_scalars_keep_their_text_and_types_come_from_the_schema(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: "1"
        functions:
          "123":
            name: 123
            runtime: python-3.12
            timeout: "20"
            enabled: False
            logging: true
            variables:
              VERSION: 1.10
              ENABLED: yes
              EMPTY:
              NULL_WORD: ~
              QUOTED: "no"
              DATE: 2024-01-01
        """,
    )

    spec = load_manifest(path, environ={}).functions["123"]

    assert (spec.name, spec.timeout, spec.enabled, spec.logging) == ("123", 20, False, True)
    values = {k: v.value for k, v in spec.variables.items()}
    assert values == {"VERSION": "1.10", "ENABLED": "yes", "EMPTY": "", "NULL_WORD": "", "QUOTED": "no", "DATE": "2024-01-01"}


def test_interpolation_from_environment_dotenv_and_defaults(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# local settings\nFROM_DOTENV=dotenv-value\nBOTH=from-dotenv\nexport QUOTED='a b'\n")
    path = write(
        tmp_path,
        """\
        version: 1
        functions:
          api:
            name: ${NAME:-Default name}
            runtime: python-3.12
            timeout: ${TIMEOUT:-42}
            variables:
              ENV: ${FROM_ENV}
              DOTENV: ${FROM_DOTENV}
              BOTH: ${BOTH}
              QUOTED: ${QUOTED}
              EMPTY_USES_DEFAULT: ${EMPTY:-fallback}
              MIXED: "prefix-${FROM_ENV}-suffix"
              ESCAPED: $${NOT_INTERPOLATED} and $HOME
              PLAIN: plain
        """,
    )

    spec = load_manifest(path, environ={"FROM_ENV": "env-value", "BOTH": "from-env", "EMPTY": ""}).functions["api"]

    assert spec.name == "Default name" and spec.timeout == 42
    values = {k: v.value for k, v in spec.variables.items()}
    assert values == {
        "ENV": "env-value",
        "DOTENV": "dotenv-value",
        "BOTH": "from-env",  # the environment wins over .env
        "QUOTED": "a b",
        "EMPTY_USES_DEFAULT": "fallback",
        "MIXED": "prefix-env-value-suffix",
        "ESCAPED": "${NOT_INTERPOLATED} and $HOME",
        "PLAIN": "plain",
    }
    sensitive = {k for k, v in spec.variables.items() if v.sensitive}
    assert sensitive == {"ENV", "DOTENV", "BOTH", "QUOTED", "MIXED"}  # a default written here is not a secret
    assert spec.variables["ENV"].display() == "(sensitive)"
    assert spec.variables["PLAIN"].display() == "plain"


def test_defaults_variables_keep_their_sensitivity(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 1
        defaults:
          variables: {SECRET: "${TOKEN}", OPEN: open}
        functions:
          api: {name: API, runtime: node-22}
        """,
    )

    spec = load_manifest(path, environ={"TOKEN": "s3cr3t"}).functions["api"]

    assert spec.variables["SECRET"] == VariableValue(value="s3cr3t", sensitive=True)
    assert spec.variables["OPEN"].sensitive is False


def test_environment_defaults_to_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNSYNC_TEST_RUNTIME", "node-22")
    path = write(tmp_path, "version: 1\nfunctions:\n  api: {name: API, runtime: '${FNSYNC_TEST_RUNTIME}'}\n")

    assert load_manifest(path).functions["api"].runtime == "node-22"


def test_yaml_merge_keys_and_extension_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 1
        x-common: &common
          runtime: python-3.12
          timeout: 60
        functions:
          a:
            <<: *common
            name: A
            timeout: 5
          b:
            <<: *common
            name: B
        """,
    )

    a, b = load_manifest(path, environ={}).functions.values()

    assert (a.runtime, a.timeout, b.runtime, b.timeout) == ("python-3.12", 5, "python-3.12", 60)


def test_full_function_settings(code: Path) -> None:
    (code / "shared").mkdir()
    (code / "shared" / "util.py").write_text("")
    path = write(
        code,
        """\
        version: 1
        endpoint: https://cloud.appwrite.io/v1
        project: my-project
        functions:
          api:
            name: API
            runtime: python-3.12
            path: ./src/../src
            include: [shared, "shared/*.py"]
            ignore: ["*.pyc", __pycache__]
            entrypoint: main.py
            commands: pip install -r requirements.txt
            execute: [any, guests, users, users/verified, "user:abc", "user:abc/unverified", "team:t1", "team:t1/owner", "member:m1", "label:vip"]
            events: [users.*.create, users.*.update.email, "databases.*.collections.*.documents.*.create", "buckets.*.files.*", teams.*]
            schedule: "@daily"
            timeout: 900
            enabled: false
            logging: false
            scopes: [users.read, databases.write, execution.write]
            specification: s-1vcpu-512mb
            git: {installationId: i1, repositoryId: r1, branch: main, rootDirectory: src, silentMode: true}
        prune:
          keep: ["keep-*"]
        """,
    )

    manifest = load_manifest(path, environ={})

    spec = manifest.functions["api"]
    assert (manifest.endpoint, manifest.project) == ("https://cloud.appwrite.io/v1", "my-project")
    assert spec.path == code / "src"
    assert spec.include == ("shared", "shared/*.py") and spec.ignore == ("*.pyc", "__pycache__")
    assert spec.commands == "pip install -r requirements.txt" and len(spec.execute) == 10 and len(spec.events) == 5
    assert (spec.schedule, spec.timeout, spec.enabled, spec.logging) == ("@daily", 900, False, False)
    assert spec.specification == "s-1vcpu-512mb"
    assert spec.git == GitSettings(installation_id="i1", repository_id="r1", branch="main", root_directory="src", silent_mode=True)
    assert manifest.prune.keep == ("keep-*",)


def test_parse_manifest_text_checks_files_under_a_given_root(tmp_path: Path, code: Path) -> None:
    text = "version: 1\nfunctions:\n  api: {name: API, runtime: node-22, path: src, entrypoint: main.py}\n"
    elsewhere = tmp_path / "elsewhere" / "functions.yaml"

    manifest = parse_manifest_text(text, elsewhere, {}, files_root=code, dotenv_text="")
    assert manifest.functions["api"].path == tmp_path / "elsewhere" / "src"

    with pytest.raises(ManifestError, match="folder 'src' not found"):
        parse_manifest_text(text, elsewhere, {}, dotenv_text="")
    assert parse_manifest_text(text, elsewhere, {}, check_files=False).functions["api"].entrypoint == "main.py"


def test_dotenv_text_replaces_the_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RUNTIME=from-file\n")
    text = "version: 1\nfunctions:\n  api: {name: API, runtime: '${RUNTIME}'}\n"

    manifest = parse_manifest_text(text, tmp_path / "functions.yaml", {}, dotenv_text="RUNTIME=from-text\n")

    assert manifest.functions["api"].runtime == "from-text"


def test_check_against_server_suggests_close_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 1
        defaults:
          runtime: python-3.13
        functions:
          a:
            name: A
            specification: s-1vcpu-512
          b:
            name: B
            runtime: node-22
        """,
    )
    manifest = load_manifest(path, environ={})

    issues = check_against_server(manifest, ["python-3.12", "node-22"], ["s-1vcpu-512mb", "s-2vcpu-2gb"])

    assert [(i.line, i.field) for i in issues] == [(3, "functions.a.runtime"), (7, "functions.a.specification")]
    assert "did you mean 'python-3.12'?" in issues[0].message
    assert "did you mean 's-1vcpu-512mb'?" in issues[1].message
    assert check_against_server(manifest, ["python-3.13", "node-22"], ["s-1vcpu-512"]) == []
    assert check_against_server(manifest, [], []) == []  # nothing to compare against


def _doc_blocks(language: str) -> list[str]:
    text = (REPO / "docs" / "manifest.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_manifests_in_the_docs_are_valid(tmp_path: Path) -> None:
    blocks = [block for block in _doc_blocks("yaml") if block.startswith("version: 1")]
    assert len(blocks) >= 4
    for block in blocks:
        environ = {name: "set" for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", block)}
        manifest = parse_manifest_text(block, tmp_path / "functions.yaml", environ, check_files=False)
        assert manifest.functions


def test_python_snippet_in_the_docs_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (snippet,) = _doc_blocks("python")
    monkeypatch.chdir(REPO)

    exec(compile(snippet, "docs/manifest.md", "exec"), {})  # noqa: S102 - our own documentation

    out = capsys.readouterr().out
    assert "hello-api python-3.12" in out and "'LOG_LEVEL': 'info'" in out
