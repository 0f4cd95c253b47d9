"""`fnsync apply`: plan, confirm, and make the server match the manifest (or apply a saved plan)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from syncer.apply import ApplyResult, FunctionResult, Reporter, apply_plan
from syncer.cli.ci_output import apply_step_summary
from syncer.cli.common import (
    Session,
    connection_options,
    handle_errors,
    json_option,
    load_or_abort,
    manifest_options,
    run,
    selection_options,
    session,
    yes_option,
)
from syncer.cli.locking import lock_options, project_lock
from syncer.cli.target import server_label
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.manifest.models import Manifest
from syncer.plan import Action, ChangeKind, Plan, PlanOptions
from syncer.planfile import PlanFileError, SavedPlan, StalePlanError, read_planfile, restore_plan, stale_reasons
from syncer.render import apply_summary, render_plan, render_result, result_to_json


NO_WAIT_EMBEDDED = (
    "--no-wait: waiting for the builds anyway, because the embedded local server this command started stops when "
    "it exits and would leave them interrupted. Run `fnsync local-server` in another terminal to keep a server "
    "running; then --no-wait returns at once."
)


class ProgressReporter(Reporter):
    """One rich progress line per function while it is applied and its build runs (on stderr)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def function_started(self, function_id: str, changes: int) -> None:
        self.tasks[function_id] = self.progress.add_task(f"{function_id}: starting", total=None)

    def step(self, function_id: str, text: str) -> None:
        self.progress.update(self.tasks[function_id], description=f"{function_id}: {text}")

    def build_status(self, function_id: str, deployment_id: str, status: str) -> None:
        self.progress.update(self.tasks[function_id], description=f"{function_id}: build {deployment_id} {status}")

    def function_finished(self, result: FunctionResult) -> None:
        mark = "[green]✓[/green]" if result.ok else "[red]✗[/red]"
        self.progress.update(self.tasks[result.function_id], description=f"{mark} {result.function_id}", total=1, completed=1)


@click.command("apply")
@manifest_options
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@selection_options
@yes_option()
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64), help="Functions applied at once.")
@click.option("--no-wait", is_flag=True, help="Do not wait for builds (nor activate them explicitly).")
@json_option("Print the result as JSON (format_version 1).")
@lock_options
@connection_options
@pass_terminal
@click.pass_context
def apply(
    ctx: click.Context,
    terminal: Terminal,
    manifest_file: Path,
    env: str | None,
    planfile: Path | None,
    targets: tuple[str, ...],
    prune: bool,
    yes: bool,
    concurrency: int,
    no_wait: bool,
    as_json: bool,
    lock_timeout: float,
    no_lock: bool,
    endpoint: str | None,
    project: str | None,
) -> None:
    """Make the server match the manifest: create, update, set variables, deploy, build, activate.

    With PLANFILE (from `fnsync plan --out`), apply exactly that plan, refusing it when the server,
    the manifest or the code changed since it was made.
    """
    saved: SavedPlan | None = None
    if planfile is not None:
        if targets or prune:
            terminal.abort("--target and --prune cannot be used with a saved plan (the plan already fixes them)")
        with handle_errors(terminal):
            saved = read_planfile(planfile)
        if ctx.get_parameter_source("manifest_file") is click.core.ParameterSource.DEFAULT:
            manifest_file = Path(saved.manifest_path)
        env = saved_environment(terminal, saved, planfile, env)
    manifest = load_or_abort(terminal, manifest_file, env)
    options = saved.options if saved else PlanOptions(targets=targets, prune=prune)

    with session(terminal, manifest, endpoint, project, planned_for=saved.server if saved else None) as s:
        if no_wait and s.connection.stops_with_command:
            terminal.warning(NO_WAIT_EMBEDDED)
            no_wait = False
        check_same_server(terminal, s, saved, planfile)
        the_plan = run(_plan(s, options, saved, planfile))
        if not the_plan.has_changes:
            unchanged = counted(ApplyResult(plan=the_plan), s)
            apply_step_summary(terminal, manifest, result_to_json(unchanged), s.secrets)
            if as_json:
                s.emit_json(result_to_json(unchanged))
            else:
                s.emit(render_plan(the_plan, manifest_name=manifest.source.name))
            return
        if not as_json and terminal.verbosity >= 0:  # -q: only errors and the summary
            s.emit(render_plan(the_plan, manifest_name=manifest.source.name))
        if saved is None and not s.connection.embedded and not yes:
            confirm_apply(terminal)
        with project_lock(terminal, s.connection, manifest, "fnsync apply", lock_timeout, no_lock, planned=the_plan):
            result = run(_apply(s, the_plan, concurrency, not no_wait, as_json))
        result = counted(result, s)
        apply_step_summary(terminal, manifest, result_to_json(result), s.secrets)
    if as_json:
        s.emit_json(result_to_json(result))
    elif terminal.verbosity < 0 and result.ok:
        s.emit(apply_summary(result) + "\n", raw=True)
    else:
        s.emit(render_result(result))
    if not result.ok:
        raise SystemExit(1)


def counted(result: ApplyResult, s: Session) -> ApplyResult:
    """The result with every request this command sent (plan, lock, apply and the version probe), not only the
    apply phase's: what the summary line and `requests` in the JSON report."""
    reads, writes = s.connection.requests()
    return result.model_copy(update={"reads": reads, "writes": writes})


def check_same_server(terminal: Terminal, s: Session, saved: SavedPlan | None, planfile: Path | None) -> None:
    """A saved plan is applied only to the server it was made against (when it recorded one)."""
    if saved is None or saved.server is None:
        return
    here = server_label(s.connection.settings, s.connection.embedded)
    if here != saved.server:
        terminal.abort(
            f"{planfile} was planned against {saved.server}, not {here}; nothing was changed. "
            "Point fnsync at that server (--endpoint/--project or APPWRITE_*), or make a new plan here."
        )


def saved_environment(terminal: Terminal, saved: SavedPlan, planfile: Path, env: str | None) -> str | None:
    """The environment a saved plan was made for; asking for another one (--env or FNSYNC_ENV) exits 1."""
    if env is None or env == saved.environment:
        return saved.environment
    made_for = f"environment {saved.environment}" if saved.environment else "the manifest as written (no --env)"
    terminal.abort(
        f"{planfile} was planned for {made_for}, not --env {env} (from --env or FNSYNC_ENV); nothing was changed. "
        f"Apply it without --env, or make a plan for {env} with `fnsync plan --env {env} --out FILE`."
    )


def confirm_apply(terminal: Terminal, question: str = "Apply these changes?", action: str = "apply") -> None:
    if not sys.stdin.isatty():
        terminal.abort(f"refusing to {action} without confirmation: no terminal to ask on; pass --yes to {action} anyway")
    if not click.confirm(question, default=False, err=True):
        terminal.abort(f"{action.capitalize()} cancelled; nothing was changed.")


def replan_command(manifest: Manifest, planfile: Path | None) -> str:
    """The exact commands that make and apply a fresh plan of the same manifest and environment."""
    env = f" --env {shlex.quote(manifest.environment)}" if manifest.environment else ""
    out = shlex.quote(str(planfile)) if planfile else "plan.json"
    return f"`fnsync plan -f {shlex.quote(str(manifest.source))}{env} --out {out}`, then `fnsync apply {out}`"


async def _plan(s: Session, options: PlanOptions, saved: SavedPlan | None, planfile: Path | None = None) -> Plan:
    """A fresh plan; or the saved one, after checking it is not stale (archives from this run's packaging)."""
    assert s.manifest is not None
    fresh, state, packages = await s.plan(options)
    if saved is None:
        return fresh
    reasons = stale_reasons(saved, s.manifest, state, {fid: p.code_hash for fid, p in packages.items()})
    if reasons:
        raise PlanFileError(f"{StalePlanError(reasons)} Nothing was changed. Plan again with: {replan_command(s.manifest, planfile)}")
    restored = restore_plan(saved, s.manifest)
    changes = tuple(
        change.model_copy(update={"after": {**change.after, "archive": str(packages[change.function_id].archive)}})
        if change.kind is ChangeKind.CODE and change.action is Action.DEPLOY and change.after and change.function_id in packages
        else change
        for change in restored.changes
    )
    return restored.model_copy(update={"changes": changes})


async def _apply(s: Session, plan: Plan, concurrency: int, wait: bool, as_json: bool) -> ApplyResult:
    assert s.manifest is not None
    async with s.client() as client:
        if as_json or s.terminal.verbosity < 0:
            return await apply_plan(plan, s.manifest, client, concurrency=concurrency, wait=wait)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=s.terminal.err, transient=False) as progress:
            return await apply_plan(
                plan, s.manifest, client, concurrency=concurrency, wait=wait, reporter=ProgressReporter(progress)
            )
