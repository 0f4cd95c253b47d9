"""`fnsync validate`: check a manifest offline (no server needed) and list every issue."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from syncer.cli.common import env_option, json_option
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.manifest import ManifestError, load_every_environment, load_manifest
from syncer.manifest.environments import environment_names
from syncer.manifest.errors import display_path
from syncer.manifest.loader import load_yaml
from syncer.manifest.models import Manifest
from syncer.manifest.rules import suggest_runtime


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
@json_option("Print the result as JSON on stdout.")
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
            issues = [i.model_dump() for i in error.issues]
            terminal.write(_json(name, ok=False, functions=0, issues=issues, env=env, environments=_names(manifest_path)))
        else:
            for issue in error.issues:
                terminal.print(str(issue), markup=False)
            count = len(error.issues)
            terminal.error(f"{escape(name)}: {count} issue{'s' if count != 1 else ''}")
        raise SystemExit(1) from None
    warn_unknown_runtimes(terminal, manifest)
    count = len(manifest.functions)
    if as_json:
        terminal.write(_json(name, ok=True, functions=count, issues=[], env=env, environments=manifest.environments))
    else:
        checked = f"environment {env}" if env else f"environments: {', '.join(manifest.environments)}"
        extra = f", {checked}" if env or manifest.environments else ""
        terminal.print(f"{name}: OK ({count} function{'s' if count != 1 else ''}{extra})", markup=False)


def _names(path: Path) -> tuple[str, ...]:
    """The environments an invalid manifest defines, as far as its YAML can be read (none when it cannot)."""
    try:
        return environment_names(load_yaml(path.read_text(encoding="utf-8"), display_path(path)).data)
    except (OSError, ValueError):
        return ()


def _json(
    file: str, *, ok: bool, functions: int, issues: list[dict[str, object]], env: str | None, environments: tuple[str, ...]
) -> str:
    """`environment`: the one checked (`--env`), or null when the manifest as written and every environment were."""
    data = {"file": file, "ok": ok, "functions": functions, "environment": env, "environments": list(environments), "issues": issues}
    return json.dumps(data, indent=2) + "\n"


def warn_unknown_runtimes(terminal: Terminal, manifest: Manifest) -> None:
    """A runtime no Appwrite version fnsync knows offers (1.6 to Cloud 2.5) is most likely a typo; only a warning,
    as a server may be newer than fnsync: `plan` checks it against the real server's list."""
    from localserver.versions.runtime_ids import ALL_RUNTIMES  # the table of every known version's runtimes

    for spec in manifest.functions.values():
        if spec.runtime in ALL_RUNTIMES:
            continue
        where = f"{display_path(manifest.source)}:{spec.lines.get('runtime', spec.line)}"
        terminal.warning(
            escape(
                f"{where}: functions.{spec.id}.runtime: {spec.runtime!r} is not a runtime of any Appwrite version fnsync "
                f"knows (1.6 to 2.5){suggest_runtime(spec.runtime, ALL_RUNTIMES)}; `fnsync plan` checks it against your server"
            )
        )
