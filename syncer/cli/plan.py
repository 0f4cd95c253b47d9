"""`fnsync plan`: show what apply would change. Reads only; never writes to the server."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from syncer.apply import make_plan
from syncer.cli.common import (
    Connection,
    connect,
    emit,
    connection_options,
    env_option,
    handle_errors,
    load_or_abort,
    manifest_option,
    run,
    secrets_of,
    selection_options,
)
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.manifest.models import Manifest
from syncer.plan import Plan, PlanOptions
from syncer.planfile import write_planfile
from syncer.render import plan_to_json, render_plan


@click.command("plan")
@manifest_option
@env_option
@selection_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (format_version 1, see docs/plan-apply.md).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for `fnsync apply FILE`.")
@connection_options
@pass_terminal
def plan(
    terminal: Terminal,
    manifest_file: Path,
    env: str | None,
    targets: tuple[str, ...],
    prune: bool,
    as_json: bool,
    detailed_exitcode: bool,
    out: Path | None,
    endpoint: str | None,
    project: str | None,
) -> None:
    """Show what `fnsync apply` would change on the server, field by field."""
    manifest = load_or_abort(terminal, manifest_file, env)
    options = PlanOptions(targets=targets, prune=prune)
    with connect(terminal, manifest, endpoint, project) as connection:
        secrets = secrets_of(manifest, connection)
        with handle_errors(terminal, secrets), tempfile.TemporaryDirectory(prefix="fnsync-") as tmp:
            the_plan, code_hashes = run(_plan(connection, manifest, options, Path(tmp)))
            if as_json:
                emit(terminal, json.dumps(plan_to_json(the_plan), indent=2) + "\n", secrets, raw=True)
            else:
                emit(terminal, render_plan(the_plan, manifest_name=manifest.source.name), secrets)
            if out is not None:
                write_planfile(out, the_plan, manifest, code_hashes)
                terminal.info(f"Saved the plan to {out}; apply it with `fnsync apply {out}`.")
    if detailed_exitcode and the_plan.has_changes:
        raise SystemExit(2)


async def _plan(connection: Connection, manifest: Manifest, options: PlanOptions, work_dir: Path) -> tuple[Plan, dict[str, str]]:
    """Plan with a fresh client; also return every packaged function's code hash (for a saved plan)."""
    async with connection.client(manifest) as client:
        the_plan, _, packages = await make_plan(manifest, client, options, work_dir=work_dir, cache=connection.cache(manifest))
        return the_plan, {fid: p.code_hash for fid, p in packages.items()}
