"""Routes for executions: list (queries + search), create (sync, async, scheduled), get, delete.

Checks run in the order of 1.6.2's `functions.php`: params, the scheduledAt rules, headers, then
function (disabled looks like 404 to callers without a key), runtime, active deployment, build,
and the function's `execute` roles (API keys always pass; everyone else here is a guest, since the
local server has no users). Running the code is `localserver.runtime.service`'s job.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, ClassVar

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from pydantic import BeforeValidator, Field, ValidationInfo

from localserver.auth import caller_has_key
from localserver.clock import format_iso, parse_iso
from localserver.context import ServerContext
from localserver.errors import AppwriteError, invalid_param
from localserver.functions import json_body
from localserver.models import LOOSE_BOOL, RequestModel, check_path_id, execution_model, list_envelope, parse_body, rejected, text, text_description
from localserver.queries import apply_queries, matches_search, parse_queries, queries_from_request, search_param
from localserver.runtime.service import ExecutionService, SyncTimeout, headers_list
from localserver.store import Document

READ = {"scope": "execution.read", "allow_guests": True}
WRITE = {"scope": "execution.write", "allow_guests": True}
KEY_ONLY_WRITE = {"scope": "execution.write"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
GUEST_ROLES = ("any", "guests")
DELETABLE = ("completed", "failed", "scheduled")
HEADERS_RULE = 'Invalid headers: Alphanumeric characters or hyphens only, cannot start with "x-appwrite", maximum 100 keys, and total size 16384.'



def _method(value: object, info: ValidationInfo) -> str:
    methods = (info.context or {}).get("methods", METHODS)
    if value not in methods:
        raise rejected(f"Value must be one of ({', '.join(methods)})")
    return str(value)


def _headers_param(value: object) -> object:
    """AnyOf(Assoc, Text(65535)): an object, or its JSON text."""
    if isinstance(value, dict) or value == []:
        return value
    if isinstance(value, str) and len(value) <= 65535:
        return value
    raise rejected(HEADERS_RULE)


def _nullable_text(value: object) -> object:
    if not isinstance(value, str) or len(value) > 100:
        raise rejected(text_description(100, 0))
    return value


class ExecutionCreate(RequestModel):
    body: Annotated[str, text(10_485_760, 0)] = ""
    async_: Annotated[bool, LOOSE_BOOL] = Field(default=False, alias="async")
    path: Annotated[str, text(2048)] = "/"
    method: Annotated[str, BeforeValidator(_method)] = "POST"
    headers: Annotated[object, BeforeValidator(_headers_param)] = None
    scheduledAt: Annotated[str | None, BeforeValidator(_nullable_text)] = None

    param_order: ClassVar[tuple[str, ...]] = ("body", "async", "path", "method", "headers", "scheduledAt")


def check_headers(value: object) -> dict[str, str]:
    """Appwrite's Headers validator: ≤100 keys of alphanumerics and inner hyphens, no x-appwrite-, < 16 KB."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not value:
        return {}
    if not isinstance(value, dict) or len(value) > 100:
        raise invalid_param("headers", HEADERS_RULE)
    size = 0
    out: dict[str, str] = {}
    for key, raw in value.items():
        text_value = raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, (dict, list)) else str(raw).lower() if isinstance(raw, bool) else str(raw)
        size += len(key) + len(text_value)
        inner_ok = all(c.isascii() and (c.isalnum() or c == "-") for c in key[1:-1])
        edges_ok = bool(key) and key[0].isascii() and key[0].isalnum() and key[-1].isascii() and key[-1].isalnum()
        if size >= 16384 or not edges_ok or not inner_ok or key.startswith("x-appwrite-"):
            raise invalid_param("headers", HEADERS_RULE)
        out[key] = text_value
    return out


def service(ctx: ServerContext) -> ExecutionService:
    return ctx.services["executions"]


def now_utc(ctx: ServerContext) -> datetime:
    """The scheduler's clock (injectable in tests), else the wall clock."""
    scheduler = ctx.services.get("scheduler")
    return scheduler.clock.now() if scheduler is not None else datetime.now(timezone.utc)


def check_scheduled_at(ctx: ServerContext, value: str) -> str:
    """A valid date, in whole minutes, at least a minute ahead; stored in Appwrite's date format."""
    try:
        moment = parse_iso(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        moment = None
    if moment is None or moment.second or moment.microsecond or moment <= now_utc(ctx) + timedelta(seconds=60):
        raise AppwriteError("general_bad_request", "Execution schedule must be a valid date, and at least 1 minute from now")
    return format_iso(moment)


def visible_function(ctx: ServerContext, request: Request, function_id: str) -> Document:
    """The function, or 404 when unknown, or disabled and the caller has no key."""
    check_path_id("functionId", function_id)
    function = ctx.store.get("functions", function_id)
    if function is None or (not function.get("enabled", True) and not caller_has_key(request)):
        raise AppwriteError("function_not_found")
    return function


def readable(request: Request, doc: Document) -> bool:
    """Keys read everything; guests only documents granting read to any/guests (none, locally)."""
    if caller_has_key(request):
        return True
    return any(p in ('read("any")', 'read("guests")') for p in doc.get("$permissions", []))


def response_model(request: Request, doc: Document, **overrides: Any) -> dict[str, Any]:
    """logs and errors are sensitive: only key callers see them."""
    if not caller_has_key(request):
        overrides.update(logs="", errors="")
    return execution_model(doc, **overrides)


def check_execute_roles(function: Document) -> None:
    roles = list(function.get("execute") or [])
    if not roles:
        raise AppwriteError("user_unauthorized", "No permissions provided for action 'execute'")
    if not any(role in GUEST_ROLES for role in roles):
        raise AppwriteError(
            "user_unauthorized",
            f'Missing "execute" permission for role "{roles[-1]}". Only "{json.dumps(list(GUEST_ROLES))}" scopes are allowed and "{json.dumps(roles)}" was given.',
        )


@get("/functions/{function_id:str}/executions", opt=READ, sync_to_thread=False, name="functions.listExecutions")
def list_executions(ctx: NamedDependency[ServerContext], request: Request, function_id: FromPath[str], search: FromQuery[str | None] = None) -> dict[str, Any]:
    check_path_id("functionId", function_id)
    profile = ctx.config.profile
    qs = parse_queries(queries_from_request(request), dict(profile.execution_queries), sequence=profile.sequence_attribute)
    term = search_param(search)
    visible_function(ctx, request, function_id)
    docs = [doc for doc in ctx.store.all("executions", parent=function_id) if readable(request, doc)]
    if term is not None:
        docs = [doc for doc in docs if matches_search(f"{doc.get('functionId', '')} {doc['$id']}", term)]
    page, total = apply_queries(docs, qs, lambda cursor: ctx.store.get("executions", cursor))
    return list_envelope("executions", [response_model(request, doc) for doc in page], total)


@post("/functions/{function_id:str}/executions", opt=WRITE, name="functions.createExecution")
async def create_execution(ctx: NamedDependency[ServerContext], request: Request, function_id: FromPath[str]) -> Response[dict[str, Any]]:
    check_path_id("functionId", function_id)
    params = parse_body(ExecutionCreate, await json_body(request), {"methods": ctx.config.profile.execution_methods})
    assert isinstance(params, ExecutionCreate)
    scheduled_at = None
    if params.scheduledAt is not None:
        if not params.async_:
            raise AppwriteError("general_bad_request", "Scheduled executions must run asynchronously. Set scheduledAt to a future date, or set async to true.")
        scheduled_at = check_scheduled_at(ctx, params.scheduledAt)
    headers = check_headers(params.headers)

    function = visible_function(ctx, request, function_id)
    runtime = function.get("runtime", "")
    if runtime not in ctx.config.profile.runtimes:
        raise AppwriteError("function_runtime_unsupported", f'Runtime "{runtime}" is not supported')
    deployment = ctx.store.get("deployments", function.get("deployment") or "")
    if deployment is None or deployment.get("resourceId") != function["$id"]:
        raise AppwriteError("deployment_not_found", "Deployment not found. Create a deployment before trying to execute a function")
    build = ctx.store.get("builds", deployment.get("buildId") or "")
    if build is None:
        raise AppwriteError("build_not_found")
    if build.get("status") != "ready":
        raise AppwriteError("build_not_ready")
    if not caller_has_key(request):
        check_execute_roles(function)

    runner = service(ctx)
    if params.async_:
        status = "scheduled" if scheduled_at else "waiting"
        doc = runner.new_document(function, deployment["$id"], trigger="schedule" if scheduled_at else "http", status=status,
                                  method=params.method, path=params.path, headers=headers, body=params.body, scheduled_at=scheduled_at)
        ctx.store.insert("executions", doc, parent=function["$id"])
        if scheduled_at:
            scheduler = ctx.services.get("scheduler")
            if scheduler is not None:
                scheduler.add_scheduled(doc["$id"], parse_iso(scheduled_at))
        else:
            runner.start(doc["$id"])
        return Response(response_model(request, doc), status_code=HTTP_202_ACCEPTED)

    doc = runner.new_document(function, deployment["$id"], trigger="http", status="processing",
                              method=params.method, path=params.path, headers=headers, body=params.body)
    try:
        doc, outcome = await runner.run_sync(doc, function, deployment)
    except SyncTimeout:
        raise AppwriteError("function_synchronous_timeout") from None
    body = outcome.body.decode("utf-8", "replace")
    return Response(
        response_model(request, doc, responseBody=body, responseHeaders=headers_list(outcome.headers)),
        status_code=HTTP_201_CREATED,
    )


def _load_execution(ctx: ServerContext, request: Request, function_id: str, execution_id: str) -> Document:
    check_path_id("functionId", function_id)
    check_path_id("executionId", execution_id)
    visible_function(ctx, request, function_id)
    doc = ctx.store.get("executions", execution_id)
    if doc is None or doc.get("functionId") != function_id or not readable(request, doc):
        raise AppwriteError("execution_not_found")
    return doc


@get("/functions/{function_id:str}/executions/{execution_id:str}", opt=READ, sync_to_thread=False, name="functions.getExecution")
def get_execution(ctx: NamedDependency[ServerContext], request: Request, function_id: FromPath[str], execution_id: FromPath[str]) -> dict[str, Any]:
    return response_model(request, _load_execution(ctx, request, function_id, execution_id))


@delete("/functions/{function_id:str}/executions/{execution_id:str}", opt=KEY_ONLY_WRITE, status_code=HTTP_204_NO_CONTENT, name="functions.deleteExecution")
async def delete_execution(ctx: NamedDependency[ServerContext], request: Request, function_id: FromPath[str], execution_id: FromPath[str]) -> Response[None]:
    """Only finished or still-scheduled executions can go; deleting a scheduled one cancels it."""
    with ctx.store.transaction():
        doc = _load_execution(ctx, request, function_id, execution_id)
        if doc.get("status") not in DELETABLE:
            raise AppwriteError("execution_in_progress")
        ctx.store.delete("executions", execution_id)
    scheduler = ctx.services.get("scheduler")
    if scheduler is not None:
        scheduler.cancel_scheduled(execution_id)
    # a non-JSON Content-Type, as Appwrite sends: the Python SDK reads that header on every reply
    return Response(content=None, status_code=HTTP_204_NO_CONTENT, headers={"Content-Type": "text/html; charset=UTF-8"})


ROUTES = [list_executions, create_execution, get_execution, delete_execution]
