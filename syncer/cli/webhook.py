"""`fnsync webhook`: run the git push receiver (see docs/webhook.md).

Secrets come only from the environment (FNSYNC_WEBHOOK_SECRET, FNSYNC_ADMIN_TOKEN, GITHUB_TOKEN,
GITLAB_TOKEN, GITEA_TOKEN, APPWRITE_API_KEY), never from flags, so they stay out of shell history and `ps`.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import click
import psycopg
import uvicorn
from pydantic import ValidationError

from syncer.cli.terminal import Terminal, pass_terminal
from syncer.connection import ENV_API_KEY, ENV_ENDPOINT, ENV_PROJECT, resolve_connection
from webhook import WebhookConfig, create_app
from webhook.config import (
    BRANCH_ENV_VAR, DATABASE_VAR, DEFAULT_CLONE_URLS, SECRET_VAR, parse_branch_envs, scrub, secret_problem,
)
from webhook.deliveries import scheme_hint
from webhook.logs import FORMATS, LogFormat, configure


@click.command("webhook")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0 = any free port).")
@click.option(
    "--data", "data_dir", default=Path(".fnsync/webhook"), show_default=True, type=click.Path(path_type=Path, file_okay=False),
    help="Queue, delivery log and git mirrors.",
)
@click.option(
    "--allow-clone-url", "allow_clone_urls", multiple=True, metavar="PATTERN",
    help=f"Glob of clone URLs that may be fetched (repeatable; default {' '.join(DEFAULT_CLONE_URLS)}).",
)
@click.option("--manifest-path", default="functions.yaml", show_default=True, help="Manifest path inside the repository.")
@click.option(
    "--github-api-url", default="https://api.github.com", show_default=True,
    help="GitHub (Enterprise) REST API base; its host (api. removed) is the only one GITHUB_TOKEN is cloned from.",
)
@click.option(
    "--gitlab-api-url", default="https://gitlab.com", show_default=True,
    help="GitLab instance for statuses and MR notes (/api/v4 is added); the only host GITLAB_TOKEN is cloned from.",
)
@click.option(
    "--gitea-api-url", default=None,
    help="Gitea/Forgejo instance for statuses and PR comments (/api/v1 is added), and the only host GITEA_TOKEN is "
    "cloned from. Default for statuses: the host of the payload's repository URL, if it matches --allow-clone-url "
    "(then no private Gitea clones).",
)
@click.option(
    "--branch-env", "branch_envs", multiple=True, metavar="BRANCH=ENV",
    help=f"Deploy pushes to BRANCH (a glob; first match wins) with the manifest's environment ENV. Repeatable; "
    f"default from {BRANCH_ENV_VAR} (comma list).",
)
@click.option(
    "--queue-size", default=100, show_default=True, type=click.IntRange(1),
    help="Branches (and PRs) with a queued job before a delivery for another one gets 503.",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1), help="Deliveries processed in parallel.")
@click.option("--allow-fork-prs", is_flag=True, help="Build previews of, and plan, pull requests from forks (values their manifest reads from this environment are masked).")
@click.option(
    "--lock-wait", default=60.0, show_default=True, metavar="SECONDS", type=click.FloatRange(min=0),
    help="Wait this long for the project lock of another fnsync (e.g. `fnsync apply`) before retrying the delivery later.",
)
@click.option(
    "--database", default=None, metavar="URL", envvar=DATABASE_VAR, show_envvar=True,
    help="Queue and delivery log: sqlite:///PATH (default: a SQLite file in --data) or postgresql://USER@HOST:PORT/DB, "
    "which several receivers share (put a password in PGPASSWORD or ~/.pgpass, or use the environment variable, "
    "not the flag).",
)
@click.option(
    "--lease", default=30.0, show_default=True, metavar="SECONDS", type=click.FloatRange(min=1),
    help="With PostgreSQL: how long a job claimed by a receiver that stopped renewing it (killed, cut off) waits "
    "before another receiver takes it over.",
)
@click.option(
    "--log-format", type=click.Choice(FORMATS), default="plain", show_default=True,
    help="Log lines as plain text, or one JSON object per line (for log shippers). `fnsync -v webhook` adds detail, -vv that of git and HTTP.",
)
@pass_terminal
def webhook(
    terminal: Terminal,
    host: str,
    port: int,
    data_dir: Path,
    allow_clone_urls: tuple[str, ...],
    manifest_path: str,
    github_api_url: str,
    gitlab_api_url: str,
    gitea_api_url: str | None,
    branch_envs: tuple[str, ...],
    queue_size: int,
    workers: int,
    allow_fork_prs: bool,
    lock_wait: float,
    database: str | None,
    lease: float,
    log_format: LogFormat,
) -> None:
    """Receive GitHub, GitLab and Gitea pushes and deploy the functions they touch.

    Needs FNSYNC_WEBHOOK_SECRET and the Appwrite connection (APPWRITE_ENDPOINT, APPWRITE_PROJECT_ID,
    APPWRITE_API_KEY). Optional: FNSYNC_ADMIN_TOKEN (serves /deliveries), GITHUB_TOKEN, GITLAB_TOKEN and
    GITEA_TOKEN (private clones from that provider's own host, commit statuses and PR/MR comments),
    FNSYNC_WEBHOOK_BRANCH_ENV (branch=environment pairs, as --branch-env).
    """
    problem = secret_problem(os.environ.get(SECRET_VAR, ""))
    if problem is not None:
        terminal.abort(problem)
    connection = resolve_connection(None)
    if connection.missing():
        unset = [name for name in (ENV_ENDPOINT, ENV_PROJECT, ENV_API_KEY) if not os.environ.get(name)]
        terminal.abort(f"the webhook needs an Appwrite server: set {', '.join(unset)}")
    settings: dict[str, object] = {}
    try:
        if branch_envs:  # flags win over FNSYNC_WEBHOOK_BRANCH_ENV
            settings["branch_envs"] = parse_branch_envs(branch_envs)
        config = WebhookConfig.from_environ(
            os.environ,
            **settings,
            data_dir=data_dir.resolve(),
            allow_clone_urls=allow_clone_urls or DEFAULT_CLONE_URLS,
            manifest_path=manifest_path,
            github_api_url=github_api_url,
            gitlab_api_url=gitlab_api_url,
            gitea_api_url=gitea_api_url,
            queue_size=queue_size,
            workers=workers,
            allow_fork_prs=allow_fork_prs,
            lock_wait=lock_wait,
            database=database or None,
            lease=lease,
            endpoint=connection.endpoint,
            project=connection.project,
            api_key=connection.api_key,
        )
    except ValidationError as exc:
        terminal.abort("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    except ValueError as exc:
        terminal.abort(str(exc))
    configure(log_format, terminal.verbosity)
    where = scheme_hint(config.database.get_secret_value()) if config.database else "SQLite in the data dir"
    try:
        app = create_app(config)
    except ValueError as exc:
        terminal.abort(str(exc))
    except psycopg.Error as exc:
        terminal.abort(scrub(f"cannot open the database {where}: {exc}", config.secrets()))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        terminal.abort(f"cannot listen on {host}:{port}: {exc.strerror}")
    bound = sock.getsockname()[1]
    log = logging.getLogger("fnsync.webhook")  # from here on, everything is a log line in --log-format
    log.info("fnsync webhook listening on http://%s:%d (Appwrite %s, data %s, queue %s)", host, bound, connection.endpoint, config.data_dir, where)
    if config.admin_token is None:
        log.warning("FNSYNC_ADMIN_TOKEN is not set: /deliveries is disabled")
    if config.github_token is None:
        log.warning("GITHUB_TOKEN is not set: no private clones, no commit statuses or PR comments")
    for branch, env in config.branch_envs:
        log.info("pushes to %s deploy environment %s", branch, env)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, log_config=None))
    server.run(sockets=[sock])
