"""`fnsync drift`: a read-only plan phrased as drift, for scheduled CI jobs. Exit 0 none, 2 drift, 1 error."""

from __future__ import annotations

from pathlib import Path

import click

from syncer.cli.common import connection_options, json_option, load_or_abort, manifest_options, run, session, target_option
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.drift import drift_report, drift_to_json, render_drift
from syncer.plan import PlanOptions


@click.command("drift")
@manifest_options
@target_option
@json_option("Print the report as JSON (format_version 1, see docs/drift.md).")
@click.option("--include-unmanaged", is_flag=True, help="Also count functions that are not in the manifest as drift.")
@connection_options
@pass_terminal
def drift(
    terminal: Terminal,
    manifest_file: Path,
    env: str | None,
    targets: tuple[str, ...],
    as_json: bool,
    include_unmanaged: bool,
    endpoint: str | None,
    project: str | None,
) -> None:
    """Report what differs on the server from the manifest. Never writes. Exit 0 none, 2 drift, 1 error."""
    manifest = load_or_abort(terminal, manifest_file, env)
    with session(terminal, manifest, endpoint, project) as s:
        plan, state, _ = run(s.plan(PlanOptions(targets=targets), probe_creations=False))
        report = drift_report(plan, state, count_unmanaged=include_unmanaged)
        if as_json:
            s.emit_json(drift_to_json(report))
        else:
            s.emit(render_drift(report, manifest_name=manifest.source.name))
    if report.has_drift:
        raise SystemExit(2)
