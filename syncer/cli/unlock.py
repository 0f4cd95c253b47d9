"""`fnsync unlock LOCK_ID`: release a project lock by hand (Terraform's `force-unlock`).

For a lock whose holder will never release it (a CI runner that vanished, a laptop that went to sleep) when its
expiry is too far away. The lock id is printed by every "the project is locked" error; asking for it means the
person saw *which* holding they release, and deleting by that id can never release a lock taken since.
"""

from __future__ import annotations

import sys

import click

from syncer.cli.common import ServerChoice, optional_session, run, server_options
from syncer.cli.terminal import Terminal, pass_terminal
from syncer.client import AppwriteClient
from syncer.lock import Held, break_lock, current_lock, describe_holder, holder_gone, utc_now
from syncer.lock_owner import same_machine


@click.command("unlock")
@click.argument("lock_id", metavar="LOCK_ID")
@click.option(
    "-y", "--yes", "--force", "yes", is_flag=True, help="Release without asking (needed without a terminal)."
)
@server_options
@pass_terminal
def unlock(terminal: Terminal, lock_id: str, yes: bool, server: ServerChoice) -> None:
    """Release the project lock LOCK_ID (printed by the "project is locked" error) after confirmation.

    Only for a holder that is no longer running: releasing a live apply's lock lets another apply interleave
    with it. A LOCK_ID that is not the current lock is refused, and nothing is released.
    """
    with optional_session(terminal, server) as s:
        held = run(_read(s.client()))
        if held is None:
            terminal.success(f"The project is not locked (lock {lock_id} was released already); nothing to do.")
            return
        if held.lock_id != lock_id:
            terminal.abort(
                f"{lock_id} is not the current lock: the project is locked by {describe_holder(held)}. "
                "Nothing was released; check that this holder is gone before releasing its lock."
            )
        terminal.info(f"Lock {lock_id} is held by {describe_holder(held, with_id=False)}.")
        terminal.info(_liveness(held))
        if not yes:
            _confirm(terminal)
        released = run(_release(s.client(), lock_id))
    if released:
        terminal.success(f"Released lock {lock_id}; the next apply takes the lock normally.")
    else:
        terminal.success(f"Lock {lock_id} was released meanwhile; nothing to do.")


def _liveness(held: Held) -> str:
    holder = held.holder
    if holder is None:
        return "Its record is unreadable, so fnsync cannot tell whether its holder still runs."
    if holder.expired(utc_now()):
        return "It has expired: the next apply would take it over anyway."
    if holder_gone(holder):
        return "Its process on this machine is gone: the next apply here would take it over anyway."
    if same_machine(holder.owner):
        return (
            f"Its process (pid {holder.owner.pid}) is still running on this machine: releasing the lock lets another "
            "apply interleave with it. Stop that process first, or wait for it."
        )
    return (
        f"fnsync cannot tell whether pid {holder.owner.pid} on {holder.owner.host} still runs. "
        "Release it only if that fnsync has stopped: an apply still running would interleave with the next one."
    )


def _confirm(terminal: Terminal) -> None:
    if not sys.stdin.isatty():
        terminal.abort("refusing to release the lock without confirmation: no terminal to ask on; pass --yes to release it anyway")
    if not click.confirm("Release this lock?", default=False, err=True):
        terminal.abort("Unlock cancelled; the lock is still held.")


async def _read(client: AppwriteClient) -> Held | None:
    async with client:
        return await current_lock(client)


async def _release(client: AppwriteClient, lock_id: str) -> bool:
    async with client:
        return await break_lock(client, lock_id)
