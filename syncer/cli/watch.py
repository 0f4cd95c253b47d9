"""`fnsync watch`: apply once, then redeploy each function as its files change.

The start is `fnsync apply` (plan, show, confirm unless --yes or the embedded local server); from then on
every change goes through the same reconciler, per function, without asking.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
from pathlib import Path

import click

from syncer.apply import ApplyResult, BuildPolling, apply_plan, make_plan
from syncer.cli.apply import confirm_apply
from syncer.cli.common import (
    Connection,
    connect,
    connection_options,
    env_option,
    handle_errors,
    load_or_abort,
    manifest_option,
    run,
    secrets_of,
)
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.manifest.models import Manifest
from syncer.plan import Plan, PlanOptions
from syncer.render import render_plan, render_result
from syncer.watch import (
    Cycle,
    DeploySettings,
    InvokeSpec,
    ManifestInvalid,
    Watcher,
    WatchEvent,
    unknown_targets,
)
from syncer.watch.deploy import invoke


@click.command("watch")
@manifest_option
@env_option
@click.option("--target", "targets", multiple=True, metavar="ID", help="Only this function (repeatable).")
@click.option(
    "--invoke",
    "invoke_text",
    default=None,
    metavar='"METHOD /path"',
    help='Execute the function after each successful deploy and print status and body, e.g. --invoke "GET /".',
)
@click.option("-y", "--yes", is_flag=True, help="Apply the start-up plan without asking.")
@connection_options
@pass_terminal
def watch(
    terminal: Terminal,
    manifest_file: Path,
    env: str | None,
    targets: tuple[str, ...],
    invoke_text: str | None,
    yes: bool,
    endpoint: str | None,
    project: str | None,
) -> None:
    """Deploy on save: watch the manifest, .env and each function's files; redeploy what changed.

    Only functions whose files changed are redeployed, and only when their code hash changed.
    Ctrl-C (or SIGTERM) stops: in-flight deploys finish; press Ctrl-C again to abandon them.
    """
    invoke_spec = None
    if invoke_text is not None:
        try:
            invoke_spec = InvokeSpec.parse(invoke_text)
        except ValueError as exc:
            terminal.abort(f"--invoke: {exc}")
    manifest = load_or_abort(terminal, manifest_file, env)
    missing = unknown_targets(manifest, targets)
    if missing:
        terminal.abort(f"--target: not in {manifest.source.name}: {', '.join(missing)}")
    settings = DeploySettings(invoke=invoke_spec)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # its per-batch INFO lines are noise here
    with connect(terminal, manifest, endpoint, project) as connection:
        terminal.info(f"endpoint {connection.settings.endpoint}  project {connection.settings.project}")
        secrets = secrets_of(manifest, connection)
        with handle_errors(terminal, secrets), tempfile.TemporaryDirectory(prefix="fnsync-") as tmp:
            plan = run(_plan(connection, manifest, targets, Path(tmp)))
            if plan.has_changes:
                terminal.print(render_plan(plan, manifest_name=manifest.source.name))
                if not connection.embedded and not yes:
                    confirm_apply(terminal)
            run(_watch(terminal, connection, manifest, targets, settings, plan))


async def _plan(connection: Connection, manifest: Manifest, targets: tuple[str, ...], work_dir: Path) -> Plan:
    async with connection.client(manifest) as client:
        plan, _, _ = await make_plan(
            manifest, client, PlanOptions(targets=targets), work_dir=work_dir, cache=connection.cache(manifest)
        )
    return plan


async def _watch(
    terminal: Terminal,
    connection: Connection,
    manifest: Manifest,
    targets: tuple[str, ...],
    settings: DeploySettings,
    plan: Plan,
) -> None:
    stop = asyncio.Event()
    async with connection.client(manifest) as client:
        watcher = Watcher(manifest, client, reporter=_printer(terminal), targets=targets, deploy=settings)
        _install_signals(terminal, stop, watcher)

        async def initial(w: Watcher) -> None:
            if plan.has_changes:
                polling = BuildPolling(interval=settings.build_poll_interval, max_interval=settings.build_poll_max)
                result = await apply_plan(plan, manifest, client, wait=True, polling=polling)
                terminal.print(render_result(result))
                if settings.invoke is not None:
                    for fid in _deployed(result):
                        terminal.print((await invoke(client, fid, settings.invoke, manifest)).line())

        await watcher.run(stop, initial=initial)


def _deployed(result: ApplyResult) -> list[str]:
    return [
        fr.function_id
        for fr in result.functions
        if fr.ok and any(o.kind == "code" and o.action in ("deploy", "rebuild") and o.status == "done" for o in fr.outcomes)
    ]


def _install_signals(terminal: Terminal, stop: asyncio.Event, watcher: Watcher) -> None:
    """First Ctrl-C/SIGTERM: stop watching, let in-flight deploys finish. Second: abandon them."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            watcher.hurry.set()
            terminal.info("abandoning in-flight deploys")
            return
        stop.set()
        terminal.info("stopping: finishing in-flight deploys (Ctrl-C again to abandon them)")

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass


def _printer(terminal: Terminal):  # type: ignore[no-untyped-def]
    def report(event: WatchEvent) -> None:
        if isinstance(event, ManifestInvalid):
            terminal.error(event.line())
        elif isinstance(event, Cycle):
            terminal.print(event.line())
            if event.build_logs:
                terminal.print(_indent(event.build_logs), markup=False)
            if event.invocation is not None:
                terminal.print(event.invocation.line())
        else:
            terminal.info(event.line())

    return report


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


__all__ = ["watch"]
