"""`fnsync exec ID`: run a function once and print the status, headers and body of its response."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from syncer.cli.common import LOCAL_DATA, LOCAL_PROJECT, Connection, _local_connection, connect, connection_options, handle_errors, load_or_abort, manifest_option, run, secrets_of
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.client import AppwriteClient
from syncer.client.models import Execution
from syncer.connection import resolve_connection

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected NAME:VALUE, got {text!r}", param_hint="--header")
    return name.strip(), value.strip()


@contextmanager
def _connection(terminal: Terminal, manifest_file: Path, endpoint: str | None, project: str | None) -> Iterator[tuple[Connection, tuple[str, ...]]]:
    """Connect like plan/apply when a manifest exists; without one, flags/env or the local server in ./.fnsync/local."""
    if manifest_file.exists():
        manifest = load_or_abort(terminal, manifest_file)
        with connect(terminal, manifest, endpoint, project) as connection:
            yield connection, secrets_of(manifest, connection)
        return
    settings = resolve_connection(None, endpoint=endpoint, project=project)
    if settings.configured:
        if settings.missing():
            terminal.abort("cannot connect: missing " + " and ".join(settings.missing()))
        assert settings.api_key is not None
        connection = Connection(settings=settings, embedded=False, api_key=settings.api_key.get_secret_value())
        yield connection, secrets_of(None, connection)
        return
    from localserver.config import ServerConfig
    from localserver.server import ensure_api_key, find_running, start_in_thread

    data_dir = Path.cwd() / LOCAL_DATA
    key = ensure_api_key(data_dir, os.environ.get("FNSYNC_LOCAL_API_KEY"))
    info = find_running(data_dir)
    if info is not None:
        connection = _local_connection(str(info["endpoint"]), str(info.get("project") or LOCAL_PROJECT), key, data_dir)
        yield connection, (key,)
        return
    running = start_in_thread(ServerConfig(data_dir=data_dir, project_id=LOCAL_PROJECT, api_key=key))
    terminal.info(f"Using the embedded local server (state in {data_dir}).")
    try:
        yield _local_connection(running.endpoint, LOCAL_PROJECT, key, data_dir), (key,)
    finally:
        running.stop()


async def _execute(connection: Connection, function_id: str, **request: object) -> Execution:
    settings = connection.settings
    assert settings.endpoint and settings.project
    async with AppwriteClient(settings.endpoint, settings.project, connection.api_key) as client:
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
    if execution.errors:
        terminal.error(execution.errors.rstrip())


@click.command("exec")
@click.argument("function_id", metavar="ID")
@click.option("-X", "--method", default="POST", show_default=True, type=click.Choice(METHODS, case_sensitive=False), help="HTTP method.")
@click.option("-p", "--path", default="/", show_default=True, help="Path, may carry a query string.")
@click.option("-d", "--body", default="", help="Request body.")
@click.option("-H", "--header", "headers", multiple=True, metavar="NAME:VALUE", help="Request header (repeatable).")
@click.option("--async", "async_", is_flag=True, help="Queue the execution and return at once.")
@manifest_option
@connection_options
@pass_terminal
def exec_(terminal: Terminal, function_id: str, method: str, path: str, body: str, headers: tuple[str, ...], async_: bool,
          manifest_file: Path, endpoint: str | None, project: str | None) -> None:
    """Run function ID once (on the local server unless an endpoint is configured) and print its response."""
    parsed = dict(parse_header(h) for h in headers)
    with _connection(terminal, manifest_file, endpoint, project) as (connection, secrets), handle_errors(terminal, secrets):
        execution = run(_execute(connection, function_id, body=body, path=path, method=method.upper(), headers=parsed, async_=async_))
        render(terminal, execution)
        if execution.status == "failed":
            raise SystemExit(1)
