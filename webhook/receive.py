"""POST /webhooks/{github,gitlab,gitea}: verify, deduplicate, record, enqueue, answer.

The order matters: what the headers allow (a declared size over the cap: 413; GitLab's token, the presence
of a signature header: 401) is checked before the body is read; bodies are read at most
`max_concurrent_bodies` at a time, under a deadline (408) and the cap (413); the signature (401) comes before
anything is parsed or stored, so an unsigned request changes nothing. Events we do not act on get 200 with
the reason (GitLab disables hooks after 4xx answers); a queued job gets 202; a replayed body is a duplicate;
a full queue gets 503 and is not recorded, so the sender's retry is not mistaken for a redelivery.
"""

from __future__ import annotations

import asyncio
import json
import logging

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException
from pydantic import ValidationError

from webhook.context import WebhookContext
from webhook.events import Ignored, JobRequest, classify
from webhook.logs import fields
from webhook.signatures import Provider, body_hash, delivery_id, detect_provider, event_name, verify, verify_before_body

log = logging.getLogger("fnsync.webhook")


async def receive(provider: Provider, request: Request, ctx: WebhookContext) -> Response[dict[str, str]]:
    headers = request.headers
    claimed = detect_provider(headers)
    if claimed is not None and claimed is not provider:
        raise HTTPException(status_code=400, detail=f"this is a {claimed.value} delivery; send it to /webhooks/{claimed.value}")
    secret = ctx.config.secret.get_secret_value()
    if not verify_before_body(provider, secret, headers):
        raise NotAuthorizedException(detail="missing or invalid signature")
    body = await read_body(request, ctx)
    if not verify(provider, secret, body, headers):
        raise NotAuthorizedException(detail="missing or invalid signature")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(status_code=400, detail=f"the body is not valid JSON: {exc}") from exc
    event = event_name(provider, headers)
    try:
        decision = classify(provider, event, payload, ctx.config.clone_url_allowed, ctx.config.allow_fork_prs)
    except (ValidationError, ValueError) as exc:
        raise HTTPException(status_code=400, detail=f"malformed {event or 'unknown'} payload: {_short(exc)}") from exc
    asked = decision
    if isinstance(decision, JobRequest) and await ctx.links.check(decision.repo_id, decision.branch) is False:
        decision = Ignored(reason=f"no function is linked to repository {decision.repo_id} on branch {decision.branch}")
    did = delivery_id(provider, headers, body)
    result = await ctx.store.accept(did, provider.value, event, decision, ctx.config.queue_size, body_hash(provider, body))
    if result in ("duplicate", "ignored"):  # the worker logs the line of a queued one when it ends
        _log_answered(did, provider, event, asked, decision, result)
    if result == "duplicate":
        reason = "already received (this delivery id or this exact body); redelivery ignored"
        return Response({"status": "duplicate", "delivery": did, "reason": reason}, status_code=200)
    if result == "full":
        log.warning("queue full: rejected delivery %s", did)
        return Response(
            {"status": "rejected", "delivery": did, "reason": "the queue is full; retry later"},
            status_code=503,
            headers={"Retry-After": "30"},
        )
    if result == "ignored":
        assert isinstance(decision, Ignored)
        return Response({"status": "ignored", "delivery": did, "reason": decision.reason}, status_code=200)
    await ctx.pool.wake()
    assert isinstance(decision, JobRequest)
    return Response(
        {"status": "queued", "delivery": did, "reason": f"{decision.kind} of {decision.sha[:12]} queued for {decision.repo_name}@{decision.branch}"},
        status_code=202,
    )


async def read_body(request: Request, ctx: WebhookContext) -> bytearray:
    """The body, read once a slot is free (memory for bodies stays under slots x cap) and within the deadline.

    Litestar refuses a declared Content-Length over the cap before reading and stops a stream that passes it (413);
    the declared size is checked here too, so an oversized request never waits for a slot."""
    declared = request.content_length  # 400 for a malformed header
    if declared is not None and declared > ctx.config.max_body_size:
        raise HTTPException(status_code=413, detail=f"the body is over {ctx.config.max_body_size} bytes")
    try:
        async with asyncio.timeout(ctx.config.body_timeout):
            async with ctx.bodies:
                return await _receive(request, declared)
    except TimeoutError:
        raise HTTPException(status_code=408, detail=f"the body was not received within {ctx.config.body_timeout:.0f}s") from None


async def _receive(request: Request, declared: int | None) -> bytearray:
    """One buffer of the declared size, filled in place: no chunk list joined into a second copy, no reallocation
    (which, for bodies of many MiB, also leaves the heap fragmented). Without a declared size it grows."""
    body = bytearray(declared or 0)
    filled = 0
    async for chunk in request.stream():  # 413 past the cap, whatever the headers said
        end = filled + len(chunk)
        if declared is not None and end > declared:
            raise HTTPException(status_code=400, detail="the body is longer than its Content-Length")
        body[filled:end] = chunk
        filled = end
    del body[filled:]
    return body


def _log_answered(
    did: str, provider: Provider, event: str | None, asked: JobRequest | Ignored, decision: JobRequest | Ignored, outcome: str
) -> None:
    """The operator's line for a delivery answered without a job: as the worker's, with the reason it was not queued."""
    job = asked if isinstance(asked, JobRequest) else None
    repo, ref, sha = (job.repo_name, job.fetch_ref, job.sha[:12]) if job else ("-", event or "-", "-")
    reason = decision.reason if isinstance(decision, Ignored) else "already received"
    log.info("delivery %s: %s %s %s %s -> %s (%s)", did, provider.value, repo, ref, sha, outcome, reason,
             extra=fields(event="delivery", delivery=did, provider=provider.value, repo=repo, ref=ref, sha=sha,
                          outcome=outcome, reason=reason))


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']} ({exc.error_count()} error(s))"
    return str(exc)


class WebhookController(Controller):
    path = "/webhooks"

    @post("/github", status_code=202)
    async def github(self, request: Request, ctx: NamedDependency[WebhookContext]) -> Response[dict[str, str]]:
        return await receive(Provider.GITHUB, request, ctx)

    @post("/gitlab", status_code=202)
    async def gitlab(self, request: Request, ctx: NamedDependency[WebhookContext]) -> Response[dict[str, str]]:
        return await receive(Provider.GITLAB, request, ctx)

    @post("/gitea", status_code=202)
    async def gitea(self, request: Request, ctx: NamedDependency[WebhookContext]) -> Response[dict[str, str]]:
        return await receive(Provider.GITEA, request, ctx)
