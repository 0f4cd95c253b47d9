"""The manifest's JSON Schema (`fnsync schema`): in sync with its committed copy, and in agreement with
`fnsync validate` on every manifest the tests use, the example and the docs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from syncer.cli.schema import REGENERATE, schema_text
from syncer.json_schema import manifest_json_schema, missing_descriptions
from syncer.manifest import ManifestError, parse_manifest_text
from syncer.manifest.environments import environment_names
from tests.syncer.support import run_cli

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schema" / "functions.schema.json"
# Issues the schema can express: a manifest fnsync rejects with one of these must be rejected by the schema too.
STRUCTURAL = re.compile(
    r"^(unknown key |must be text, not|must be a list, not|must be a mapping, not|must be a whole number$|"
    r"must be true or false$|required$|at most \d+ entries are allowed$|unsupported manifest version)"
)
MANIFEST_TESTS = (
    "tests/syncer/test_manifest.py",
    "tests/syncer/test_manifest_errors.py",
    "tests/syncer/test_environments.py",
    "tests/syncer/test_cli_validate.py",
    "tests/syncer/test_manifest_property.py",
)


class Yaml12Loader(yaml.SafeLoader):
    """What an editor's YAML 1.2 parser sees: only true/false are booleans, dates stay text, keys are text."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def as_editor_reads(text: str) -> Any:
    def keys_as_text(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): keys_as_text(v) for k, v in value.items()}
        if isinstance(value, list):
            return [keys_as_text(v) for v in value]
        return value

    return keys_as_text(yaml.load(text, Loader=Yaml12Loader))  # noqa: S506 - a SafeLoader subclass


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """The validator the schema's `$schema` names (draft-07, which every yaml-language-server reads)."""
    schema = manifest_json_schema()
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft7Validator
    cls.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(schema)  # and a valid schema for newer tools too
    return cls(schema)


def test_committed_schema_is_current() -> None:
    assert COMMITTED.exists(), f"schema/functions.schema.json is missing; regenerate it with: {REGENERATE}"
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        f"schema/functions.schema.json is out of date with the manifest models; regenerate it with: {REGENERATE}"
    )


def test_every_manifest_key_is_described() -> None:
    missing = missing_descriptions()
    assert not missing, f"add a description (syncer/json_schema.py DESCRIPTIONS) for: {', '.join(missing)}"
    schema = manifest_json_schema()
    function = schema["$defs"]["FunctionInput"]["properties"]
    assert "Appwrite versions:" in function["specification"]["description"]  # the per-version notes are there
    assert function["timeout"]["default"] == 15 and function["enabled"]["default"] is True


def test_schema_command_prints_the_schema(tmp_path: Path) -> None:
    printed = run_cli({}, "schema")
    assert printed.exit_code == 0 and json.loads(printed.stdout) == manifest_json_schema()
    written = run_cli({}, "schema", "--output", str(tmp_path / "s.json"))
    assert written.exit_code == 0 and (tmp_path / "s.json").read_text() == schema_text()


def test_the_example_and_the_docs_validate(validator: jsonschema.protocols.Validator) -> None:
    texts = {"functions.yaml.example": (REPO / "functions.yaml.example").read_text()}
    for page in sorted((REPO / "docs").glob("*.md")):
        for index, block in enumerate(re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S)):
            if block.lstrip().startswith(("version:", "# yaml-language-server")):
                texts[f"{page.name} block {index + 1}"] = block
    assert len(texts) > 5
    for name, text in texts.items():
        errors = [e.message for e in validator.iter_errors(as_editor_reads(text))]
        assert not errors, f"{name}: {errors}"


BAD = {
    "unknown key": "version: 1\nfunctions:\n  api: {name: A, runtime: r, timout: 5}\n",
    "a list where text is wanted": "version: 1\nfunctions:\n  api: {name: [A], runtime: r}\n",
    "a word for a number": "version: 1\nfunctions:\n  api: {name: A, runtime: r, timeout: soon}\n",
    "too big a timeout": "version: 1\nfunctions:\n  api: {name: A, runtime: r, timeout: 901}\n",
    "yes for true": "version: 1\nfunctions:\n  api: {name: A, runtime: r, enabled: yes}\n",
    "execute not a list": "version: 1\nfunctions:\n  api: {name: A, runtime: r, execute: any}\n",
    "a list as a variable": "version: 1\nfunctions:\n  api: {name: A, runtime: r, variables: {K: [1]}}\n",
    "an unknown scope": "version: 1\nfunctions:\n  api: {name: A, runtime: r, scopes: [users.delete]}\n",
    "a bad function ID": "version: 1\nfunctions:\n  -api: {name: A, runtime: r}\n",
    "version 2": "version: 2\nfunctions: {}\n",
    "no version": "functions: {}\n",
    "no functions": "version: 1\n",
    "an unknown environment key": "version: 1\nfunctions: {}\nenvironments:\n  prod: {region: eu}\n",
    "a bad git key": "version: 1\nfunctions:\n  api: {name: A, runtime: r, git: {repo: x}}\n",
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_manifests_are_rejected_by_both(name: str, validator: jsonschema.protocols.Validator) -> None:
    text = BAD[name]
    with pytest.raises(ManifestError):
        parse_manifest_text(text, Path("functions.yaml"), {}, dotenv_text="", check_files=False)
    assert not validator.is_valid(as_editor_reads(text)), name


def test_values_as_the_loader_reads_them_are_accepted(validator: jsonschema.protocols.Validator) -> None:
    text = textwrap.dedent(
        """\
        version: "1"
        x-common: &common {runtime: python-3.12, timeout: "30"}
        functions:
          api:
            <<: *common
            name: 123
            enabled: "True"
            logging: ${LOGGING:-true}
            timeout: ${TIMEOUT:-10}
            schedule:
            variables: {PORT: 8080, VERSION: 1.10, EMPTY: , FLAG: yes, WHEN: 2024-01-01}
        environments:
          prod:
            functions:
              api: {timeout: 60}
          empty:
        """
    )
    parse_manifest_text(text, Path("functions.yaml"), {}, dotenv_text="", check_files=False)  # fnsync: valid
    errors = [e.message for e in validator.iter_errors(as_editor_reads(text))]
    assert not errors


@pytest.mark.slow
def test_every_manifest_in_the_tests(tmp_path: Path, validator: jsonschema.protocols.Validator) -> None:
    """Runs the manifest tests with a recorder, then: each manifest fnsync accepts (as written and with each of
    its environments) the schema accepts; each it rejects for a reason the schema can express, the schema rejects."""
    record = tmp_path / "manifests.jsonl"
    env = {**os.environ, "FNSYNC_RECORD_MANIFESTS": str(record)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.ci.record_manifests", "-p", "no:cacheprovider", *MANIFEST_TESTS],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert record.exists(), run.stdout[-2000:] + run.stderr[-2000:]
    seen: dict[str, dict[str, Any]] = {}
    for line in record.read_text().splitlines():
        item = json.loads(line)
        seen.setdefault(item["text"], item)
    accepted = rejected = 0
    for text, item in seen.items():
        verdict = fnsync_verdict(text, item["environ"], item["dotenv"])
        if verdict is None:
            continue
        try:
            data = as_editor_reads(text)
        except (yaml.YAMLError, RecursionError):  # recursive aliases: an editor cannot read them either
            continue
        if verdict == "valid":
            errors = [e.message for e in validator.iter_errors(data)]
            assert not errors, f"fnsync accepts, the schema rejects:\n{text}\n{errors}"
            accepted += 1
        elif "${" not in text:
            assert not validator.is_valid(data), f"fnsync rejects ({verdict}), the schema accepts:\n{text}"
            rejected += 1
    print(f"{len(seen)} manifests: {accepted} accepted by both, {rejected} rejected by both")
    assert accepted > 50 and rejected > 20, (accepted, rejected)


def fnsync_verdict(text: str, environ: dict[str, str], dotenv: str) -> str | None:
    """"valid" when the manifest loads as written and with each environment; the first structural issue when one
    load fails for a reason the schema can express; None otherwise (cron, files, unset variables, syntax...)."""
    try:
        names = environment_names(yaml.safe_load(text))
    except yaml.YAMLError:
        return None
    except Exception:  # noqa: BLE001 - odd YAML (aliases, tags): let fnsync judge it alone
        names = ()
    issues: list[str] = []
    for env in (None, *names):
        try:
            parse_manifest_text(text, Path("functions.yaml"), environ, dotenv_text=dotenv, env_dotenv_text="", check_files=False, env=env)
        except ManifestError as error:
            issues += [issue.message for issue in error.issues]
    if not issues:
        return "valid"
    structural = [message for message in issues if STRUCTURAL.match(message)]
    return structural[0] if structural else None
