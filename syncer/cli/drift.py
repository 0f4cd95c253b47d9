"""`fnsync drift`: a read-only plan phrased as drift, for scheduled CI jobs. Exit 0 none, 2 drift, 1 error."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from syncer.apply import make_plan
from syncer.cli.common import (
    Connection,
    connect,
    connection_options,
    emit,
    env_option,
    handle_errors,
    load_or_abort,
    manifest_option,
    run,
    secrets_of,
)
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.drift import DriftReport, drift_report, drift_to_json, render_drift
from syncer.manifest.models import Manifest
from syncer.plan import PlanOptions


@click.command("drift")
@manifest_option
@env_option
@click.option("--target", "targets", multiple=True, metavar="ID", help="Only this function (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (format_version 1, see docs/drift.md).")
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
    options = PlanOptions(targets=targets)
    with connect(terminal, manifest, endpoint, project) as connection:
        secrets = secrets_of(manifest, connection)
        with handle_errors(terminal, secrets), tempfile.TemporaryDirectory(prefix="fnsync-") as tmp:
            report = run(_drift(connection, manifest, options, Path(tmp), include_unmanaged))
            if as_json:
                emit(terminal, json.dumps(drift_to_json(report), indent=2) + "\n", secrets, raw=True)
            else:
                emit(terminal, render_drift(report, manifest_name=manifest.source.name), secrets)
    if report.has_drift:
        raise SystemExit(2)


async def _drift(
    connection: Connection, manifest: Manifest, options: PlanOptions, work_dir: Path, include_unmanaged: bool
) -> DriftReport:
    async with connection.client(manifest) as client:
        plan, state, _ = await make_plan(manifest, client, options, work_dir=work_dir, cache=connection.cache(manifest))
    return drift_report(plan, state, count_unmanaged=include_unmanaged)
