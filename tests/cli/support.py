"""Running `fnsync` as a new user would: in a folder of their own, with nothing configured unless a test says so."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from syncer.cli import cli

# Unset in every run so that the developer's own environment never decides a test's server.
CLEAN_ENV: dict[str, str | None] = {
    name: None
    for name in (
        "APPWRITE_ENDPOINT",
        "APPWRITE_PROJECT_ID",
        "APPWRITE_API_KEY",
        "FNSYNC_MANIFEST",
        "FNSYNC_ENV",
        "FNSYNC_LOCAL",
        "FNSYNC_COLOR",
        "NO_COLOR",
    )
}

MANIFEST = """\
version: 1
functions:
  hello:
    name: Hello
    runtime: python-3.12
    path: fn/hello
    entrypoint: main.py
"""


def new_project(root: Path, manifest: str = MANIFEST) -> Path:
    """A manifest and one function's code in `root`; returns the manifest's path."""
    (root / "fn" / "hello").mkdir(parents=True, exist_ok=True)
    (root / "fn" / "hello" / "main.py").write_text('def main(context):\n    return context.res.text("hi")\n')
    path = root / "functions.yaml"
    path.write_text(manifest)
    return path


def fnsync(*argv: str, env: Mapping[str, str | None] | None = None) -> Result:
    """`fnsync ARGV...` in process, from the current directory, with only `env` configured."""
    return CliRunner().invoke(cli, list(argv), env={**CLEAN_ENV, **(env or {})}, catch_exceptions=False)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}
