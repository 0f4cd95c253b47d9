"""A manifest read from a commit: it may see only a scrubbed environment and package only files of its commit.

Paths are checked for leaving the repository *before* anything on disk is looked at, so a path outside gets the
same one message whether it exists on the receiver's host or not (the file checks would otherwise answer
"not found" for one and pass the other, telling a pusher which host paths exist).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from syncer.manifest import ManifestError, load_manifest, parse_manifest_text
from syncer.manifest.models import FunctionSpec, Manifest
from webhook.config import TOKEN_VARS
from webhook.errors import TerminalError

# The receiver's own credentials: a manifest in git must never be able to copy them into a variable.
PRIVATE_ENV = ("FNSYNC_WEBHOOK_SECRET", "FNSYNC_ADMIN_TOKEN", *TOKEN_VARS, "APPWRITE_API_KEY")


def manifest_environ(environ: Mapping[str, str], secrets: set[str]) -> dict[str, str]:
    """The environment `${...}` in a manifest from git may read: everything but the receiver's secrets."""
    return {k: v for k, v in environ.items() if k not in PRIVATE_ENV and v not in secrets}


def load_from_tree(path: Path, tree: Path, environ: Mapping[str, str], env: str | None) -> Manifest:
    """Validate without touching the disk, refuse paths leaving `tree`, then validate with the file checks.

    Raises `ManifestError` (invalid manifest) or `TerminalError` (a path leaves the repository)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TerminalError(f"cannot read the manifest: {exc}") from exc
    unchecked = parse_manifest_text(text, path, environ, env=env, check_files=False)
    for spec in unchecked.functions.values():
        check_inside(tree, spec, unchecked)
    return load_manifest(path, environ=environ, env=env)


def check_inside(tree: Path, spec: FunctionSpec, manifest: Manifest | None) -> None:
    """A manifest from git may only package files of its own commit (no `path: ../../etc`)."""
    root = tree.resolve()
    if spec.path is not None and not spec.path.resolve().is_relative_to(root):
        raise TerminalError(f"function {spec.id}: path leaves the repository")
    for include in spec.include:
        if include.startswith("/") or ".." in PurePosixPath(include).parts:
            raise TerminalError(f"function {spec.id}: include {include!r} leaves the repository")
    if manifest is not None and not manifest.root.resolve().is_relative_to(root):
        raise TerminalError("the manifest lies outside the repository")
