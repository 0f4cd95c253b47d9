"""Appwrite's function-creation limit (50 per project and day by default): seen before, never slept on.

`creation_note` lets a plan say, before any write, that it creates more functions than the server allows now;
`CreationGate` lets one apply stop creating at the first refusal while everything else goes on, and
`CreationDeferred` marks the creates left for a later run (see docs/server-versions.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syncer.client import RateLimit

if TYPE_CHECKING:
    from syncer.client import AppwriteClient
    from syncer.plan import Plan
    from syncer.state import ServerState

DEFAULT_CREATION_LIMIT = 50  # Appwrite's default _APP_FUNCTIONS_CREATION_ABUSE_LIMIT (per project and day)


class CreationDeferred(Exception):
    """The server's function-creation allowance is used up: the create waits for a later run (never slept on)."""

    def __init__(self, limit: RateLimit | None) -> None:
        self.limit = limit
        super().__init__(f"not created: the server's function-creation limit is reached{until(limit)}")


def until(limit: RateLimit | None) -> str:
    return limit.until if limit is not None else ""


class CreationGate:
    """Shared by one apply's functions: once the server refuses a create for its limit, no other create is tried."""

    def __init__(self) -> None:
        self.reached = False
        self.limit: RateLimit | None = None

    def reach(self, limit: RateLimit | None) -> None:
        self.reached = True
        self.limit = limit or self.limit


async def creation_note(plan: Plan, state: ServerState, client: AppwriteClient) -> str:
    """What a plan says when it creates more functions than the server allows now ("" when it fits).

    The allowance comes from the `X-RateLimit-*` headers of this client's last create, or of one probe
    (`AppwriteClient.probe_creation_limit`, which needs a function on the server to collide with); when neither
    is possible, only a plan creating more than Appwrite's default daily limit says so.
    """
    creates = plan.counts()["create"]
    if not creates:
        return ""
    allowance = client.creation_limit
    if allowance is None and state.functions:
        allowance = await client.probe_creation_limit(next(iter(state.functions.values())).function)
    tail = "apply creates what it may, finishes every other change, and says when to re-run for the rest"
    if allowance is None:
        if creates <= DEFAULT_CREATION_LIMIT:
            return ""
        return (
            f"this plan creates {creates} functions; Appwrite allows {DEFAULT_CREATION_LIMIT} function creations per "
            f"project per day by default (the server did not say how many remain): {tail}"
        )
    if creates <= allowance.left:
        return ""
    return (
        f"this plan creates {creates} functions but the server allows {allowance.left} more function creations"
        f"{until(allowance)} (Appwrite's limit: {allowance.limit}): {tail}"
    )
