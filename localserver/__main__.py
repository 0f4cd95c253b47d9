"""The `local-server` command: `fnsync local-server` and `python -m localserver` run this same click command.

It lives here (not in `syncer.cli`) because `localserver` may not import `syncer`; the fnsync CLI
re-exports it from `syncer.cli.local_server`.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from localserver.clock import is_valid_id
from localserver.config import CREATION_ABUSE_LIMIT, DEFAULT_APPWRITE_VERSION, EMULATED_VERSIONS, ServerConfig
from localserver.versions.runtime_ids import ALL_RUNTIMES
from localserver.server import ensure_api_key, serve_forever


def _runtimes(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [rid for rid in ids if rid not in ALL_RUNTIMES]
    if unknown:
        raise click.BadParameter(f"unknown runtime(s): {', '.join(unknown)}; e.g. python-3.12, node-22")
    return ids


def _project(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not is_valid_id(value) or value == "console":
        raise click.BadParameter("1-36 chars of a-z A-Z 0-9 . - _, not starting with a special char, and not 'console'")
    return value


def creation_limit(disabled_by_flag: bool) -> int | None:
    """Appwrite's knobs: `_APP_OPTIONS_ABUSE=disabled` turns the limit off, `_APP_FUNCTIONS_CREATION_ABUSE_LIMIT` sets it."""
    if disabled_by_flag or os.environ.get("_APP_OPTIONS_ABUSE", "enabled") == "disabled":
        return None
    raw = os.environ.get("_APP_FUNCTIONS_CREATION_ABUSE_LIMIT", "")
    return int(raw) if raw.strip().isdigit() else CREATION_ABUSE_LIMIT


@click.command("local-server", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0 for all).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port; 0 picks a free one (the real port is printed).")
@click.option(
    "--data",
    "data_dir",
    default=".fnsync/local",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the database, uploaded code, builds and the API key.",
)
@click.option("--project", default="local", show_default=True, callback=_project, help="Project ID clients must send (X-Appwrite-Project).")
@click.option(
    "--api-key",
    envvar="FNSYNC_LOCAL_API_KEY",
    default=None,
    metavar="KEY",
    help="API key clients must send (env FNSYNC_LOCAL_API_KEY). Default: a key generated on first start and kept in DATA/api-key.",
)
@click.option(
    "--runtimes",
    default=None,
    callback=_runtimes,
    metavar="IDS",
    help="Comma list of runtime IDs to offer, like _APP_FUNCTIONS_RUNTIMES (e.g. python-3.12,node-22). Default: all the chosen version has.",
)
@click.option(
    "--installation",
    "installations",
    multiple=True,
    metavar="ID",
    help="A VCS installation ID that exists on this server (repeatable), so functions can carry git provider "
    "settings for `fnsync webhook`. The local server itself never clones or builds from git.",
)
@click.option(
    "--appwrite-version",
    envvar="FNSYNC_LOCAL_APPWRITE_VERSION",
    default=DEFAULT_APPWRITE_VERSION,
    show_default=True,
    type=click.Choice([v for v in EMULATED_VERSIONS if v != "1.5.0"]),
    help="Appwrite version to answer as, quirks included: 1.6.2, 1.8.1, 1.9.6 (self-hosted) or 2.5.0 (Cloud, "
    "as SDK 27.0.0 describes it). Env FNSYNC_LOCAL_APPWRITE_VERSION. See docs/local-server.md.",
)
@click.option(
    "--emulate-version",
    default=None,
    type=click.Choice(EMULATED_VERSIONS),
    hidden=True,
    help="Former name of --appwrite-version; also accepts the test value 1.5.0 (reports 1.5.0, which clients refuse).",
)
@click.option(
    "--no-abuse-limit",
    is_flag=True,
    help=f"Do not limit function creations (Appwrite allows {CREATION_ABUSE_LIMIT} per project per day, "
    "_APP_FUNCTIONS_CREATION_ABUSE_LIMIT). Also off when the env _APP_OPTIONS_ABUSE=disabled.",
)
def local_server(
    host: str,
    port: int,
    data_dir: Path,
    project: str,
    api_key: str | None,
    runtimes: tuple[str, ...] | None,
    installations: tuple[str, ...],
    appwrite_version: str,
    emulate_version: str | None,
    no_abuse_limit: bool,
) -> None:
    """Run an Appwrite-compatible Functions API (1.6.2, 1.8.1, 1.9.6 or Cloud 2.5.0) on this machine.

    Point the Appwrite SDKs, the Appwrite CLI or fnsync at the printed endpoint, project ID and
    API key. State (functions, variables, deployments, executions) is kept in --data and survives
    restarts; Python and Node.js functions are built and executed locally. Stop with Ctrl+C.
    """
    data_dir = data_dir.resolve()
    key = ensure_api_key(data_dir, api_key)
    config = ServerConfig(
        data_dir=data_dir,
        project_id=project,
        api_key=key,
        runtimes=runtimes,
        installations=installations,
        appwrite_version=emulate_version or appwrite_version,
        creation_abuse_limit=creation_limit(no_abuse_limit),
    )
    try:
        serve_forever(config, host=host, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


if __name__ == "__main__":
    local_server(prog_name="python -m localserver")
