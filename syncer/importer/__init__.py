"""Adopt existing functions: write a manifest (and code) from a server, or from an Appwrite CLI config.

    result = await import_from_server(client, Path("functions.yaml"))
    result = import_from_cli_config(Path("appwrite.json"), Path("functions.yaml"))

The goal of a server import is that an immediate `fnsync plan` shows no changes: settings come from the same
model the planner compares, variable values load back exactly (as `${NAME}` plus `.env`, or inline), and each
function's code is unpacked so that it packages back to the active deployment's code hash, or the function says
why not (`ImportedFunction.round_trip`, `.notes`). Nothing is written unless the whole result validates.

Core only: no CLI, no local server (see `syncer.cli.import_`).
"""

from syncer.importer.cliconfig import import_from_cli_config, read_cli_config
from syncer.importer.model import ImportedFunction, ImporterError, ImportResult
from syncer.importer.server import import_from_server
from syncer.importer.write import check_free

__all__ = [
    "ImportResult",
    "ImportedFunction",
    "ImporterError",
    "check_free",
    "import_from_cli_config",
    "import_from_server",
    "read_cli_config",
]
