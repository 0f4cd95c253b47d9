"""A function's deployments as history: where each came from, which one runs, and rollback to an earlier one.

Source of a deployment: `fnsync` when its archive's gzip header carries fnsync's code hash (one ranged download
of `HEADER_BYTES` per listed deployment, the same probe `syncer.state` uses), else Appwrite's own `type`
(`vcs`, `cli`, or `manual` for console and API uploads). Rollback only re-activates an existing ready build;
it never uploads or builds, so it is one write.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, ConfigDict

from syncer.client import AppwriteClient, AppwriteError, Query, is_not_found
from syncer.client.models import Deployment, Function
from syncer import state
from syncer.reserved import is_reserved
from syncer.tasks import gather_or_cancel

Source = Literal["fnsync", "vcs", "cli", "manual"]


class HistoryError(Exception):
    """The function or deployment is not there, or a rollback is refused; the message says why."""


class DeploymentInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    created_at: str
    status: str
    size: int
    build_time: int  # seconds
    active: bool
    source: Source
    type: str  # Appwrite's own: manual | cli | vcs
    code_hash: str | None = None  # fnsync's code hash, for fnsync deployments
    commit: str = ""
    branch: str = ""


class FunctionHistory(BaseModel):
    model_config = ConfigDict(frozen=True)

    function: Function
    deployments: tuple[DeploymentInfo, ...]  # newest first

    @property
    def active(self) -> DeploymentInfo | None:
        return next((d for d in self.deployments if d.active), None)


class Rollback(BaseModel):
    """What a rollback will do: make `target` the active deployment instead of `current`."""

    model_config = ConfigDict(frozen=True)

    function_id: str
    current: str  # the active deployment id now ("" when none)
    target: DeploymentInfo


def source_of(deployment: Deployment, code_hash: str | None) -> Source:
    if code_hash is not None:
        return "fnsync"
    if deployment.type in ("vcs", "cli"):
        return deployment.type  # type: ignore[return-value]
    return "manual"


async def header_hash(client: AppwriteClient, function_id: str, deployment_id: str) -> str | None:
    """fnsync's code hash from the archive's gzip header; None for other archives or when it cannot be read."""
    try:
        return await state.header_hash(client, function_id, deployment_id)
    except AppwriteError:
        return None


async def describe(client: AppwriteClient, function: Function, deployment: Deployment) -> DeploymentInfo:
    code_hash = await header_hash(client, function.id, deployment.id)
    return DeploymentInfo(
        id=deployment.id,
        created_at=deployment.created_at,
        status=deployment.status,
        size=deployment.size,
        build_time=deployment.build_time,
        active=deployment.id == function.deployment,
        source=source_of(deployment, code_hash),
        type=deployment.type,
        code_hash=code_hash,
        commit=deployment.provider_commit_hash,
        branch=deployment.provider_branch,
    )


async def get_function(client: AppwriteClient, function_id: str) -> Function:
    if is_reserved(function_id):
        raise HistoryError(f"{function_id} is fnsync's reserved lock function, not one of yours")
    function = await client.get_function(function_id)
    if function is None:
        raise HistoryError(f"function {function_id} not found on the server")
    return function


async def list_history(
    client: AppwriteClient, function_id: str, *, limit: int | None = None, concurrency: int = 8
) -> FunctionHistory:
    """The function's deployments, newest first (at most `limit`), each with its source and active marker."""
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    function = await get_function(client, function_id)
    queries = [Query.order_desc("$createdAt")]
    if limit is not None and limit <= 100:
        queries.append(Query.limit(limit))  # one page is enough
    deployments = await client.list_deployments(function_id, queries)
    if limit is not None:
        deployments = deployments[:limit]
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(deployment: Deployment) -> DeploymentInfo:
        async with gate:
            return await describe(client, function, deployment)

    infos = await gather_or_cancel(*(one(d) for d in deployments))
    return FunctionHistory(function=function, deployments=tuple(infos))


async def plan_rollback(client: AppwriteClient, function_id: str, to: str | None = None) -> Rollback:
    """Pick the deployment to re-activate: `to`, or the newest ready one older than the active one.

    Refuses (HistoryError) a deployment that is unknown, belongs to another function, or is not ready.
    """
    function = await get_function(client, function_id)
    if to is not None:
        return Rollback(function_id=function_id, current=function.deployment, target=await _named(client, function, to))
    if not function.deployment:
        raise HistoryError(f"{function_id} has no active deployment to roll back from; name one with --to")
    history = await client.list_deployments(function_id, [Query.order_desc("$createdAt")])
    ids = [d.id for d in history]
    if function.deployment not in ids:
        raise HistoryError(f"the active deployment {function.deployment} of {function_id} is not in its list; name one with --to")
    older = history[ids.index(function.deployment) + 1 :]
    previous = next((d for d in older if d.status == "ready"), None)
    if previous is None:
        raise HistoryError(
            f"{function_id} has no ready deployment older than the active one ({function.deployment}); nothing to roll back to"
        )
    return Rollback(function_id=function_id, current=function.deployment, target=await describe(client, function, previous))


async def _named(client: AppwriteClient, function: Function, deployment_id: str) -> DeploymentInfo:
    try:
        deployment = await client.get_deployment(function.id, deployment_id)
    except AppwriteError as exc:
        if not is_not_found(exc):
            raise
        owner = await _owner_of(client, deployment_id, exclude=function.id)
        if owner:
            raise HistoryError(f"deployment {deployment_id} belongs to function {owner}, not {function.id}") from None
        raise HistoryError(f"deployment {deployment_id} not found on function {function.id}") from None
    if deployment.resource_id and deployment.resource_id != function.id:
        raise HistoryError(f"deployment {deployment_id} belongs to function {deployment.resource_id}, not {function.id}")
    if deployment.status != "ready":
        raise HistoryError(
            f"deployment {deployment_id} is not ready (status {deployment.status or 'waiting'}); only a ready build can be activated"
        )
    return await describe(client, function, deployment)


async def _owner_of(client: AppwriteClient, deployment_id: str, exclude: str) -> str:
    """Which other function has this deployment (error path only: one read per function)."""
    for other in await client.list_functions():
        if other.id == exclude or is_reserved(other.id):
            continue
        try:
            await client.get_deployment(other.id, deployment_id)
        except AppwriteError:
            continue
        return other.id
    return ""


async def perform_rollback(client: AppwriteClient, rollback: Rollback) -> Function:
    """Activate the target build (one PATCH). `live` is left as it was, as Appwrite does for manual activation."""
    function = await client.activate_deployment(rollback.function_id, rollback.target.id)
    if function.deployment != rollback.target.id:
        raise HistoryError(f"the server did not activate {rollback.target.id} (active: {function.deployment or 'none'})")
    return function
