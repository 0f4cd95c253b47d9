"""`fnsync watch`: apply once, then redeploy each function as its files change.

The start is `fnsync apply` (plan, show, confirm unless --yes or the embedded local server); from then on
every change goes through the same reconciler, per function, without asking.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from syncer.apply import ApplyResult, BuildPolling, apply_plan
from syncer.cli.apply import confirm_apply
from syncer.cli.common import Session, connection_options, load_or_abort, manifest_options, run, session, target_option, yes_option
from syncer.cli.terminal import Terminal, pass_terminal
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
@manifest_options
@target_option
@click.option(
    "--invoke",
    "invoke_text",
    default=None,
    metavar='"METHOD /path"',
    help='Execute the function after each successful deploy and print status and body, e.g. --invoke "GET /".',
)
@yes_option("Apply the start-up plan without asking.")
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
    with session(terminal, manifest, endpoint, project) as s:
        terminal.info(f"endpoint {s.connection.settings.endpoint}  project {s.connection.settings.project}")
        plan, _, _ = run(s.plan(PlanOptions(targets=targets)))
        if plan.has_changes:
            s.emit(render_plan(plan, manifest_name=manifest.source.name))
            if not s.connection.embedded and not yes:
                confirm_apply(terminal)
        run(_watch(s, targets, settings, plan))


async def _watch(s: Session, targets: tuple[str, ...], settings: DeploySettings, plan: Plan) -> None:
    terminal, manifest = s.terminal, s.manifest
    assert manifest is not None
    stop = asyncio.Event()
    async with s.client() as client:
        watcher = Watcher(manifest, client, reporter=_printer(terminal), targets=targets, deploy=settings)
        _install_signals(terminal, stop, watcher)

        async def initial(w: Watcher) -> None:
            if plan.has_changes:
                polling = BuildPolling(interval=settings.build_poll_interval, max_interval=settings.build_poll_max)
                result = await apply_plan(plan, manifest, client, wait=True, polling=polling)
                s.emit(render_result(result))
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
