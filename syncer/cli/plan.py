"""`fnsync plan`: show what apply would change. Reads only; never writes to the server."""

from __future__ import annotations

import json
from pathlib import Path

import click

from syncer.cli.ci_output import (
    comment_target,
    load_or_comment,
    plan_failure_commented,
    plan_step_summary,
    plan_title,
    post_plan_comment,
)
from syncer.cli.common import load_or_abort, connection_options, manifest_options, run, selection_options, session
from syncer.cli.target import server_label
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.manifest import ManifestError, load_manifest
from syncer.manifest.models import Manifest
from syncer.plan import PlanOptions
from syncer.planfile import write_planfile
from syncer.render import FORMAT_VERSION, plan_to_json, render_plan, summary_line
from syncer.render_markdown import plan_markdown

FORMATS = ("text", "json", "markdown")


@click.command("plan")
@manifest_options
@selection_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Output: text (default), json (format_version 1, see docs/plan-apply.md) or markdown (for a PR comment).",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for `fnsync apply FILE`.")
@click.option(
    "--comment",
    is_flag=True,
    help="In CI, also post the plan as one pull request comment, edited on every run (GitHub Actions, GitLab CI, "
    "Gitea/Forgejo Actions; see docs/ci.md).",
)
@connection_options
@pass_terminal
def plan(
    terminal: Terminal,
    manifest_file: Path,
    env: str | None,
    targets: tuple[str, ...],
    prune: bool,
    output_format: str | None,
    as_json: bool,
    detailed_exitcode: bool,
    out: Path | None,
    comment: bool,
    endpoint: str | None,
    project: str | None,
) -> None:
    """Show what `fnsync apply` would change on the server, field by field.

    In GitHub Actions the plan is also added to the job summary (GITHUB_STEP_SUMMARY).
    """
    if as_json and output_format not in (None, "json"):
        terminal.abort(f"--json and --format {output_format} contradict each other; give one of them")
    output_format = "json" if as_json else output_format or "text"
    target = comment_target(terminal) if comment else None
    if output_format == "json" and target is None:
        manifest = load_or_json_error(terminal, manifest_file, env)
    else:
        manifest = load_or_comment(terminal, manifest_file, env, target)
    with session(terminal, manifest, endpoint, project) as s:
        with plan_failure_commented(terminal, target, manifest, s.secrets):
            the_plan, _, packages = run(s.plan(PlanOptions(targets=targets, prune=prune)))
        document = plan_to_json(the_plan)
        if output_format == "json":
            s.emit_json(document)
        elif output_format == "markdown":
            s.emit(plan_markdown(document, title=plan_title(manifest.source, manifest.environment)), raw=True)
        elif terminal.verbosity < 0:  # -q: the summary only
            s.emit(summary_line(the_plan) + "\n", raw=True)
        else:
            s.emit(render_plan(the_plan, manifest_name=manifest.source.name))
        if out is not None:
            server = server_label(s.connection.settings, s.connection.embedded)
            write_planfile(out, the_plan, manifest, {fid: p.code_hash for fid, p in packages.items()}, server)
            terminal.info(f"Saved the plan to {out}; apply it with `fnsync apply {out}`.")
        plan_step_summary(terminal, manifest, document, s.secrets)
        if target is not None:
            post_plan_comment(terminal, target, manifest, document, s.secrets)
    if detailed_exitcode and the_plan.has_changes:
        raise SystemExit(2)


def load_or_json_error(terminal: Terminal, path: Path, env: str | None) -> Manifest:
    """`load_or_abort` for `--json`: a manifest that does not load is also one JSON error object on stdout, so a
    script reading stdout gets JSON whatever happens."""
    try:
        manifest = load_manifest(path, env=env)
    except ManifestError as exc:
        document = {
            "format_version": FORMAT_VERSION,
            "kind": "error",
            "error": f"the manifest has {len(exc.issues)} problem(s); nothing was changed",
            "issues": [issue.model_dump() for issue in exc.issues],
        }
        terminal.write(json.dumps(document, indent=2) + "\n")
    else:
        return manifest
    return load_or_abort(terminal, path, env)  # prints the issues on stderr and exits 1 (or any other load error)
