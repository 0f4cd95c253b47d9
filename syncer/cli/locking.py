"""The project lock for commands that write (`apply`, `rollback`): shared flags and a context manager for the CLI.

The lock is taken only for the writing phase, after the plan was shown and confirmed, so a refused or no-op apply
writes nothing at all. Once it holds the lock, apply re-reads the server and refuses when it changed since the plan
(another apply ran meanwhile, or someone edited the server): what gets applied is always what was shown.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import click

from syncer.cli.common import Connection, run
from syncer.cli.terminal import Terminal
from syncer.lock import LockError, LockHeld
from syncer.lock_holder import holding_lock
from syncer.manifest.models import Manifest
from syncer.plan import Plan
from syncer.state import read_state

F = TypeVar("F", bound=Callable[..., Any])


def lock_options(f: F) -> F:
    f = click.option("--no-lock", is_flag=True, help="Do not take the project lock (emergencies only).")(f)
    f = click.option(
        "--lock-timeout",
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        type=click.FloatRange(min=0),
        help="Wait this long for another fnsync's project lock (0 = fail at once).",
    )(f)
    return f


@contextmanager
def project_lock(
    terminal: Terminal,
    connection: Connection,
    manifest: Manifest | None,
    command: str,
    timeout: float,
    disabled: bool,
    *,
    planned: Plan | None = None,
) -> Iterator[None]:
    """Hold the project lock (syncer.lock) around the body, released on every exit; held by another = exit 1.

    With `planned`, the server is re-read under the lock and the body does not run if it changed since that plan.
    """
    if disabled:
        terminal.warning("not taking the project lock (--no-lock): another apply could interleave with this one")
        yield
        return
    with ExitStack() as stack:
        try:
            lease = stack.enter_context(
                holding_lock(
                    lambda: connection.client(manifest),
                    command=command,
                    timeout=timeout,
                    on_wait=terminal.info,
                    warn=terminal.warning,
                )
            )
        except LockHeld as exc:
            hint = f". If that fnsync is no longer running, release its lock with: {unlock_command(exc.lock_id)}" if exc.lock_id else ""
            terminal.abort(f"{exc}{hint}")
        except LockError as exc:
            terminal.abort(str(exc))
        terminal.debug(f"holding the project lock until {lease.info.expires_at:%H:%M:%S} UTC, refreshed while running")
        if planned is not None and manifest is not None:
            current = run(_fingerprint(connection, manifest, planned))
            if current != planned.state_fingerprint:
                terminal.abort(
                    "the server changed since the plan was made (another apply ran, or someone edited it); "
                    "nothing was applied. Run `fnsync apply` again to see the new plan."
                )
        yield


def unlock_command(lock_id: str) -> str:
    """`fnsync unlock LOCK_ID` with the connection flags of the running command, ready to paste."""
    words = ["fnsync", "unlock", lock_id]
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        for name, flag in (("manifest_file", "-f"), ("env", "--env"), ("endpoint", "--endpoint"), ("project", "--project")):
            value = ctx.params.get(name)
            if value is not None and ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                words += [flag, shlex.quote(str(value))]
    return " ".join(words)


async def _fingerprint(connection: Connection, manifest: Manifest, plan: Plan) -> str:
    """The state fingerprint exactly as the plan computed it (same targets), read afresh."""
    async with connection.client(manifest) as client:
        state = await read_state(client, manifest, targets=plan.options.targets, cache=connection.cache(manifest))
    return state.fingerprint()
