"""`fnsync exec ID`: run a function once and print the status, headers and body of its response."""

from __future__ import annotations

import click

from syncer.cli.common import ServerChoice, Session, optional_session, run, server_options
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.client.models import Execution

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected NAME:VALUE, got {text!r}", param_hint="--header")
    return name.strip(), value.strip()


async def _execute(s: Session, function_id: str, **request: object) -> Execution:
    async with s.client() as client:
        return await client.create_execution(function_id, **request)  # type: ignore[arg-type]


def render(terminal: Terminal, execution: Execution) -> None:
    """Status and headers on stdout, then the body verbatim (so it can be piped)."""
    colour = "green" if execution.status == "completed" else "yellow" if execution.status in ("waiting", "processing", "scheduled") else "red"
    if execution.status in ("waiting", "scheduled", "processing"):
        terminal.print(f"[{colour}]{execution.status}[/{colour}] execution {execution.id}")
        return
    terminal.print(f"[{colour}]{execution.status}[/{colour}] {execution.response_status_code} ({execution.duration:.3f}s, execution {execution.id})")
    for header in execution.response_headers:
        terminal.print(f"[dim]{header.name}:[/dim] {header.value}", markup=True)
    terminal.print("")
    terminal.write(execution.response_body + ("" if execution.response_body.endswith("\n") or not execution.response_body else "\n"))
    show_output(terminal, execution)


def show_output(terminal: Terminal, execution: Execution) -> None:
    """What the function printed (context.log and print, then context.error), after the response, on stderr so
    the body stays pipeable. Servers that keep no logs (logging off) leave both empty."""
    if execution.logs.strip():
        terminal.err.print("[dim]--- function log ---[/dim]")
        terminal.err.print(execution.logs.rstrip(), markup=False, highlight=False)
    if execution.errors.strip():
        terminal.err.print("[dim]--- function errors ---[/dim]")
        terminal.err.print(execution.errors.rstrip(), markup=False, highlight=False)


@click.command("exec")
@click.argument("function_id", metavar="ID")
@click.option("-X", "--method", default="POST", show_default=True, type=click.Choice(METHODS, case_sensitive=False), help="HTTP method.")
@click.option("-p", "--path", default="/", show_default=True, help="Path, may carry a query string.")
@click.option("-d", "--body", default="", help="Request body.")
@click.option("-H", "--header", "headers", multiple=True, metavar="NAME:VALUE", help="Request header (repeatable).")
@click.option("--async", "async_", is_flag=True, help="Queue the execution and return at once.")
@server_options
@pass_terminal
def exec_(terminal: Terminal, function_id: str, method: str, path: str, body: str, headers: tuple[str, ...], async_: bool,
          server: ServerChoice) -> None:
    """Run function ID once (on the local server unless an endpoint is configured) and print its response."""
    parsed = dict(parse_header(h) for h in headers)
    # Connect like plan/apply when a manifest exists; without one, flags/env or the local server in ./.fnsync/local.
    with optional_session(terminal, server) as s:
        execution = run(_execute(s, function_id, body=body, path=path, method=method.upper(), headers=parsed, async_=async_))
        render(terminal, execution)
        if execution.status == "failed":
            raise SystemExit(1)
