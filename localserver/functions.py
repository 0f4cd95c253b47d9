"""Routes for functions: list, create, get, update (full replacement), delete, runtimes, specifications.

Handlers speak the newest params and models; `localserver.versions` lifts requests and lowers responses
for the emulated server and the client's format. What differs between versions without being a shape
(defaults of PUT, error types, the creation limit) is looked up in the server's profile by name.
Param validators live in `localserver.function_params`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from localserver import abuse
from localserver.clock import now_iso, unique_id
from localserver.context import ServerContext
from localserver.errors import AppwriteError
from localserver.function_params import FunctionCreate, FunctionSettings, FunctionUpdate, parse_function_body
from localserver.models import NO_CONTENT_HEADERS, FUNCTION_FIELDS, check_path_id, function_model, list_envelope
from localserver.queries import apply_queries, matches_search, parse_queries, queries_from_request, search_param
from localserver.runtimes import SPECIFICATION_SLUGS, runtime_model, specification_model
from localserver.store import Document

READ = {"scope": "functions.read"}
WRITE = {"scope": "functions.write"}
# Child collections whose documents carry the function id in their `parent` column.
CHILD_COLLECTIONS = ("variables", "deployments", "builds", "executions")
# Stored names that differ from the model's (the builder and runtime read the stored ones).
_STORED_NAMES = {"deploymentId": "deployment", "runtimeSpecification": "specification"}
# Settings a PUT keeps when they are not sent (None), instead of resetting them.
_KEPT_WHEN_OMITTED = ("providerBranches", "providerPaths")
_VCS_SETTINGS = ("installationId", "providerBranch", "providerRootDirectory")


# --- shared helpers for other route modules --------------------------------------------------------


def load_function(ctx: ServerContext, function_id: str) -> Document:
    """The stored function, or 400 for a malformed id / 404 function_not_found."""
    check_path_id("functionId", function_id)
    doc = ctx.store.get("functions", function_id)
    if doc is None:
        raise AppwriteError("function_not_found")
    return doc


def deployment_status(ctx: ServerContext, deployment: Document) -> str:
    """A deployment's status: its build's, else `waiting` (stored default since 1.7)."""
    build = ctx.store.get("builds", deployment["buildId"]) if deployment.get("buildId") else None
    return (build or {}).get("status") or "waiting"


def function_response(ctx: ServerContext, doc: Document) -> dict[str, Any]:
    """The Function model with its variables and active/latest deployment, as every function response has."""
    return function_model(
        doc,
        ctx.store.all("variables", parent=doc["$id"]),
        ctx.store.all("deployments", parent=doc["$id"]),
        lambda deployment: deployment_status(ctx, dict(deployment)),
    )


def mark_not_live(ctx: ServerContext, function_id: str) -> None:
    """Variable changes need a redeploy to reach builds: `live` := false and `$updatedAt` bumps."""
    doc = ctx.store.get("functions", function_id)
    if doc is not None:
        ctx.store.put("functions", {**doc, "live": False, "$updatedAt": now_iso()})


def query_view(doc: Document) -> Document:
    """The stored function under the attribute names queries use (newest names)."""
    return {**doc, "deploymentId": doc.get("deployment", "")}


def search_text(doc: Document) -> str:
    """What Appwrite indexes for the `search` param of functions."""
    return f"{doc['$id']} {doc.get('name', '')} {doc.get('runtime', '')}"


async def json_body(request: Request) -> object:
    """The JSON body, or {} when absent or unreadable (Appwrite then reports the missing params)."""
    try:
        return await request.json()
    except Exception:  # noqa: BLE001 - malformed JSON behaves as an empty body, as in PHP
        return {}


def _check_runtime_allowed(ctx: ServerContext, runtime: str) -> None:
    if ctx.config.runtimes and runtime not in ctx.config.runtimes:
        raise AppwriteError("function_runtime_unsupported", f'Runtime "{runtime}" is not supported')


def _check_vcs(settings: FunctionSettings, installations: tuple[str, ...] = ()) -> None:
    """Only the installation ids the server was configured with (`ServerConfig.installations`) exist locally."""
    if settings.installationId and settings.installationId not in installations:
        raise AppwriteError("installation_not_found", "Installation with the requested ID could not be found.", 404)
    if settings.providerRepositoryId and (not settings.installationId or not settings.providerBranch):
        raise AppwriteError(
            "general_argument_invalid",
            'When connecting to VCS (Version Control System), you need to provide "installationId" and "providerBranch".',
        )


def _settings_fields(ctx: ServerContext, settings: FunctionSettings, current: Document | None = None) -> dict[str, Any]:
    """Stored fields for create (current None) or a PUT over `current`: what is not sent resets, as Appwrite does,
    except the few the server's version keeps (see NEWER-SERVERS.md §3)."""
    profile = ctx.config.profile
    data = settings.model_dump(include={name for name, _ in FUNCTION_FIELDS})
    for name in ("buildSpecification", "runtimeSpecification"):
        data[name] = data[name] or profile.default_specification
    for name in _KEPT_WHEN_OMITTED:
        if data[name] is None:
            data[name] = list((current or {}).get(name) or [])
    if current is not None and settings.providerRepositoryId is None and current.get("providerRepositoryId") and profile.put_keeps_vcs_settings:
        for name in _VCS_SETTINGS:
            data[name] = current.get(name, "")
    repository = settings.providerRepositoryId
    data["providerRepositoryId"] = (current or {}).get("providerRepositoryId", "") if repository is None else repository
    if settings.interval is None and current is not None and not settings.schedule:
        data["interval"] = current.get("interval")  # 2.5: kept unless a schedule is set
    if settings.interval is not None and settings.schedule:
        raise AppwriteError("general_argument_invalid", "Interval cannot be combined with schedule.")
    for model_name, stored_name in _STORED_NAMES.items():
        if model_name in data:
            data[stored_name] = data.pop(model_name)
    return data


# --- routes ------------------------------------------------------------------------------------------


@get("/functions", opt=READ, sync_to_thread=False, name="functions.list")
def list_functions(ctx: NamedDependency[ServerContext], request: Request, search: FromQuery[str | None] = None) -> dict[str, Any]:
    profile = ctx.config.profile
    qs = parse_queries(queries_from_request(request), dict(profile.function_queries), sequence=profile.sequence_attribute)
    term = search_param(search)
    docs = [query_view(doc) for doc in ctx.store.all("functions")]
    if term is not None:
        docs = [doc for doc in docs if matches_search(search_text(doc), term)]
    page, total = apply_queries(docs, qs, lambda cursor: ctx.store.get("functions", cursor))
    return list_envelope("functions", [function_response(ctx, doc) for doc in page], total)


@post("/functions", opt=WRITE, name="functions.create")
async def create_function(ctx: NamedDependency[ServerContext], request: Request) -> Response[dict[str, Any]]:
    profile = ctx.config.profile
    body = parse_function_body(FunctionCreate, await json_body(request), profile, ctx.config.timeout_max)
    assert isinstance(body, FunctionCreate)
    limit_headers = abuse.check_creation(ctx)
    function_id = unique_id() if body.functionId == "unique()" else body.functionId
    _check_runtime_allowed(ctx, body.runtime)
    _check_vcs(body, ctx.config.installations)
    now = now_iso()
    doc = {
        "$id": function_id, "$createdAt": now, "$updatedAt": now, **_settings_fields(ctx, body),
        "live": True, "deployment": "", "version": profile.open_runtimes,
    }
    doc = {k: v for k, v in doc.items() if k != "vars"}
    try:
        ctx.store.insert("functions", doc)
    except KeyError:
        raise AppwriteError(profile.duplicate_function_error, headers=limit_headers) from None
    return Response(function_response(ctx, doc), status_code=HTTP_201_CREATED, headers=limit_headers)


@get("/functions/runtimes", opt=READ, sync_to_thread=False, name="functions.listRuntimes")
def list_runtimes(ctx: NamedDependency[ServerContext]) -> dict[str, Any]:
    profile = ctx.config.profile
    allowed = set(ctx.config.runtimes or profile.runtimes)
    runtimes = [runtime_model(rid, profile.open_runtimes) for rid in profile.runtimes if rid in allowed]
    return list_envelope("runtimes", runtimes, len(runtimes))


@get("/functions/specifications", opt=READ, sync_to_thread=False, name="functions.listSpecifications")
def list_specifications(ctx: NamedDependency[ServerContext]) -> dict[str, Any]:
    specifications = [specification_model(slug) for slug in SPECIFICATION_SLUGS]
    return list_envelope("specifications", specifications, len(specifications))


@get("/functions/{function_id:str}", opt=READ, sync_to_thread=False, name="functions.get")
def get_function(ctx: NamedDependency[ServerContext], function_id: FromPath[str]) -> dict[str, Any]:
    return function_response(ctx, load_function(ctx, function_id))


# Settings whose change means the active build no longer matches the configuration.
LIVE_FIELDS = ("name", "entrypoint", "commands", "providerRootDirectory", "runtime")
# Settings a warm runtime was started with: Appwrite destroys it when they change.
RUNTIME_FIELDS = ("specification", "buildSpecification", "runtime", "timeout")


async def retire_workers(ctx: ServerContext, function_id: str) -> None:
    """Drop the function's warm workers (an execution in progress finishes first); the next one cold-starts."""
    executions = ctx.services.get("executions")
    if executions is not None:
        await executions.retire(function_id)


@put("/functions/{function_id:str}", opt=WRITE, name="functions.update")
async def update_function(ctx: NamedDependency[ServerContext], function_id: FromPath[str], request: Request) -> dict[str, Any]:
    """A full replacement: omitted params go back to their defaults, except runtime, entrypoint and what the version keeps."""
    check_path_id("functionId", function_id)
    body = parse_function_body(FunctionUpdate, await json_body(request), ctx.config.profile, ctx.config.timeout_max)
    assert isinstance(body, FunctionUpdate)
    with ctx.store.transaction():
        current = load_function(ctx, function_id)
        runtime = body.runtime or current.get("runtime", "")
        _check_runtime_allowed(ctx, runtime)
        _check_vcs(body, ctx.config.installations)
        updated = {
            **current,
            **_settings_fields(ctx, body, current),
            "runtime": runtime,
            "entrypoint": body.entrypoint or current.get("entrypoint", ""),
            "$updatedAt": now_iso(),
        }
        updated["live"] = all(updated.get(f, "") == current.get(f, "") for f in LIVE_FIELDS)
        ctx.store.put("functions", updated)
    if any(updated.get(f) != current.get(f) for f in RUNTIME_FIELDS):
        await retire_workers(ctx, function_id)
    return function_response(ctx, updated)


@delete("/functions/{function_id:str}", opt=WRITE, status_code=HTTP_204_NO_CONTENT, response_headers=NO_CONTENT_HEADERS, name="functions.delete")
async def delete_function(ctx: NamedDependency[ServerContext], function_id: FromPath[str]) -> None:
    """Removes the function and, at once rather than through a worker, everything under it."""
    with ctx.store.transaction():
        load_function(ctx, function_id)
        ctx.store.delete("functions", function_id)
        for collection in CHILD_COLLECTIONS:
            ctx.store.delete_children(collection, function_id)
    await retire_workers(ctx, function_id)
    builder = ctx.services.get("builder")
    if builder is not None and hasattr(builder, "forget_function"):
        result = builder.forget_function(function_id)
        if hasattr(result, "__await__"):
            await result


ROUTES = [
    list_functions,
    create_function,
    list_runtimes,
    list_specifications,
    get_function,
    update_function,
    delete_function,
]
