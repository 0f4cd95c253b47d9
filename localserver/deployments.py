"""Deployment routes: list, upload (plain and chunked), get, activate, delete, duplicate (rebuild), cancel.
Newest paths, the 1.6 ones as aliases; downloads are in `localserver.downloads`.

A deployment's `status`, `buildLogs`, `buildDuration` and `buildSize` come from its build record at read
time; with no record yet the status is what the server's profile says (`unbuilt_status`: 1.6 answered
"" on upload, "waiting" on get, "processing" in lists; 1.7+ store "waiting"). Archives live at
`builder.archive_path`; the builder owns everything under `builds_dir`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

from litestar.params import FromPath
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency

from localserver.builder import Builder, archive_path
from localserver.clock import now_iso, seconds_since, unique_id
from localserver.context import ServerContext
from localserver.errors import AppwriteError, invalid_param, missing_param
from localserver.functions import function_response, json_body
from localserver.models import DEPLOYMENT_FIELDS, build_model, check_path_id, defaults, deployment_model, list_envelope
from localserver.queries import apply_queries, matches_search, parse_queries, queries_from_request, search_param
from localserver.uploads import (
    UploadForm,
    assemble_chunks,
    chunks_cover,
    discard_chunks,
    parse_content_range,
    read_upload,
    store_chunk,
    stored_chunks,
)

READ = {"scope": "functions.read"}
WRITE = {"scope": "functions.write"}
TRUE_VALUES = {"true", "1"}
FALSE_VALUES = {"false", "0"}
_BUILD_FIELDS_ON_DEPLOYMENT = ("status", "buildLogs", "buildDuration", "buildSize", "totalSize", "sourceSize")


# --- helpers -------------------------------------------------------------------------------------


def check_id(name: str, value: str) -> None:
    check_path_id(name, value)


def load_function_of(ctx: ServerContext, function_id: str) -> dict[str, Any]:
    function = ctx.store.get("functions", function_id)
    if function is None:
        raise AppwriteError("function_not_found")
    return function


def load_deployment(ctx: ServerContext, function_id: str, deployment_id: str) -> dict[str, Any]:
    deployment = ctx.store.get("deployments", deployment_id)
    if deployment is None or deployment.get("resourceId") != function_id:
        raise AppwriteError("deployment_not_found")
    return deployment


def _builder(ctx: ServerContext) -> Builder:
    return ctx.services["builder"]


def view(ctx: ServerContext, deployment: dict[str, Any], where: str) -> dict[str, Any]:
    """The Deployment model with the build record's status, logs, duration and size projected on.

    `where` (upload, get, list) picks the status of a deployment not built yet from the server's profile.
    """
    build = ctx.store.get("builds", deployment["buildId"]) if deployment.get("buildId") else None
    if build is None:
        status = ctx.config.profile.unbuilt_status[where]
        return deployment_model(deployment, status=status, buildLogs="", buildDuration=0, buildSize=0)
    return deployment_model(
        deployment,
        status=build.get("status", ""),
        buildLogs=build.get("logs", ""),
        buildDuration=build.get("duration", 0),
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


@get("/functions/{functionId:str}/deployments", opt=READ, sync_to_thread=False, name="functions.listDeployments")
def list_deployments(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    check_id("functionId", functionId)
    profile = ctx.config.profile
    queries = parse_queries(queries_from_request(request), dict(profile.deployment_queries), sequence=profile.sequence_attribute)
    search = search_param(request.query_params.get("search"))
    load_function_of(ctx, functionId)
    docs = ctx.store.all("deployments", parent=functionId)
    if search is not None:
        docs = [doc for doc in docs if matches_search(f"{doc['$id']} {doc.get('entrypoint', '')}", search)]
    # Queries see the model's values (status, sizes, duration come from the build) plus stored commands.
    views = [{**doc, **view(ctx, doc, "list")} for doc in docs]
    page, total = apply_queries(views, queries, lambda cursor: ctx.store.get("deployments", cursor))
    return list_envelope("deployments", [view(ctx, doc, "list") for doc in page], total)


@get("/functions/{functionId:str}/deployments/{deploymentId:str}", opt=READ, sync_to_thread=False, name="functions.getDeployment")
def get_deployment(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    check_id("functionId", functionId)
    check_id("deploymentId", deploymentId)
    load_function_of(ctx, functionId)
    return view(ctx, load_deployment(ctx, functionId, deploymentId), "get")


# --- upload --------------------------------------------------------------------------------------


@post(
    "/functions/{functionId:str}/deployments",
    opt=WRITE,
    status_code=202,
    request_max_body_size=None,  # the body is streamed to disk; uploads.read_upload enforces the size limit
    name="functions.createDeployment",
)
async def create_deployment(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    check_id("functionId", functionId)
    form = await read_upload(request, ctx.config.uploads_dir, ctx.config.size_limit)
    try:
        return await _accept_upload(request, ctx, functionId, form)
    finally:
        form.discard()


async def _accept_upload(request: Request, ctx: NamedDependency[ServerContext], function_id: str, form: UploadForm) -> dict[str, Any]:
    config = ctx.config
    activate = _loose_bool("activate", form.fields.get("activate"))
    entrypoint = _text("entrypoint", form.fields.get("entrypoint"), 1, 1028)
    commands = _text("commands", form.fields.get("commands"), 0, 8192)
    function = load_function_of(ctx, function_id)
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
        check_id("X-Appwrite-ID", deployment_id)
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
    return view(ctx, deployment, "upload")


async def _accept_chunk(ctx: ServerContext, function_id: str, deployment_id: str, form: UploadForm, content_range: Any, fields: dict[str, Any]) -> dict[str, Any]:
    config = ctx.config
    if form.file_size != content_range.end - content_range.start + 1:
        raise AppwriteError(
            "storage_invalid_content_range",
            f"The chunk holds {form.file_size} bytes but Content-Range announces {content_range.end - content_range.start + 1}.",
        )
    deployment = ctx.store.get("deployments", deployment_id)
    if deployment is not None:
        if deployment.get("resourceId") != function_id or deployment.get("_uploaded"):
            raise AppwriteError("document_already_exists")
        if deployment.get("_total") != content_range.total:
            raise AppwriteError("storage_invalid_content_range", "Content-Range total differs from the upload's first chunk.")
    assert form.file_path is not None
    store_chunk(config.uploads_dir, deployment_id, form.file_path, content_range.start)
    form.file_path = None
    if deployment is None:
        deployment = _new_deployment(ctx, function_id, deployment_id, content_range.total, fields)
    parts = stored_chunks(config.uploads_dir, deployment_id)
    if not chunks_cover(parts, content_range.total):
        return view(ctx, deployment, "upload")
    target = archive_path(config, function_id, deployment_id)
    try:
        size = await asyncio.to_thread(assemble_chunks, config.uploads_dir, deployment_id, target, content_range.total)
    except AppwriteError:
        discard_chunks(config.uploads_dir, deployment_id)
        ctx.store.delete("deployments", deployment_id)
        raise
    return _complete(ctx, deployment, size)


# --- activate / delete ---------------------------------------------------------------------------


def _activate(ctx: ServerContext, function_id: str, deployment_id: str) -> dict[str, Any]:
    check_id("functionId", function_id)
    check_id("deploymentId", deployment_id)
    function = load_function_of(ctx, function_id)
    deployment = load_deployment(ctx, function_id, deployment_id)
    build = ctx.store.get("builds", deployment["buildId"]) if deployment.get("buildId") else None
    if build is None:
        raise AppwriteError("build_not_found")
    if build.get("status") != "ready":
        raise AppwriteError("build_not_ready")
    function.update(deployment=deployment_id, **{"$updatedAt": now_iso()})
    ctx.store.put("functions", function)
    return function_response(ctx, function)


@patch("/functions/{functionId:str}/deployment", opt=WRITE, name="functions.updateFunctionDeployment")
async def activate_deployment(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    return _activate(ctx, functionId, _required_id(await json_body(request), "deploymentId"))


@patch("/functions/{functionId:str}/deployments/{deploymentId:str}", opt=WRITE, sync_to_thread=False, name="functions.updateDeployment")
def activate_deployment_alias(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    return _activate(ctx, functionId, deploymentId)


def _required_id(body: object, name: str) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    if value is None:
        raise missing_param(name)
    if not isinstance(value, str):
        raise invalid_param(name, "UID must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, and underscore. Can't start with a leading underscore")
    check_id(name, value)
    return value


@delete("/functions/{functionId:str}/deployments/{deploymentId:str}", opt=WRITE, status_code=204, sync_to_thread=False, name="functions.deleteDeployment")
def delete_deployment(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> Response[None]:  # noqa: N803
    check_id("functionId", functionId)
    check_id("deploymentId", deploymentId)
    load_function_of(ctx, functionId)
    deployment = load_deployment(ctx, functionId, deploymentId)
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
    check_id("functionId", function_id)
    check_id("deploymentId", deployment_id)
    function = load_function_of(ctx, function_id)
    source = load_deployment(ctx, function_id, deployment_id)
    source_archive = archive_path(ctx.config, function_id, deployment_id)
    if not source.get("_uploaded") or not source_archive.is_file():
        raise AppwriteError("deployment_not_found")
    new_id = unique_id()
    await asyncio.to_thread(shutil.copyfile, source_archive, archive_path(ctx.config, function_id, new_id))
    now = now_iso()
    doc = {key: value for key, value in source.items() if not key.startswith("_")}
    doc.update(
        {"$id": new_id, "$createdAt": now, "$updatedAt": now, "buildId": "", "_uploaded": True, "_total": source.get("size", 0),
         "entrypoint": function.get("entrypoint", ""), "commands": function.get("commands", "")}
    )
    ctx.store.insert("deployments", doc, parent=function_id)
    _builder(ctx).enqueue(new_id)
    # 202 + the new Deployment; before 1.7 the rebuild routes answered 204 (the filter chain's legacy model).
    return Response(view(ctx, doc, "get"), status_code=202)


@post("/functions/{functionId:str}/deployments/duplicate", opt=WRITE, status_code=202, name="functions.createDuplicateDeployment")
async def duplicate_deployment(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str]) -> Response[Any]:  # noqa: N803
    return await _rebuild(ctx, functionId, _required_id(await json_body(request), "deploymentId"))


@post("/functions/{functionId:str}/deployments/{deploymentId:str}/build", opt=WRITE, status_code=202, name="functions.createBuild")
async def rebuild_deployment(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> Response[Any]:  # noqa: N803
    return await _rebuild(ctx, functionId, deploymentId)


@post("/functions/{functionId:str}/deployments/{deploymentId:str}/builds/{buildId:str}", opt=WRITE, status_code=202, name="functions.createBuild.builds")
async def rebuild_deployment_alias(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str], buildId: FromPath[str]) -> Response[Any]:  # noqa: N803
    return await _rebuild(ctx, functionId, deploymentId)


@patch("/functions/{functionId:str}/deployments/{deploymentId:str}/status", opt=WRITE, sync_to_thread=False, name="functions.updateDeploymentStatus")
def cancel_deployment(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    return _cancel(ctx, functionId, deploymentId)


@patch("/functions/{functionId:str}/deployments/{deploymentId:str}/build", opt=WRITE, sync_to_thread=False, name="functions.updateDeploymentBuild")
def cancel_build(ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    return _cancel(ctx, functionId, deploymentId)


def build_of_deployment(ctx: ServerContext, deployment: dict[str, Any]) -> dict[str, Any]:
    """The Build model of a (newest-shape) Deployment: what the 1.6 cancel route answered."""
    stored = ctx.store.get("deployments", deployment.get("$id", "")) or {}
    build = ctx.store.get("builds", stored.get("buildId", "")) if stored.get("buildId") else None
    return build_model(build or {"deploymentId": deployment.get("$id", ""), "status": deployment.get("status", "")})


def _cancel(ctx: ServerContext, functionId: str, deploymentId: str) -> dict[str, Any]:  # noqa: N803
    check_id("functionId", functionId)
    check_id("deploymentId", deploymentId)
    load_function_of(ctx, functionId)
    store = ctx.store
    with store.transaction():
        deployment = load_deployment(ctx, functionId, deploymentId)
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
    # The Deployment, now `canceled` (before 1.7 the Build: the filter chain's legacy model).
    return view(ctx, deployment, "get")


ROUTES = [
    list_deployments,
    create_deployment,
    duplicate_deployment,
    get_deployment,
    activate_deployment,
    activate_deployment_alias,
    delete_deployment,
    rebuild_deployment,
    rebuild_deployment_alias,
    cancel_deployment,
    cancel_build,
]
