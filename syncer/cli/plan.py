"""`fnsync plan`: show what apply would change. Reads only; never writes to the server."""

from __future__ import annotations

from pathlib import Path

import click

from syncer.cli.common import (
    connection_options,
    json_option,
    load_or_abort,
    manifest_options,
    run,
    selection_options,
    session,
)
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.plan import PlanOptions
from syncer.planfile import write_planfile
from syncer.render import plan_to_json, render_plan


@click.command("plan")
@manifest_options
@selection_options
@json_option("Print the plan as JSON (format_version 1, see docs/plan-apply.md).")
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
    with session(terminal, manifest, endpoint, project) as s:
        the_plan, _, packages = run(s.plan(PlanOptions(targets=targets, prune=prune)))
        if as_json:
            s.emit_json(plan_to_json(the_plan))
        else:
            s.emit(render_plan(the_plan, manifest_name=manifest.source.name))
        if out is not None:
            write_planfile(out, the_plan, manifest, {fid: p.code_hash for fid, p in packages.items()})
            terminal.info(f"Saved the plan to {out}; apply it with `fnsync apply {out}`.")
    if detailed_exitcode and the_plan.has_changes:
        raise SystemExit(2)
