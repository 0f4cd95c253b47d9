"""Which server a command talks to, decided before anything connects: never the embedded one by mistake.

With no endpoint configured, fnsync falls back to the embedded local server. That is right for a first try and
wrong when anything says a real project is meant: an `APPWRITE_PROJECT_ID` or `APPWRITE_API_KEY` in the
environment, a `project:` or an environment with an endpoint in the manifest, a saved plan made against another
server. Then the command refuses, naming what it found and how to set the endpoint; `--local` (or
`FNSYNC_LOCAL=1`) says the embedded server is meant on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import yaml

from syncer.connection import ENV_API_KEY, ENV_ENDPOINT, ENV_PROJECT, ConnectionSettings
from syncer.manifest.models import Manifest

LOCAL_META = "fnsync.local"  # where `--local` leaves its value in the click context
EMBEDDED = "embedded"  # what a saved plan records for the embedded local server


def _remember_local(ctx: click.Context, _: click.Parameter, value: bool) -> bool:
    ctx.meta[LOCAL_META] = value
    return value


local_option = click.option(
    "--local",
    is_flag=True,
    envvar="FNSYNC_LOCAL",
    expose_value=False,
    callback=_remember_local,
    help="Use the embedded local server on purpose, even when APPWRITE_PROJECT_ID/APPWRITE_API_KEY or the "
    "manifest name a real project (env FNSYNC_LOCAL).",
)


def local_requested() -> bool:
    """True when this command was given `--local` (or FNSYNC_LOCAL)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(LOCAL_META))


def server_label(settings: ConnectionSettings, embedded: bool) -> str:
    """What a saved plan records as its server: the endpoint and project, or `embedded`."""
    return EMBEDDED if embedded else f"{settings.endpoint} project {settings.project}"


def real_project_signs(
    manifest: Manifest | None, environ: Mapping[str, str] | None = None, *, planned_for: str | None = None
) -> list[str]:
    """Everything that says a real Appwrite project is meant, each phrased as where it was found."""
    env = os.environ if environ is None else environ
    signs = [f"{name} is set in the environment" for name in (ENV_PROJECT, ENV_API_KEY) if env.get(name)]
    if manifest is not None:
        if manifest.project:
            signs.append(f"{manifest.source.name} names `project: {manifest.project}`")
        with_endpoint = _environments_with_endpoint(manifest.source) if manifest.environment is None else []
        if with_endpoint:
            names = ", ".join(with_endpoint)
            signs.append(f"{manifest.source.name} has environments with an endpoint ({names}); choose one with --env NAME")
    if planned_for and planned_for != EMBEDDED:
        signs.append(f"the saved plan was made against {planned_for}")
    return signs


def _environments_with_endpoint(source: Path) -> list[str]:
    """The environments of the manifest that set `endpoint:` (read from the raw file: the loaded manifest only
    keeps their names)."""
    try:
        data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    section = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return []
    return [str(name) for name, body in section.items() if isinstance(body, dict) and body.get("endpoint")]


def embedded_refusal(signs: list[str]) -> str:
    """The message that refuses the embedded fallback: what was found, and the two ways out."""
    found = "; ".join(signs)
    return (
        f"no endpoint is configured, but {found}: refusing to fall back to the embedded local server. "
        f"Set the server with --endpoint URL or {ENV_ENDPOINT}=https://<host>/v1 (or `endpoint:` in the manifest), "
        "or pass --local to use the embedded local server on purpose. Nothing was read or changed."
    )


def check_embedded_fallback(manifest: Manifest | None, *, planned_for: str | None = None) -> str | None:
    """None when the embedded server may be used; else the refusal message."""
    if local_requested():
        return None
    signs = real_project_signs(manifest, planned_for=planned_for)
    return embedded_refusal(signs) if signs else None


NOTHING_HERE = (
    "no manifest and no local server state in {folder}: there is nothing here to read. Run the command in your "
    "project's folder (or give -f FILE), or set --endpoint/APPWRITE_ENDPOINT for a remote server; nothing was created."
)
