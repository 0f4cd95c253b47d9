"""`fnsync schema`: the manifest's JSON Schema, for editors (see docs/schema.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from syncer.cli.terminal import Terminal, pass_terminal
from syncer.json_schema import manifest_json_schema

REGENERATE = "fnsync schema --output schema/functions.schema.json"


def schema_text() -> str:
    return json.dumps(manifest_json_schema(), indent=2, ensure_ascii=False) + "\n"


@click.command("schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the schema to this file instead of stdout.",
)
@pass_terminal
def schema(terminal: Terminal, output: Path | None) -> None:
    """Print the JSON Schema of functions.yaml (draft-07), generated from fnsync's own models.

    Point your editor at it with a first line such as
    `# yaml-language-server: $schema=./functions.schema.json`.
    """
    text = schema_text()
    if output is None:
        terminal.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        terminal.abort(f"cannot write {output}: {exc.strerror or exc}")
    terminal.success(f"Wrote the manifest's JSON Schema to {output}.")
