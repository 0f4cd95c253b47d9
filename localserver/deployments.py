"""Deployment routes of Appwrite 1.6.2: list, upload (plain and chunked), get, activate, delete,
rebuild, cancel a build, and download the archive (with Range support).

A deployment's `status`, `buildLogs`, `buildTime` and `buildSize` come from its build record at read
time, as in 1.6; with no record yet the status is "" (upload reply), "waiting" (get) or "processing"
(list). Archives live at `builder.archive_path`; the builder owns everything under `builds_dir`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import anyio
from litestar.params import FromPath
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.response import Stream

from localserver import compat
from localserver.builder import Builder, archive_path
from localserver.clock import now_iso, seconds_since, unique_id
from localserver.context import ServerContext
from localserver.errors import AppwriteError, invalid_param, missing_param
from localserver.models import DEPLOYMENT_FIELDS, build_model, check_path_id, defaults, deployment_model, function_model, list_envelope
from localserver.queries import apply_queries, matches_search, parse_queries, queries_from_request, search_param
from localserver.uploads import (
    UploadForm,
    assemble_chunks,
    chunk_slot,
    discard_chunks,
    parse_content_range,
    read_upload,
    store_chunk,
    stored_chunks,
)

READ = {"scope": "functions.read"}
WRITE = {"scope": "functions.write"}
# Attributes `queries` may name on deployments in 1.6.2 (besides $id/$createdAt/$updatedAt).
QUERY_ATTRIBUTES: dict[str, type] = {"size": int, "buildId": str, "activate": bool, "entrypoint": str, "commands": str, "type": str}
# The text params 1.6.2's createDeployment declares; any other part of the body is ignored, as Appwrite does.
UPLOAD_PARAMS = frozenset({"entrypoint", "commands", "activate"})
TRUE_VALUES = {"true", "1"}
FALSE_VALUES = {"false", "0"}
READ_CHUNK = 10 * 1024 * 1024  # open-ended ranges are capped here, as Appwrite's MAX_OUTPUT_CHUNK_SIZE
_RANGE = re.compile(r"^\s*(\w+)=(\d+)-(\d*)\s*$")
_BUILD_FIELDS_ON_DEPLOYMENT = ("status", "buildLogs", "buildTime", "buildSize")


# --- helpers -------------------------------------------------------------------------------------


def _check_id(name: str, value: str) -> None:
    check_path_id(name, value)


def _function(ctx: ServerContext, function_id: str) -> dict[str, Any]:
    function = ctx.store.get("functions", function_id)
    if function is None:
        raise AppwriteError("function_not_found")
    return function


def _deployment(ctx: ServerContext, function_id: str, deployment_id: str) -> dict[str, Any]:
    deployment = ctx.store.get("deployments", deployment_id)
    if deployment is None or deployment.get("resourceId") != function_id:
        raise AppwriteError("deployment_not_found")
    return deployment


def _builder(ctx: ServerContext) -> Builder:
    return ctx.services["builder"]


def _view(ctx: ServerContext, deployment: dict[str, Any], missing_status: str) -> dict[str, Any]:
    """The Deployment model with the build record's status, logs, time and size projected on."""
    build = ctx.store.get("builds", deployment["buildId"]) if deployment.get("buildId") else None
    if build is None:
        return deployment_model(deployment, status=missing_status, buildLogs="", buildTime=0, buildSize=0)
    return deployment_model(
        deployment,
        status=build.get("status", ""),
        buildLogs=build.get("logs", ""),
        buildTime=build.get("duration", 0),
        buildSize=build.get("size", 0),
    )


def _loose_bool(name: str, raw: str | None) -> bool:
    if raw is None:
        raise missing_param(name)
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise invalid_param(name, "Value must be a valid boolean")


def _text(name: str, raw: str | None, low: int, high: int) -> str | None:
    if raw is None:
        return None
    if not low <= len(raw) <= high:
        rule = f"at least {low} chars and " if low else ""
        raise invalid_param(name, f"Value must be a valid string and {rule}no longer than {high} chars")
    return raw


def _deactivate_others(ctx: ServerContext, function_id: str, keep: str) -> None:
    """A newly completed activating upload clears `activate` elsewhere, so older builds can't steal activation."""
    for other in ctx.store.all("deployments", parent=function_id):
        if other["$id"] != keep and other.get("activate"):
            other["activate"] = False
            other["$updatedAt"] = now_iso()
            ctx.store.put("deployments", other)


def _no_content() -> Response[None]:
    """204 with a non-JSON Content-Type, as Appwrite sends: the Python SDK reads that header on every reply."""
    return Response(content=None, status_code=204, headers={"Content-Type": "text/html; charset=UTF-8"})


def _upload_lock(ctx: ServerContext) -> asyncio.Lock:
    return ctx.services.setdefault("deployments.upload_lock", asyncio.Lock())


# --- list / get ----------------------------------------------------------------------------------


@get("/functions/{functionId:str}/deployments", opt=READ, sync_to_thread=False)
def list_deployments(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    _check_id("functionId", functionId)
    queries = parse_queries(queries_from_request(request), QUERY_ATTRIBUTES)
    search = search_param(request.query_params.get("search"))
    _function(ctx, functionId)
    docs = ctx.store.all("deployments", parent=functionId)
    if search is not None:
        docs = [doc for doc in docs if matches_search(f"{doc['$id']} {doc.get('entrypoint', '')}", search)]
    page, total = apply_queries(docs, queries, lambda cursor: ctx.store.get("deployments", cursor))
    return list_envelope("deployments", [_view(ctx, doc, "processing") for doc in page], total)


@get("/functions/{functionId:str}/deployments/{deploymentId:str}", opt=READ, sync_to_thread=False)
def get_deployment(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    _check_id("functionId", functionId)
    _check_id("deploymentId", deploymentId)
    _function(ctx, functionId)
    return _view(ctx, _deployment(ctx, functionId, deploymentId), "waiting")


# --- upload --------------------------------------------------------------------------------------


@post(
    "/functions/{functionId:str}/deployments",
    opt=WRITE,
    status_code=202,
    request_max_body_size=None,  # the body is streamed to disk; uploads.read_upload enforces the size limit
)
async def create_deployment(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    _check_id("functionId", functionId)
    form = await read_upload(request, ctx.config.uploads_dir, ctx.config.size_limit, UPLOAD_PARAMS)
    try:
        return await _accept_upload(request, ctx, functionId, form)
    finally:
        form.discard()


async def _accept_upload(request: Request, ctx: NamedDependency[ServerContext], function_id: str, form: UploadForm) -> dict[str, Any]:
    config = ctx.config
    activate = _loose_bool("activate", form.fields.get("activate"))
    entrypoint = _text("entrypoint", form.fields.get("entrypoint"), 1, 1028)
    commands = _text("commands", form.fields.get("commands"), 0, 8192)
    function = _function(ctx, function_id)
    entrypoint = entrypoint if entrypoint is not None else function.get("entrypoint", "")
    commands = commands if commands is not None else function.get("commands", "")
    if not entrypoint:
        raise AppwriteError("function_entrypoint_missing")
    if form.file_path is None or form.file_name is None:
        raise AppwriteError("storage_file_empty")
    if not form.file_name.lower().endswith(".gz"):
        raise AppwriteError("storage_file_type_unsupported")
    content_range = parse_content_range(request.headers.get("content-range"))
    deployment_id = unique_id()
    if content_range is not None:
        deployment_id = request.headers.get("x-appwrite-id") or deployment_id
        _check_id("X-Appwrite-ID", deployment_id)
    total = content_range.total if content_range else form.file_size
    if total > config.size_limit:
        raise AppwriteError("storage_invalid_file_size")
    if form.file_size == 0:
        raise AppwriteError("storage_file_empty")
    deployment_type = "cli" if request.headers.get("x-sdk-language", "").lower() == "cli" else "manual"
    fields = {"activate": activate, "entrypoint": entrypoint, "commands": commands, "type": deployment_type}

    async with _upload_lock(ctx):
        if content_range is None:
            target = archive_path(config, function_id, deployment_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(form.file_path, target)
            form.file_path = None
            deployment = _new_deployment(ctx, function_id, deployment_id, form.file_size, fields)
            return _complete(ctx, deployment, target.stat().st_size)
        return await _accept_chunk(ctx, function_id, deployment_id, form, content_range, fields)


def _new_deployment(ctx: ServerContext, function_id: str, deployment_id: str, size: int, fields: dict[str, Any]) -> dict[str, Any]:
    now = now_iso()
    doc = {key: value for key, value in defaults(DEPLOYMENT_FIELDS).items() if key not in _BUILD_FIELDS_ON_DEPLOYMENT}
    doc.update(
        {"$id": deployment_id, "$createdAt": now, "$updatedAt": now, "resourceId": function_id, "resourceType": "functions",
         "size": size, "buildId": "", "_uploaded": False, "_total": size},
        **fields,
    )
    try:
        ctx.store.insert("deployments", doc, parent=function_id)
    except KeyError as exc:
        raise AppwriteError("document_already_exists") from exc
    return doc


def _complete(ctx: ServerContext, deployment: dict[str, Any], size: int) -> dict[str, Any]:
    """The archive is whole: record it, do the activation bookkeeping, queue the build."""
    with ctx.store.transaction():
        if deployment.get("activate"):
            _deactivate_others(ctx, deployment["resourceId"], deployment["$id"])
        deployment.update(size=size, _uploaded=True, **{"$updatedAt": now_iso()})
        ctx.store.put("deployments", deployment)
    _builder(ctx).enqueue(deployment["$id"])
    return _view(ctx, deployment, "")


async def _accept_chunk(ctx: ServerContext, function_id: str, deployment_id: str, form: UploadForm, content_range: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """One request of a chunked upload, numbered and joined as Appwrite 1.6.2 does (see `uploads.chunk_slot`)."""
    config = ctx.config
    chunk, chunks = chunk_slot(content_range)
    deployment = ctx.store.get("deployments", deployment_id)
    if deployment is not None:
        if deployment.get("resourceId") != function_id or deployment.get("_uploaded"):
            raise AppwriteError("document_already_exists")
        if deployment.get("_total") != content_range.total:
            raise AppwriteError("storage_invalid_content_range", "Content-Range total differs from the upload's first chunk.")
        chunks = int(deployment.get("_chunks", chunks))
        chunk = chunks if chunk == -1 else chunk
    assert form.file_path is not None
    store_chunk(config.uploads_dir, deployment_id, form.file_path, chunk)
    form.file_path = None
    if deployment is None:
        deployment = _new_deployment(ctx, function_id, deployment_id, content_range.total, {**fields, "_chunks": chunks})
    if len(stored_chunks(config.uploads_dir, deployment_id)) != chunks:
        return _view(ctx, deployment, "")
    target = archive_path(config, function_id, deployment_id)
    try:
        size = await asyncio.to_thread(assemble_chunks, config.uploads_dir, deployment_id, target, chunks)
    except AppwriteError:
        discard_chunks(config.uploads_dir, deployment_id)
        ctx.store.delete("deployments", deployment_id)
        raise
    return _complete(ctx, deployment, size)


# --- activate / delete ---------------------------------------------------------------------------


@patch("/functions/{functionId:str}/deployments/{deploymentId:str}", opt=WRITE, sync_to_thread=False)
def activate_deployment(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    _check_id("functionId", functionId)
    _check_id("deploymentId", deploymentId)
    function = _function(ctx, functionId)
    deployment = _deployment(ctx, functionId, deploymentId)
    build = ctx.store.get("builds", deployment["buildId"]) if deployment.get("buildId") else None
    if build is None:
        raise AppwriteError("build_not_found")
    if build.get("status") != "ready":
        raise AppwriteError("build_not_ready")
    function.update(deployment=deploymentId, **{"$updatedAt": now_iso()})
    ctx.store.put("functions", function)
    return function_model(function, ctx.store.all("variables", parent=functionId))


@delete("/functions/{functionId:str}/deployments/{deploymentId:str}", opt=WRITE, status_code=204, sync_to_thread=False)
def delete_deployment(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> Response[None]:  # noqa: N803
    _check_id("functionId", functionId)
    _check_id("deploymentId", deploymentId)
    _function(ctx, functionId)
    deployment = _deployment(ctx, functionId, deploymentId)
    with ctx.store.transaction():
        ctx.store.delete("deployments", deploymentId)
        if deployment.get("buildId"):
            ctx.store.delete("builds", deployment["buildId"])
        function = ctx.store.get("functions", functionId)
        if function is not None and function.get("deployment") == deploymentId:
            function.update(deployment="", **{"$updatedAt": now_iso()})
            ctx.store.put("functions", function)
    _builder(ctx).forget_deployment(functionId, deploymentId)
    discard_chunks(ctx.config.uploads_dir, deploymentId)
    return _no_content()


# --- rebuild / cancel ----------------------------------------------------------------------------


async def _rebuild(ctx: ServerContext, function_id: str, deployment_id: str) -> Response[Any]:
    _check_id("functionId", function_id)
    _check_id("deploymentId", deployment_id)
    function = _function(ctx, function_id)
    source = _deployment(ctx, function_id, deployment_id)
    source_archive = archive_path(ctx.config, function_id, deployment_id)
    if not source.get("_uploaded") or not source_archive.is_file():
        raise AppwriteError("deployment_not_found")
    new_id = unique_id()
    await asyncio.to_thread(shutil.copy, source_archive, archive_path(ctx.config, function_id, new_id))
    now = now_iso()
    doc = {key: value for key, value in source.items() if not key.startswith("_")}
    doc.update(
        {"$id": new_id, "$createdAt": now, "$updatedAt": now, "buildId": "", "_uploaded": True, "_total": source.get("size", 0),
         "entrypoint": function.get("entrypoint", ""), "commands": function.get("commands", "")}
    )
    ctx.store.insert("deployments", doc, parent=function_id)
    _builder(ctx).enqueue(new_id)
    if compat.newer_server(ctx.config):  # 1.7+ answer the new deployment (the duplicate-deployment route's reply)
        return Response(_view(ctx, doc, "waiting"), status_code=202)
    return _no_content()


# The reply is always an explicit Response: 204 as 1.6, or 202 + Deployment under 1.7+ emulation.
@post("/functions/{functionId:str}/deployments/{deploymentId:str}/build", opt=WRITE, status_code=202)
async def rebuild_deployment(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> Response[Any]:  # noqa: N803
    return await _rebuild(ctx, functionId, deploymentId)


@post("/functions/{functionId:str}/deployments/{deploymentId:str}/builds/{buildId:str}", opt=WRITE, status_code=202)
async def rebuild_deployment_alias(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str], buildId: FromPath[str]) -> Response[Any]:  # noqa: N803
    return await _rebuild(ctx, functionId, deploymentId)


@patch("/functions/{functionId:str}/deployments/{deploymentId:str}/build", opt=WRITE, sync_to_thread=False)
def cancel_build(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    _check_id("functionId", functionId)
    _check_id("deploymentId", deploymentId)
    _function(ctx, functionId)
    store = ctx.store
    with store.transaction():
        deployment = _deployment(ctx, functionId, deploymentId)
        build = store.get("builds", deployment["buildId"]) if deployment.get("buildId") else None
        now = now_iso()
        if build is None:
            build = {
                "$id": unique_id(), "$createdAt": now, "$updatedAt": now, "deploymentId": deploymentId, "status": "canceled",
                "stdout": "", "stderr": "", "startTime": now, "endTime": now, "duration": 0, "size": 0, "logs": "",
                "_functionId": functionId,
            }
            store.insert("builds", build, parent=functionId)
            deployment.update(buildId=build["$id"], **{"$updatedAt": now})
            store.put("deployments", deployment)
        else:
            if build.get("status") in ("ready", "failed"):
                raise AppwriteError("build_already_completed")
            duration = seconds_since(build.get("startTime"))
            build.update(status="canceled", endTime=now, duration=duration, **{"$updatedAt": now})
            store.put("builds", build)
    _builder(ctx).cancel(deploymentId)
    if compat.newer_server(ctx.config):  # 1.7+ answer the Deployment, now `canceled`
        return _view(ctx, deployment, "waiting")
    return build_model(build)


# --- download ------------------------------------------------------------------------------------


def _parse_range(header: str, size: int) -> tuple[int, int]:
    """Appwrite's rule: `bytes=start-[end]`, open end capped at 10 MiB, start < end < size, else 416."""
    match = _RANGE.match(header)
    if not match or match.group(1) != "bytes":
        raise AppwriteError("storage_invalid_range")
    start = int(match.group(2))
    end = int(match.group(3)) if match.group(3) else min(start + READ_CHUNK - 1, size - 1)
    if start >= end or end >= size:
        raise AppwriteError("storage_invalid_range")
    return start, end


async def _file_slice(path: Any, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        await handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await handle.read(min(1024 * 1024, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


@get("/functions/{functionId:str}/deployments/{deploymentId:str}/download", opt=READ)
async def download_deployment(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> Stream:  # noqa: N803
    _check_id("functionId", functionId)
    _check_id("deploymentId", deploymentId)
    _function(ctx, functionId)
    _deployment(ctx, functionId, deploymentId)
    path = archive_path(ctx.config, functionId, deploymentId)
    if not path.is_file():
        raise AppwriteError("deployment_not_found")
    size = path.stat().st_size
    headers = {
        "Content-Disposition": f'attachment; filename="{deploymentId}.tar.gz"',
        "Cache-Control": "private, max-age=3888000",
        "Expires": formatdate(time.time() + 45 * 24 * 3600, usegmt=True),  # 45 days, as Appwrite
    }
    range_header = request.headers.get("range")
    if range_header:
        start, end = _parse_range(range_header, size)
        headers.update({"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)})
        return Stream(_file_slice(path, start, end - start + 1), status_code=206, headers=headers, media_type="application/gzip")
    headers["Content-Length"] = str(size)
    return Stream(_file_slice(path, 0, size), status_code=200, headers=headers, media_type="application/gzip")


ROUTES = [
    list_deployments,
    create_deployment,
    get_deployment,
    activate_deployment,
    delete_deployment,
    rebuild_deployment,
    rebuild_deployment_alias,
    cancel_build,
    download_deployment,
]
