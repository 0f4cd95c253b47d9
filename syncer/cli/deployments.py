"""`fnsync deployments ID`: a function's deployments, newest first, with their source and the active one marked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Group
from rich.text import Text

from syncer.cli.common import ServerChoice, json_option, optional_session, run, server_options
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.client import AppwriteClient
from syncer.history import FunctionHistory, list_history
from syncer.render import FORMAT_VERSION, human_size, short_hash


def when(iso: str) -> str:
    """An Appwrite timestamp as `YYYY-MM-DD HH:MM UTC` (as given when it cannot be read)."""
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


COLUMNS: tuple[tuple[str, str], ...] = (
    ("", "<"), ("id", "<"), ("created", "<"), ("status", "<"), ("size", ">"), ("build", ">"), ("source", "<"),
    ("fnsync code hash", "<"), ("commit", "<"),
)
STATUS_STYLES = {"ready": "green", "failed": "red", "canceled": "dim"}


def history_table(history: FunctionHistory) -> Group:
    """Aligned plain columns (never truncated, unlike a table squeezed into a narrow CI log), status in color."""
    rows: list[list[str]] = []
    for d in history.deployments:
        code_hash = short_hash(d.code_hash) if d.code_hash else ""  # fnsync's hash of the code, not a git commit
        commit = d.commit[:12] + (f" ({d.branch})" if d.branch else "") if d.commit else ""
        rows.append(
            ["*" if d.active else "", d.id, when(d.created_at), d.status or "waiting", human_size(d.size), f"{d.build_time}s", d.source, code_hash, commit]
        )
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, (name, _) in enumerate(COLUMNS)]

    def line(cells: list[str], status_style: str = "") -> Text:
        text = Text()
        for i, (cell, (_, align), width) in enumerate(zip(cells, COLUMNS, widths)):
            text.append(f"{cell:{align}{width}}", style=status_style if i == 3 else "")
            text.append("  " if i < len(COLUMNS) - 1 else "")
        text.rstrip()
        return text

    header = line([name for name, _ in COLUMNS])
    header.stylize("bold")
    body = [line(row, STATUS_STYLES.get(row[3], "yellow")) for row in rows]
    return Group(Text(f"Deployments of {history.function.id}, newest first (* = active):"), header, *body)


def history_to_json(history: FunctionHistory) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": "deployments",
        "function_id": history.function.id,
        "active": history.function.deployment or None,
        "live": history.function.live,
        "deployments": [d.model_dump(mode="json") for d in history.deployments],
    }


@click.command("deployments")
@click.argument("function_id", metavar="ID")
@json_option("Print the list as JSON (format_version 1).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Show at most N deployments.")
@server_options
@pass_terminal
def deployments(
    terminal: Terminal,
    function_id: str,
    as_json: bool,
    limit: int,
    server: ServerChoice,
) -> None:
    """List a function's deployments: status, size, build time, source (fnsync, manual, cli, vcs), commit."""
    with optional_session(terminal, server) as s:
        history = run(_list(s.client(), function_id, limit))
        if as_json:
            s.emit_json(history_to_json(history))
        elif not history.deployments:
            s.emit(f"{function_id} has no deployments.")
        else:
            s.emit(history_table(history))
            if history.active is None:
                active = history.function.deployment
                terminal.info(f"active: {active}, older than these (see --limit)" if active else "no deployment is active")


async def _list(client: AppwriteClient, function_id: str, limit: int) -> FunctionHistory:
    async with client:
        return await list_history(client, function_id, limit=limit)
