"""The `fnsync` command line: the one place that wires the reconciler, the webhook and the local server.

Every error exits 1, usage errors included, because exit 2 means "there are changes" for
`fnsync plan --detailed-exitcode` and `fnsync drift`.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys

import click

from syncer.cli.terminal import Terminal

# name -> (module under syncer.cli, attribute, one-line help). Commands are imported only when run,
# so `fnsync --help` and every command start fast; the help lines here are what the root help lists.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("validate", "validate", "Check a manifest offline; every error names file, line and field."),
    "plan": ("plan", "plan", "Show what apply would change on the server."),
    "apply": ("apply", "apply", "Make the server match the manifest (or a saved plan)."),
    "watch": ("watch", "watch", "Redeploy functions on save during development."),
    "drift": ("drift", "drift", "Report what changed on the server by hand (exit 2 on drift)."),
    "deployments": ("deployments", "deployments", "List a function's deployments, their source and the active one."),
    "rollback": ("rollback", "rollback", "Re-activate a function's previous (or a named) ready deployment."),
    "unlock": ("unlock", "unlock", "Release a project lock whose holder is gone (after confirmation)."),
    "exec": ("exec_", "exec_", "Run a function and print its response."),
    "webhook": ("webhook", "webhook", "Receive git pushes and deploy the functions they touch."),
    "import": ("import_", "import_", "Write a manifest (and code) from a server's functions or an appwrite.json."),
    "local-server": ("local_server", "local_server", "Run the local Appwrite-compatible Functions server."),
    "schema": ("schema", "schema", "Print the manifest's JSON Schema (for editors)."),
    "completion": ("completion", "completion", "Print the shell completion script (bash, zsh, fish)."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        return self._load(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """click's lookup, with the nearest command name suggested for a typo (`aply` → apply)."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
            hint = f" Did you mean `fnsync {close[0]}`?" if close else " See `fnsync --help` for the commands."
            ctx.fail(f"No such command '{name}'.{hint}")
        return super().resolve_command(ctx, args)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, attribute, _ = COMMANDS[cmd_name]
        module = importlib.import_module(f"syncer.cli.{module_name}")
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_line) for name, (_, _, help_line) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="More output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less output (repeatable).")
@click.option(
    "--color/--no-color",
    default=None,
    envvar="FNSYNC_COLOR",
    help="Force or disable colors (env FNSYNC_COLOR). Default: colors on a terminal only.",
)
@click.version_option(package_name="fnsync", prog_name="fnsync")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, color: bool | None) -> None:
    """Keep Appwrite Functions in step with git.

    Connection settings come from --endpoint/--project, then APPWRITE_ENDPOINT,
    APPWRITE_PROJECT_ID and APPWRITE_API_KEY, then the manifest. With no endpoint
    at all, fnsync uses the embedded local server (state in .fnsync/local), unless
    something names a real project (APPWRITE_PROJECT_ID, APPWRITE_API_KEY, the
    manifest's project:): then it refuses, and --local says the local server is meant.
    Errors and their fixes: docs/troubleshooting.md.
    """
    if os.environ.get("NO_COLOR") and color is None:
        color = False
    ctx.obj = Terminal(verbosity=verbose - quiet, color=color)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: remaps click's usage-error exit 2 to 1 and hides tracebacks unless FNSYNC_DEBUG."""
    try:
        cli.main(args=argv, prog_name="fnsync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("FNSYNC_DEBUG"):
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (set FNSYNC_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
    sys.exit(0)
