"""`fnsync rollback ID`: re-activate an earlier ready deployment; the manifest then differs from the server."""

from __future__ import annotations

import click

from syncer.cli.apply import confirm_apply
from syncer.cli.common import ServerChoice, optional_session, run, server_options, yes_option
from syncer.cli.deployments import when
from syncer.cli.locking import lock_options, project_lock
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.client import AppwriteClient
from syncer.history import HistoryError, Rollback, perform_rollback, plan_rollback
from syncer.render import short_hash


def describe_target(rollback: Rollback) -> str:
    target = rollback.target
    source = f"fnsync, code {short_hash(target.code_hash)}" if target.source == "fnsync" else target.source
    commit = f", commit {target.commit[:12]}" if target.commit else ""
    return f"deployment {target.id} (created {when(target.created_at)}, {source}{commit})"


@click.command("rollback")
@click.argument("function_id", metavar="ID")
@click.option("--to", "to", default=None, metavar="DEPLOYMENT", help="Activate this deployment (default: the previous ready one).")
@yes_option()
@lock_options
@server_options
@pass_terminal
def rollback(
    terminal: Terminal,
    function_id: str,
    to: str | None,
    yes: bool,
    lock_timeout: float,
    no_lock: bool,
    server: ServerChoice,
) -> None:
    """Re-activate the previous ready deployment of ID (or --to DEPLOYMENT). Builds nothing, uploads nothing."""
    with optional_session(terminal, server) as s:
        chosen = run(_choose(s.client(), function_id, to))
        if chosen.current == chosen.target.id:
            terminal.success(f"{describe_target(chosen)} is already active on {function_id}; nothing to do.")
            return
        was = chosen.current or "no active deployment"
        terminal.info(f"{function_id}: activate {describe_target(chosen)}, replacing {was}.")
        if not s.connection.embedded and not yes:
            confirm_apply(terminal, question="Roll back?", action="roll back")
        with project_lock(terminal, s.connection, s.manifest, f"fnsync rollback {function_id}", lock_timeout, no_lock):
            run(_activate(s.client(), chosen))
    s.emit(f"Rolled back {function_id}: {chosen.target.id} is active (was {was}).\n", raw=True)
    name = s.manifest.source.name if s.manifest is not None else "the manifest"
    terminal.warning(
        f"the server now differs from {name}: the next `fnsync plan` (or `fnsync drift`) shows {function_id}'s code "
        "as drift, and `fnsync apply` would deploy the manifest's code again. Run `fnsync apply` to return to the "
        "manifest, or change the manifest's code to keep this version."
    )


async def _choose(client: AppwriteClient, function_id: str, to: str | None) -> Rollback:
    async with client:
        return await plan_rollback(client, function_id, to)


async def _activate(client: AppwriteClient, chosen: Rollback) -> None:
    """Under the lock: activate only if the active deployment is still the one the user confirmed replacing."""
    async with client:
        function = await client.get_function(chosen.function_id)
        if function is None or function.deployment != chosen.current:
            now = function.deployment if function else "the function is gone"
            raise HistoryError(
                f"{chosen.function_id} changed since it was read (active now: {now or 'none'}); nothing was changed, run again"
            )
        await perform_rollback(client, chosen)
