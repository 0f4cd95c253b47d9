"""Routes for function variables: list, create, get, update, delete.

Keys are unique per function (409 variable_already_exists). Every mutation sets the function's
`live` to false and bumps its `$updatedAt`, in the same transaction, because builds only see
variables at the next deployment.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from localserver import compat
from localserver.clock import now_iso, unique_id
from localserver.context import ServerContext
from localserver.errors import AppwriteError
from localserver.functions import READ, WRITE, json_body, load_function, mark_not_live
from localserver.models import NO_CONTENT_HEADERS, RequestModel, check_path_id, list_envelope, parse_body, text, variable_model
from localserver.store import Document

MAX_LISTED = 1000


class VariableCreate(RequestModel):
    key: Annotated[str, text(255)]
    value: Annotated[str, text(8192, 0)]


class VariableUpdate(RequestModel):
    key: Annotated[str, text(255)]
    value: Annotated[str | None, text(8192, 0)] = None


def _load_variable(ctx: ServerContext, function_id: str, variable_id: str) -> Document:
    doc = ctx.store.get("variables", variable_id)
    if doc is None or doc.get("resourceId") != function_id:
        raise AppwriteError("variable_not_found")
    return doc


def _key_taken(ctx: ServerContext, function_id: str, key: str, except_id: str = "") -> bool:
    return any(v["key"] == key and v["$id"] != except_id for v in ctx.store.all("variables", parent=function_id))


@get("/functions/{function_id:str}/variables", opt=READ, sync_to_thread=False)
def list_variables(ctx: NamedDependency[ServerContext], function_id: FromPath[str]) -> dict[str, Any]:
    """All variables (no queries in 1.6), oldest first; `total` is the number returned."""
    load_function(ctx, function_id)
    variables = [variable_model(v) for v in ctx.store.all("variables", parent=function_id)[:MAX_LISTED]]
    return list_envelope("variables", variables, len(variables))


@post("/functions/{function_id:str}/variables", opt=WRITE)
async def create_variable(ctx: NamedDependency[ServerContext], function_id: FromPath[str], request: Request) -> Response[dict[str, Any]]:
    check_path_id("functionId", function_id)
    raw = await json_body(request)
    body = parse_body(VariableCreate, raw)
    assert isinstance(body, VariableCreate)
    secret = compat.secret_on_create(ctx.config, raw)  # False unless emulating 1.8
    now = now_iso()
    with ctx.store.transaction():
        load_function(ctx, function_id)
        if _key_taken(ctx, function_id, body.key):
            raise AppwriteError("variable_already_exists")
        doc = {
            "$id": unique_id(),
            "$createdAt": now,
            "$updatedAt": now,
            "key": body.key,
            "value": body.value,
            "resourceType": "function",
            "resourceId": function_id,
        }
        if secret:
            doc["_secret"] = True
        ctx.store.insert("variables", doc, parent=function_id)
        mark_not_live(ctx, function_id)
    return Response(variable_model(doc), status_code=HTTP_201_CREATED)


@get("/functions/{function_id:str}/variables/{variable_id:str}", opt=READ, sync_to_thread=False)
def get_variable(ctx: NamedDependency[ServerContext], function_id: FromPath[str], variable_id: FromPath[str]) -> dict[str, Any]:
    check_path_id("functionId", function_id)
    check_path_id("variableId", variable_id)
    load_function(ctx, function_id)
    return variable_model(_load_variable(ctx, function_id, variable_id))


@put("/functions/{function_id:str}/variables/{variable_id:str}", opt=WRITE)
async def update_variable(
    ctx: NamedDependency[ServerContext], function_id: FromPath[str], variable_id: FromPath[str], request: Request
) -> dict[str, Any]:
    """`key` is required even when unchanged; an omitted `value` keeps the old one."""
    check_path_id("functionId", function_id)
    check_path_id("variableId", variable_id)
    raw = await json_body(request)
    body = parse_body(VariableUpdate, raw)
    assert isinstance(body, VariableUpdate)
    with ctx.store.transaction():
        load_function(ctx, function_id)
        doc = _load_variable(ctx, function_id, variable_id)
        if _key_taken(ctx, function_id, body.key, except_id=variable_id):
            raise AppwriteError("variable_already_exists")
        secret = compat.secret_on_update(ctx.config, raw, bool(doc.get("_secret")))  # False unless emulating 1.8
        doc = {
            **doc,
            **({"_secret": True} if secret else {}),
            "key": body.key,
            "value": doc["value"] if body.value is None else body.value,
            "$updatedAt": now_iso(),
        }
        ctx.store.put("variables", doc)
        mark_not_live(ctx, function_id)
    return variable_model(doc)


@delete("/functions/{function_id:str}/variables/{variable_id:str}", opt=WRITE, status_code=HTTP_204_NO_CONTENT, response_headers=NO_CONTENT_HEADERS, sync_to_thread=False)
def delete_variable(ctx: NamedDependency[ServerContext], function_id: FromPath[str], variable_id: FromPath[str]) -> None:
    check_path_id("functionId", function_id)
    check_path_id("variableId", variable_id)
    with ctx.store.transaction():
        load_function(ctx, function_id)
        _load_variable(ctx, function_id, variable_id)
        ctx.store.delete("variables", variable_id)
        mark_not_live(ctx, function_id)


ROUTES = [list_variables, create_variable, get_variable, update_variable, delete_variable]
