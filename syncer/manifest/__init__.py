"""The manifest layer: `functions.yaml` -> a validated, frozen `Manifest`, or one `ManifestError` listing every issue.

The pipeline, each stage adding issues to one `Document` and the next running only when it can:

1. `loader.load_yaml`: text -> raw data with line marks (syntax errors, duplicate keys; a function defined twice
   is validated once per block, `duplicates.every_block_issues`);
2. `environments.select_environment`: the selected environment's overrides laid over the raw data;
3. `interpolate.interpolate_document`: `${NAME}` from the environment, `.env.NAME` and `.env`;
4. `schema.validate_input`: keys, types and Appwrite's field rules (pydantic collects every failure);
5. `schema.build_manifest`: defaults merged, cross-field rules, code folders on disk.

Server-dependent checks (runtime, specification) run at plan time: `check_against_server`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from syncer.manifest.duplicates import every_block_issues
from syncer.manifest.environments import check_environments, environment_names, select_environment
from syncer.manifest.errors import ManifestError, ManifestIssue, display_path, sort_issues
from syncer.manifest.interpolate import interpolate_document, load_dotenv_file, read_dotenv
from syncer.manifest.loader import Document, load_yaml
from syncer.manifest.models import FunctionSpec, GitSettings, Manifest, PruneSettings, VariableValue
from syncer.manifest.rules import check_against_server
from syncer.manifest.schema import build_functions, build_manifest, salvage_functions, validate_input

__all__ = [
    "FunctionSpec",
    "GitSettings",
    "Manifest",
    "ManifestError",
    "ManifestIssue",
    "PruneSettings",
    "VariableValue",
    "check_against_server",
    "load_every_environment",
    "load_manifest",
    "parse_manifest_text",
]

DOTENV_NAME = ".env"
EXTENSION_PREFIX = "x-"  # top-level keys ignored by fnsync, e.g. to hold YAML anchors


def load_manifest(path: Path, environ: Mapping[str, str] | None = None, env: str | None = None) -> Manifest:
    """Read and validate a manifest file; `environ` defaults to the process environment.

    `env` selects one of the manifest's `environments:` (its overrides, and `.env.NAME` over `.env`);
    an unknown name is a `ManifestError` listing the known ones.
    """
    path = Path(path)
    return parse_manifest_text(_read(path), path, environ, env=env)


def load_every_environment(path: Path, environ: Mapping[str, str] | None = None) -> dict[str | None, Manifest]:
    """The manifest as written (key None) and with each of its environments, or one `ManifestError` with every
    issue of them all (each once). What `fnsync validate` checks when no environment is named."""
    path = Path(path)
    text = _read(path)
    names = environment_names(load_yaml(text, display_path(path)).data)
    manifests: dict[str | None, Manifest] = {}
    issues: list[ManifestIssue] = []
    for name in (None, *names):
        try:
            manifests[name] = parse_manifest_text(text, path, environ, env=name)
        except ManifestError as error:
            issues.extend(_in_environment(issue, name, issues) for issue in error.issues)
    if issues:
        raise ManifestError(sort_issues(issues))
    return manifests


def _in_environment(issue: ManifestIssue, name: str | None, known: list[ManifestIssue]) -> ManifestIssue:
    """Name the environment in an issue that only it has, unless the issue's field already lies inside it."""
    if name is None or issue in known or issue.field.startswith(f"environments.{name}"):
        return issue
    return issue.model_copy(update={"message": f"{issue.message} (with environment {name})"})


def _read(path: Path) -> str:
    file = display_path(path)
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ManifestError([ManifestIssue(file=file, message="manifest not found")]) from None
    except UnicodeDecodeError as exc:
        raise ManifestError([ManifestIssue(file=file, message=f"not UTF-8 text ({exc.reason})")]) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ManifestError([ManifestIssue(file=file, message=f"can't read the manifest: {reason}")]) from None


def parse_manifest_text(
    text: str,
    source: Path,
    environ: Mapping[str, str] | None = None,
    *,
    dotenv_text: str | None = None,
    files_root: Path | None = None,
    check_files: bool = True,
    env: str | None = None,
    env_dotenv_text: str | None = None,
) -> Manifest:
    """Validate manifest `text` as if it were the file `source` (paths in it are relative to `source`'s folder).

    `dotenv_text` replaces reading `.env` beside `source` (pass "" for none), `env_dotenv_text` likewise
    `.env.NAME` for the selected environment `env`. File checks (path, entrypoint, include) look under
    `files_root` (default: `source`'s folder), e.g. a checkout of a git commit; `check_files=False` skips them.
    """
    source = Path(os.path.abspath(source))
    args = (source, environ, dotenv_text, files_root, check_files, env, env_dotenv_text)
    document = load_yaml(text, display_path(source))
    try:
        return _parse_document(document, *args)
    except ManifestError as error:
        issues = every_block_issues(document, error.issues, lambda n: _parse_document(load_yaml(text, document.file, n), *args))
        raise ManifestError(issues) from None


def _parse_document(
    document: Document,
    source: Path,
    environ: Mapping[str, str] | None,
    dotenv_text: str | None,
    files_root: Path | None,
    check_files: bool,
    env: str | None,
    env_dotenv_text: str | None,
) -> Manifest:
    """Stages 2-5 of the pipeline on a loaded document; a `ManifestError` with every issue when it fails."""
    if document.issues and document.data is None:
        raise ManifestError(document.issues)
    if not isinstance(document.data, dict):
        document.add_issue((), "a manifest must be a mapping with `version: 1` and `functions`")
        raise ManifestError(document.issues)
    document.data = {key: value for key, value in document.data.items() if not key.startswith(EXTENSION_PREFIX)}
    environments = check_environments(document)
    if not select_environment(document, env, environments):
        raise ManifestError(document.issues)

    variables = _variables(source, environ, document, dotenv_text, env, env_dotenv_text)
    interpolated = interpolate_document(document, variables)
    parsed, failed = validate_input(interpolated.data, document, skip=interpolated.failed_paths)
    root = (files_root or source.parent) if check_files else None
    if parsed is None:
        defaults, valid = salvage_functions(interpolated.data, failed)
        build_functions(defaults, valid, document, source, interpolated.sensitive_paths, root)
        raise ManifestError(document.issues)
    manifest = build_manifest(
        parsed, document, source, interpolated.sensitive_paths, root, environment=env, environments=environments
    )
    if manifest is None or document.issues:
        raise ManifestError(document.issues)
    return manifest


def _variables(
    source: Path,
    environ: Mapping[str, str] | None,
    document: Document,
    dotenv_text: str | None,
    env: str | None,
    env_dotenv_text: str | None,
) -> dict[str, str]:
    """`.env`, then `.env.NAME` for the selected environment over it, then the process environment over both."""
    values = _dotenv(source.parent / DOTENV_NAME, dotenv_text, document)
    if env is not None:
        values.update(_dotenv(source.parent / f"{DOTENV_NAME}.{env}", env_dotenv_text, document))
    return {**values, **(os.environ if environ is None else environ)}


def _dotenv(path: Path, text: str | None, document: Document) -> dict[str, str]:
    """A dotenv file's values (none when it does not exist), or `text` in its place; problems go to `document`."""
    if text is None:
        values, issues = load_dotenv_file(path)
    else:
        values, issues = read_dotenv(text, display_path(path))
    document.issues.extend(issues)
    return values
