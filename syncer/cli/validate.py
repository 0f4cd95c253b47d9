"""`fnsync validate`: check a manifest offline (no server needed) and list every issue."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from syncer.cli.common import env_option
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.manifest import ManifestError, load_every_environment, load_manifest
from syncer.manifest.errors import display_path


@click.command("validate")
@click.option(
    "-f",
    "--file",
    "manifest_path",
    type=click.Path(dir_okay=True, path_type=Path),
    default="functions.yaml",
    show_default=True,
    envvar="FNSYNC_MANIFEST",
    help="The manifest to check (env FNSYNC_MANIFEST).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@env_option
@pass_terminal
def validate(terminal: Terminal, manifest_path: Path, as_json: bool, env: str | None) -> None:
    """Check functions.yaml offline: syntax, keys, types, Appwrite's field rules and code folders.

    Without --env, the manifest as written and each of its environments are checked.
    Exits 1 when there is any issue. Runtimes and specifications are checked against the server by `plan`.
    """
    name = display_path(manifest_path)
    try:
        manifest = load_manifest(manifest_path, env=env) if env is not None else load_every_environment(manifest_path)[None]
    except ManifestError as error:
        if as_json:
            terminal.write(_json(name, ok=False, functions=0, issues=[i.model_dump() for i in error.issues]))
        else:
            for issue in error.issues:
                terminal.print(str(issue), markup=False)
            count = len(error.issues)
            terminal.error(f"{escape(name)}: {count} issue{'s' if count != 1 else ''}")
        raise SystemExit(1) from None
    count = len(manifest.functions)
    if as_json:
        terminal.write(_json(name, ok=True, functions=count, issues=[]))
    else:
        checked = f"environment {env}" if env else f"environments: {', '.join(manifest.environments)}"
        extra = f", {checked}" if env or manifest.environments else ""
        terminal.print(f"{name}: OK ({count} function{'s' if count != 1 else ''}{extra})", markup=False)


def _json(file: str, *, ok: bool, functions: int, issues: list[dict[str, object]]) -> str:
    return json.dumps({"file": file, "ok": ok, "functions": functions, "issues": issues}, indent=2) + "\n"
