"""The manifest layer: `functions.yaml` -> a validated, frozen `Manifest`, or one `ManifestError` listing every issue.

The pipeline, each stage adding issues to one `Document` and the next running only when it can:

1. `loader.load_yaml`: text -> raw data with line marks (syntax errors, duplicate keys);
2. `interpolate.interpolate_document`: `${NAME}` from the environment and `.env`;
3. `schema.validate_input`: keys, types and Appwrite's field rules (pydantic collects every failure);
4. `schema.build_manifest`: defaults merged, cross-field rules, code folders on disk.

Later sections (e.g. per-environment overlays) slot in between 1 and 2 as transforms of the raw data.
Server-dependent checks (runtime, specification) run at plan time: `check_against_server`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from syncer.manifest.errors import ManifestError, ManifestIssue, display_path
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
    "load_manifest",
    "parse_manifest_text",
]

DOTENV_NAME = ".env"
EXTENSION_PREFIX = "x-"  # top-level keys ignored by fnsync, e.g. to hold YAML anchors


def load_manifest(path: Path, environ: Mapping[str, str] | None = None) -> Manifest:
    """Read and validate a manifest file; `environ` defaults to the process environment."""
    path = Path(path)
    file = display_path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ManifestError([ManifestIssue(file=file, message="manifest not found")]) from None
    except UnicodeDecodeError as exc:
        raise ManifestError([ManifestIssue(file=file, message=f"not UTF-8 text ({exc.reason})")]) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ManifestError([ManifestIssue(file=file, message=f"can't read the manifest: {reason}")]) from None
    return parse_manifest_text(text, path, environ)


def parse_manifest_text(
    text: str,
    source: Path,
    environ: Mapping[str, str] | None = None,
    *,
    dotenv_text: str | None = None,
    files_root: Path | None = None,
    check_files: bool = True,
) -> Manifest:
    """Validate manifest `text` as if it were the file `source` (paths in it are relative to `source`'s folder).

    `dotenv_text` replaces reading `.env` beside `source` (pass "" for none). File checks (path, entrypoint,
    include) look under `files_root` (default: `source`'s folder), e.g. a checkout of a git commit;
    `check_files=False` skips them.
    """
    source = Path(os.path.abspath(source))
    document = load_yaml(text, display_path(source))
    if document.issues and document.data is None:
        raise ManifestError(document.issues)
    if not isinstance(document.data, dict):
        document.add_issue((), "a manifest must be a mapping with `version: 1` and `functions`")
        raise ManifestError(document.issues)
    document.data = {key: value for key, value in document.data.items() if not key.startswith(EXTENSION_PREFIX)}

    variables = _variables(source, environ, dotenv_text, document)
    interpolated = interpolate_document(document, variables)
    parsed, failed = validate_input(interpolated.data, document, skip=interpolated.failed_paths)
    root = (files_root or source.parent) if check_files else None
    if parsed is None:
        defaults, valid = salvage_functions(interpolated.data, failed)
        build_functions(defaults, valid, document, source, interpolated.sensitive_paths, root)
        raise ManifestError(document.issues)
    manifest = build_manifest(parsed, document, source, interpolated.sensitive_paths, root)
    if manifest is None or document.issues:
        raise ManifestError(document.issues)
    return manifest


def _variables(source: Path, environ: Mapping[str, str] | None, dotenv_text: str | None, document: Document) -> dict[str, str]:
    """`.env` values overlaid by the environment: the environment wins."""
    dotenv_path = source.parent / DOTENV_NAME
    if dotenv_text is None:
        values, issues = load_dotenv_file(dotenv_path)
    else:
        values, issues = read_dotenv(dotenv_text, display_path(dotenv_path))
    document.issues.extend(issues)
    return {**values, **(os.environ if environ is None else environ)}

