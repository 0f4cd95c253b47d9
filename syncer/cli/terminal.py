"""One object for all terminal output: results on stdout, diagnostics on stderr, by verbosity."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from rich.console import Console


class Terminal:
    """Semantic output (error, warning, success, info, debug) so commands never print directly."""

    def __init__(self, verbosity: int = 0, color: bool | None = None) -> None:
        self.verbosity = verbosity
        # --no-color / NO_COLOR: no escape code at all (rich's no_color alone keeps bold and dim), and no
        # cursor movement either (progress lines are printed once, not redrawn).
        plain: dict[str, object] = {"color_system": None, "force_terminal": False} if color is False else {}
        force = True if color else None
        self.plain = color is False
        self.out = Console(**{"force_terminal": force, **plain}, highlight=False, soft_wrap=True)  # type: ignore[arg-type]
        self.err = Console(stderr=True, **{"force_terminal": force, **plain}, highlight=False, soft_wrap=True)  # type: ignore[arg-type]

    def print(self, *objects: object, **kwargs: object) -> None:
        """Results (plans, tables, JSON) go to stdout."""
        self.out.print(*objects, **kwargs)  # type: ignore[arg-type]

    def write(self, text: str) -> None:
        """Raw text to stdout, untouched by markup (for JSON)."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def info(self, text: str) -> None:
        if self.verbosity >= 0:
            self.err.print(text)

    def success(self, text: str) -> None:
        if self.verbosity >= 0:
            self.err.print(f"[green]{text}[/green]")

    def warning(self, text: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {text}")

    def error(self, text: str) -> None:
        self.err.print(f"[red]error:[/red] {text}")

    def debug(self, text: str) -> None:
        if self.verbosity > 0:
            self.err.print(f"[dim]{text}[/dim]")

    def abort(self, text: str = "", code: int = 1) -> NoReturn:
        """Print an error and exit with `code` (1 unless a command documents otherwise)."""
        if text:
            self.error(text)
        raise SystemExit(code)


pass_terminal = click.make_pass_decorator(Terminal)
