"""What the commands share: options, loading the manifest, connecting, and turning errors into exit 1.

This is the only CLI module that knows about the embedded local server: with no endpoint configured anywhere,
fnsync uses a server already running on `<manifest dir>/.fnsync/local`, or starts one in this process.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from syncer.apply import make_plan
from syncer.client import AppwriteClient, AppwriteError, Capabilities
from syncer.client.errors import scrub
from syncer.connection import ENV_API_KEY, ConnectionSettings, resolve_connection
from syncer.history import HistoryError
from syncer.manifest import ManifestError, load_manifest
from syncer.manifest.models import Manifest
from syncer.packaging import CodePackage, PackagingError
from syncer.plan import Action, ChangeKind, Plan, PlanError, PlanOptions
from syncer.planfile import PlanFileError
from syncer.redact import redact_data
from syncer.state import HashCache, ServerState
from syncer.cli.explain import endpoint_problem, explain
from syncer.cli.terminal import Terminal
from syncer.cli import target as server_target

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

LOCAL_DATA = Path(".fnsync") / "local"
LOCAL_PROJECT = "local"
# The Appwrite the embedded local server answers as: today's self-hosted stable.
EMBEDDED_APPWRITE_VERSION = "1.9.6"
CACHE_FILE = Path(".fnsync") / "cache" / "code-hashes.json"


def compose(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """Several click decorators as one, written in the order they would stand above a command (top first)."""

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def manifest_file_option(text: str = "The manifest (env FNSYNC_MANIFEST).") -> Callable[[F], F]:
    return click.option(
        "-f",
        "--file",
        "manifest_file",
        default="functions.yaml",
        show_default=True,
        envvar="FNSYNC_MANIFEST",
        type=click.Path(dir_okay=False, path_type=Path),
        help=text,
    )


manifest_option = manifest_file_option()


def env_option(f: F) -> F:
    """`--env NAME`: one of the manifest's `environments:` (see docs/environments.md)."""
    return click.option(
        "--env",
        "env",
        default=None,
        metavar="NAME",
        envvar="FNSYNC_ENV",
        help="Use the manifest's environment NAME: its overrides, and .env.NAME over .env (env FNSYNC_ENV).",
    )(f)


def connection_options(f: F) -> F:
    f = click.option("--project", default=None, metavar="ID", help="Project ID (else APPWRITE_PROJECT_ID, else the manifest).")(f)
    f = click.option(
        "--endpoint",
        default=None,
        metavar="URL",
        help="API endpoint, e.g. https://cloud.appwrite.io/v1 (else APPWRITE_ENDPOINT, else the manifest; "
        "none at all = the embedded local server). The key is read from APPWRITE_API_KEY only.",
    )(f)
    return server_target.local_option(f)


target_option = click.option("--target", "targets", multiple=True, metavar="ID", help="Only this function (repeatable).")
prune_option = click.option("--prune", is_flag=True, help="Also delete functions that are not in the manifest (never prune.keep).")


def yes_option(text: str = "Do not ask for confirmation (needed without a terminal).") -> Callable[[F], F]:
    return click.option("-y", "--yes", is_flag=True, help=text)


def json_option(text: str) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=text)


# The stacks the commands share: `manifest_options` first (plan, apply, watch, drift); `server_options` last on
# commands whose manifest is optional and only says where to connect (deployments, rollback, exec).
manifest_options: Callable[[F], F] = compose(manifest_option, env_option)
selection_options: Callable[[F], F] = compose(target_option, prune_option)


@dataclass(frozen=True)
class ServerChoice:
    """What -f, --env, --endpoint and --project said, for commands that work with or without a manifest."""

    manifest_file: Path
    env: str | None
    endpoint: str | None
    project: str | None


def server_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """-f, --env, --endpoint and --project, handed to the command as one `server: ServerChoice` argument."""

    @functools.wraps(f)
    def command(*args: Any, manifest_file: Path, env: str | None, endpoint: str | None, project: str | None, **kwargs: Any) -> Any:
        return f(*args, server=ServerChoice(manifest_file, env, endpoint, project), **kwargs)

    return compose(manifest_option, env_option, connection_options)(command)


def load_or_abort(terminal: Terminal, path: Path, env: str | None = None) -> Manifest:
    """Load and validate the whole manifest (with environment `env`); any problem exits 1 before anything is
    read or written."""
    with handle_errors(terminal):
        manifest = load_manifest(path, env=env)
    return manifest  # the environment is named after the server (`connect`): the server comes first


def load_optional(terminal: Terminal, path: Path, env: str | None) -> Manifest | None:
    """The manifest when there is one (for its endpoint, project, environments and secrets), for commands that also
    work without: a file named with -f/FNSYNC_MANIFEST, or --env, must exist; the default one may be absent."""
    if env is not None and not path.exists():
        terminal.abort(f"--env {env} needs a manifest, and {path} does not exist")
    source = click.get_current_context().get_parameter_source("manifest_file")
    if path.exists() or source is not click.core.ParameterSource.DEFAULT:
        return load_or_abort(terminal, path, env)
    return None


@dataclass
class Connection:
    settings: ConnectionSettings
    embedded: bool
    api_key: str
    cache_scope: str = ""  # what identifies this server across runs (the embedded one changes port every run)
    stops_with_command: bool = False  # an embedded server started by this command: it stops (and its builds) on exit
    # Clients made for this run: the first to negotiate the server's capabilities hands them to later ones,
    # so one command asks the server's version once, however many clients it opens.
    clients: list[AppwriteClient] = field(default_factory=list)
    capabilities: Capabilities | None = None
    # Every client made for this run, so that the command can tell every request it sent (`requests`).
    opened: list[AppwriteClient] = field(default_factory=list)

    def client(self, manifest: Manifest | None = None) -> AppwriteClient:
        """A fresh client; with a manifest, its sensitive values are scrubbed from the client's errors too."""
        assert self.settings.endpoint and self.settings.project
        secrets = tuple(manifest.sensitive_values()) if manifest is not None else ()
        if self.capabilities is None:
            self.capabilities = next((c.negotiated for c in self.clients if c.negotiated is not None), None)
        client = AppwriteClient(
            self.settings.endpoint, self.settings.project, self.api_key, secrets=secrets, capabilities=self.capabilities
        )
        self.clients = [] if self.capabilities is not None else [*self.clients, client]
        self.opened.append(client)
        return client

    def requests(self) -> tuple[int, int]:
        """(reads, writes) sent by every client of this run so far: all phases, the version probe and lock included."""
        return sum(c.stats.reads for c in self.opened), sum(c.stats.writes for c in self.opened)

    def cache(self, manifest: Manifest) -> HashCache:
        scope = self.cache_scope or f"{self.settings.endpoint}|{self.settings.project}"
        return HashCache(manifest.root / CACHE_FILE, scope=scope)


@contextmanager
def connect(
    terminal: Terminal,
    manifest: Manifest | None,
    endpoint: str | None,
    project: str | None,
    *,
    root: Path | None = None,
    planned_for: str | None = None,
) -> Iterator[Connection]:
    """Resolve the connection; with no endpoint at all, use (or start) the embedded local server.

    The local server's state lives in `<root>/.fnsync/local`; `root` defaults to the manifest's folder, or the
    current directory when there is no manifest (e.g. `fnsync exec` outside a project).
    """
    settings = resolve_connection(manifest, endpoint=endpoint, project=project)
    local = server_target.local_requested()
    if local and endpoint:
        terminal.abort("--local and --endpoint contradict each other: give one of them")
    if settings.configured and not local:
        missing = settings.missing()
        if missing:
            terminal.abort("cannot connect: missing " + " and ".join(missing))
        problem = endpoint_problem(settings.endpoint or "", settings.endpoint_source)
        if problem:
            terminal.abort(f"cannot connect: {problem}; nothing was read or changed")
        assert settings.api_key is not None
        terminal.debug(f"connecting to {settings.describe()}")
        terminal.info(f"Server: {settings.endpoint}, project {settings.project} ({settings.endpoint_source} endpoint).")
        _name_environment(terminal, manifest)
        yield Connection(settings=settings, embedded=False, api_key=settings.api_key.get_secret_value())
        return
    refusal = server_target.check_embedded_fallback(manifest, planned_for=planned_for)
    if refusal:
        terminal.abort(refusal)
    if root is None:
        root = manifest.root if manifest is not None else Path.cwd()
        if manifest is None and not (root / LOCAL_DATA).exists():
            terminal.abort(server_target.NOTHING_HERE.format(folder=root))
    with _embedded(terminal, root / LOCAL_DATA) as connection:
        _name_environment(terminal, manifest)
        yield connection


def _name_environment(terminal: Terminal, manifest: Manifest | None) -> None:
    if manifest is not None and manifest.environment is not None:
        terminal.info(f"Environment {manifest.environment} of {manifest.source.name}.")


@contextmanager
def _embedded(terminal: Terminal, data_dir: Path) -> Iterator[Connection]:
    from localserver.config import ServerConfig
    from localserver.server import ensure_api_key, find_running, start_in_thread

    key = ensure_api_key(data_dir, os.environ.get("FNSYNC_LOCAL_API_KEY"))
    info = find_running(data_dir)
    if info is not None:
        endpoint, project = str(info["endpoint"]), str(info.get("project") or LOCAL_PROJECT)
        terminal.info(f"Using the local server running at {endpoint} (state in {data_dir}); no endpoint configured.")
        yield _local_connection(endpoint, project, key, data_dir)
        return
    config = ServerConfig(
        data_dir=data_dir, project_id=LOCAL_PROJECT, api_key=key, appwrite_version=EMBEDDED_APPWRITE_VERSION
    )
    running = start_in_thread(config)
    terminal.info(
        f"Using the embedded local server as Appwrite {EMBEDDED_APPWRITE_VERSION} (state in {data_dir}); "
        "set --endpoint or APPWRITE_ENDPOINT for another server."
    )
    try:
        connection = _local_connection(running.endpoint, LOCAL_PROJECT, key, data_dir)
        connection.stops_with_command = True
        yield connection
    finally:
        running.stop()


def _local_connection(endpoint: str, project: str, key: str, data_dir: Path) -> Connection:
    settings = ConnectionSettings(
        endpoint=endpoint, project=project, endpoint_source="none", project_source="none", api_key_source="none"
    )
    return Connection(settings=settings, embedded=True, api_key=key, cache_scope=f"local:{data_dir}|{project}")


@dataclass
class Session:
    """One command's run against one server: the connection, the secrets to scrub and a scratch folder."""

    terminal: Terminal
    manifest: Manifest | None
    connection: Connection
    secrets: tuple[str, ...]
    work_dir: Path  # for this run's code archives; removed when the session ends

    def client(self) -> AppwriteClient:
        return self.connection.client(self.manifest)

    def emit(self, renderable: Any, *, raw: bool = False) -> None:
        emit(self.terminal, renderable, self.secrets, raw=raw)

    def emit_json(self, data: Any) -> None:
        """Indented JSON on stdout: secrets removed from the values before serialising, then scrubbed like all text."""
        emit(self.terminal, json.dumps(redact_data(data, self.secrets), indent=2) + "\n", self.secrets, raw=True)

    async def plan(
        self, options: PlanOptions, *, probe_creations: bool = True
    ) -> tuple[Plan, ServerState, dict[str, CodePackage]]:
        """`syncer.apply.make_plan` with a fresh client, this run's archives folder and the code-hash cache.

        `probe_creations`: a plan that creates functions asks the server's creation allowance (one refused
        create, see `syncer.creation_limit`); commands that promise never to send a write turn it off.
        """
        assert self.manifest is not None
        async with self.client() as client:
            planned = await make_plan(
                self.manifest,
                client,
                options,
                work_dir=self.work_dir,
                cache=self.connection.cache(self.manifest),
                probe_creations=probe_creations,
            )
        check_upload_sizes(planned[0], planned[2])
        return planned


UPLOAD_LIMIT_ENV = "FNSYNC_UPLOAD_LIMIT"
DEFAULT_UPLOAD_LIMIT = 30_000_000  # Appwrite's default _APP_FUNCTIONS_SIZE_LIMIT (1.6) / _APP_COMPUTE_SIZE_LIMIT (1.7+)


def check_upload_sizes(plan: Plan, packages: dict[str, CodePackage]) -> None:
    """An archive the server would refuse (after the functions and variables were already written) stops the
    plan instead. The server does not tell its limit: Appwrite's default, or FNSYNC_UPLOAD_LIMIT (bytes)."""
    limit = int(os.environ.get(UPLOAD_LIMIT_ENV) or DEFAULT_UPLOAD_LIMIT)
    deployed = {c.function_id for c in plan.changes if c.kind is ChangeKind.CODE and c.action is Action.DEPLOY}
    over = [f"{fid} ({packages[fid].size:,} bytes)" for fid in sorted(deployed) if fid in packages and packages[fid].size > limit]
    if over:
        raise PlanError(
            f"code archive over the server's upload limit of {limit:,} bytes: {', '.join(over)}. Leave large files out "
            f"with `ignore:`, or set {UPLOAD_LIMIT_ENV}=BYTES when your server allows more "
            "(_APP_FUNCTIONS_SIZE_LIMIT / _APP_COMPUTE_SIZE_LIMIT); nothing was changed"
        )


@contextmanager
def session(
    terminal: Terminal, manifest: Manifest | None, endpoint: str | None, project: str | None, *, planned_for: str | None = None
) -> Iterator[Session]:
    """Connect (see `connect`), then run the body with known errors turned into exit 1, secrets scrubbed."""
    with connect(terminal, manifest, endpoint, project, planned_for=planned_for) as connection:
        secrets = secrets_of(manifest, connection)
        with handle_errors(terminal, secrets, connection.settings.endpoint), tempfile.TemporaryDirectory(prefix="fnsync-") as tmp:
            yield Session(terminal, manifest, connection, secrets, Path(tmp))


@contextmanager
def optional_session(terminal: Terminal, server: ServerChoice) -> Iterator[Session]:
    """`session` for commands whose manifest is optional (`load_optional`)."""
    manifest = load_optional(terminal, server.manifest_file, server.env)
    with session(terminal, manifest, server.endpoint, server.project) as s:
        yield s


def run(coro: Coroutine[Any, Any, T]) -> T:
    # httpx logs every request at INFO; an embedded server's logging setup would otherwise show them all.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(coro)


@contextmanager
def handle_errors(terminal: Terminal, secrets: tuple[str, ...] = (), endpoint: str | None = None) -> Iterator[None]:
    """Known failures become one clean message and exit 1; secrets are scrubbed from the text. Server errors
    say what to check (`syncer.cli.explain`), naming `endpoint`."""

    def fail(text: str) -> NoReturn:
        terminal.abort(scrub(text, secrets))

    try:
        yield
    except ManifestError as exc:
        for issue in exc.issues:
            terminal.error(str(issue))
        fail(f"the manifest has {len(exc.issues)} problem(s); nothing was changed")
    except (PlanError, PlanFileError, PackagingError, HistoryError) as exc:
        fail(str(exc))
    except AppwriteError as exc:
        fail(explain(exc, endpoint))
    except OSError as exc:
        fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))


def emit(terminal: Terminal, renderable: Any, secrets: tuple[str, ...] = (), *, raw: bool = False) -> None:
    """Print results to stdout with every secret scrubbed, whatever text they ended up in (defence in depth)."""
    if raw:
        text = str(renderable)
    else:
        with terminal.out.capture() as captured:
            terminal.out.print(renderable)
        text = captured.get()
    terminal.write(scrub(text, secrets))


def secrets_of(manifest: Manifest | None, connection: Connection | None = None) -> tuple[str, ...]:
    values = set(manifest.sensitive_values()) if manifest else set()
    if connection is not None:
        values.add(connection.api_key)
    if os.environ.get(ENV_API_KEY):
        values.add(os.environ[ENV_API_KEY])
    return tuple(values)
