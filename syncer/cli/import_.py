"""`fnsync import`: write a manifest (and code) from a server's functions, or from an Appwrite CLI config."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.markup import escape

from syncer.cli.common import LOCAL_DATA, connect, connection_options, env_option, handle_errors, load_or_abort, manifest_file_option, run, target_option
from syncer.cli.target import check_embedded_fallback, local_requested
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.connection import resolve_connection
from syncer.reserved import is_reserved
from syncer.importer import ImporterError, ImportResult, check_free, import_from_cli_config, import_from_server
from syncer.manifest.models import Manifest
from syncer.packaging import PackagingError

EMPTY_SERVER = (
    "{server} has no functions: there is nothing to import, and no manifest was written. Check the server "
    "(--endpoint/--project or APPWRITE_ENDPOINT/APPWRITE_PROJECT_ID), or start a manifest by hand (see README)."
)


@click.command("import")
@click.option(
    "--out",
    "-o",
    default="functions.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The manifest to write; code folders, .env and .gitignore go beside it.",
)
@target_option
@click.option("--inline-values", is_flag=True, help="Write variable values into the manifest instead of ${NAME} + .env.")
@click.option("--force", is_flag=True, help="Overwrite an existing manifest and replace non-empty code folders.")
@click.option(
    "--from",
    "from_config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="APPWRITE_JSON",
    help="Convert an Appwrite CLI config (appwrite.json or appwrite.config.json) instead of reading a server.",
)
@manifest_file_option("With --env: the manifest whose environment says which server to read (env FNSYNC_MANIFEST).")
@env_option
@connection_options
@pass_terminal
def import_(
    terminal: Terminal,
    out: Path,
    targets: tuple[str, ...],
    inline_values: bool,
    force: bool,
    from_config: Path | None,
    manifest_file: Path,
    env: str | None,
    endpoint: str | None,
    project: str | None,
) -> None:
    """Adopt existing functions: write a manifest so that `fnsync plan` shows no changes.

    \b
    Which server: --endpoint/--project, else APPWRITE_ENDPOINT/APPWRITE_PROJECT_ID (key in
    APPWRITE_API_KEY); with --env NAME, the server of environment NAME of an existing manifest (-f).
    With no endpoint at all: the embedded local server of the output folder, but only when nothing
    names a real project (APPWRITE_PROJECT_ID or APPWRITE_API_KEY set refuses; --local means it).
    A server without functions writes nothing.

    \b
    What is written: settings, git settings and variables (values as ${NAME} in .env, or inline with
    --inline-values), plus each active deployment's code unpacked into functions/<ID>/. A function
    whose code cannot be downloaded or unpacked (no active deployment, a server that refuses the
    download, an archive fnsync cannot read) is written with its settings only, and the output says
    why. Code that does not round-trip is written, and flagged: `fnsync plan` will show a deploy.

    With --from APPWRITE_JSON: the functions of an Appwrite CLI config, whose code stays where it is;
    its projectId becomes `project:` (so plan/apply then need an endpoint).
    """
    if from_config is not None:
        env_flag = click.get_current_context().get_parameter_source("env") is click.core.ParameterSource.COMMANDLINE
        if endpoint or project or env_flag:
            raise click.UsageError("--endpoint, --project and --env choose a server to read; --from reads a file instead")
    with handle_errors(terminal):
        try:
            check_free(out, [], force)  # before connecting: the cheapest refusal first
            if from_config is not None:
                result = import_from_cli_config(from_config, out, targets=targets, inline_values=inline_values, force=force)
            else:
                source = _source_manifest(terminal, manifest_file, env)
                result = _from_server(terminal, out, targets, inline_values, force, source, endpoint, project)
        except (ImporterError, PackagingError) as exc:
            terminal.abort(str(exc))
    _report(terminal, result, from_config is not None)


def _source_manifest(terminal: Terminal, path: Path, env: str | None) -> Manifest | None:
    """With --env, the manifest whose environment names the server to read (loaded as `plan --env` would)."""
    if env is None:
        return None
    if not path.exists():
        terminal.abort(f"--env {env} reads the server of that environment from a manifest, and {path} does not exist")
    return load_or_abort(terminal, path, env)


def _from_server(
    terminal: Terminal,
    out: Path,
    targets: tuple[str, ...],
    inline_values: bool,
    force: bool,
    source: Manifest | None,
    endpoint: str | None,
    project: str | None,
) -> ImportResult:
    root = Path(os.path.abspath(out)).parent
    embedded = local_requested() or not resolve_connection(source, endpoint=endpoint, project=project).configured
    if embedded and not (root / LOCAL_DATA).exists() and not check_embedded_fallback(source):
        terminal.abort(EMPTY_SERVER.format(server=f"the embedded local server of {root} (it has no state yet)"))
    with connect(terminal, source, endpoint, project, root=root) as connection:
        settings = connection.settings
        assert settings.endpoint and settings.project

        async def go() -> ImportResult:
            async with connection.client(source) as client:
                if not [fn for fn in await client.list_functions() if not is_reserved(fn.id)]:
                    where = "the embedded local server" if connection.embedded else f"{settings.endpoint} project {settings.project}"
                    terminal.abort(EMPTY_SERVER.format(server=where))
                return await import_from_server(
                    client,
                    out,
                    targets=targets,
                    inline_values=inline_values,
                    force=force,
                    # The embedded server's address changes every run: never pin a manifest to it.
                    endpoint=None if connection.embedded else settings.endpoint,
                    project=None if connection.embedded else settings.project,
                )

        return run(go())


def _report(terminal: Terminal, result: ImportResult, converted: bool) -> None:
    if not result.functions:
        terminal.warning("the server has no functions: the manifest is empty")
    for function in result.functions:
        parts = []
        if function.code is not None:
            parts.append(f"{function.file_count} file(s) into {function.settings['path']}/")
        elif "path" in function.settings:
            parts.append(f"code in {function.settings['path']}/")
        else:
            parts.append("settings only")
        if function.variables:
            where = "inline" if result.inline_values else "${NAME} in .env"
            parts.append(f"{len(function.variables)} variable(s) ({where})")
        terminal.info(f"  {escape(function.id)}: {escape(', '.join(parts))}")
        for note in function.notes:
            terminal.warning(f"{escape(function.id)}: {escape(note)}")
    for note in result.notes:
        terminal.info(escape(note))
    written = [f"{result.manifest.name} ({len(result.functions)} function(s))"]
    if result.dotenv is not None:
        written.append(f"{result.dotenv.name} ({result.dotenv_names} value(s), keep it out of git)")
    if result.gitignore is not None:
        written.append(f"{result.gitignore.name} (ignores .env)")
    terminal.success(escape(f"Wrote {', '.join(written)} in {result.manifest.parent}."))
    if converted:
        terminal.info("Next: `fnsync validate`, then `fnsync plan` against your server.")
        return
    drifting = result.not_round_trip
    if drifting:
        ids = ", ".join(function.id for function in drifting)
        terminal.warning(escape(f"the code of {ids} does not round-trip: `fnsync plan` will show a deploy for it (see above)."))
    else:
        terminal.info("`fnsync plan` against the same server should now show no changes.")

