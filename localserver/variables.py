"""Routes for function variables: list, create, get, update, delete (newest params and models).

Keys are unique per function (409 variable_already_exists). Every mutation sets the function's
`live` to false and bumps its `$updatedAt`, in the same transaction, because builds only see
variables at the next deployment. Secret variables (1.7+) keep their value hidden and cannot be unset;
on servers without them the flag is never stored (profile `secret_variables`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import ValidationInfo
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from localserver.clock import now_iso, unique_id
from localserver.context import ServerContext
from localserver.errors import AppwriteError, missing_param
from localserver.functions import READ, WRITE, json_body, load_function, mark_not_live
from pydantic import BeforeValidator

from localserver.models import NO_CONTENT_HEADERS, STRICT_BOOL, RequestModel, check_path_id, custom_id, list_envelope, parse_body, rejected, text, variable_model
from localserver.queries import apply_queries, parse_queries, queries_from_request
from localserver.store import Document

MAX_LISTED = 1000


_STRICT_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STRICT_KEY_RULE = "Value must be a valid string and at least 1 chars and no longer than 255 chars, containing only letters, digits and underscores, not starting with a digit"


def _key(value: object, info: ValidationInfo) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise rejected("Value must be a valid string and at least 1 chars and no longer than 255 chars")
    if (info.context or {}).get("strict_keys") and not _STRICT_KEY.match(value):
        raise rejected(STRICT_KEY_RULE)
    return value


Key = Annotated[str, BeforeValidator(_key)]


class VariableCreate(RequestModel):
    variableId: Annotated[str, BeforeValidator(custom_id)]
    key: Key
    value: Annotated[str, text(8192, 0)]
    secret: Annotated[bool, STRICT_BOOL] = True
    description: Annotated[str, text(8192, 0)] = ""


class VariableUpdate(RequestModel):
    key: Key | None = None
    value: Annotated[str | None, text(8192, 0)] = None
    secret: Annotated[bool, STRICT_BOOL] | None = None
    description: Annotated[str, text(8192, 0)] | None = None


def _load_variable(ctx: ServerContext, function_id: str, variable_id: str) -> Document:
    doc = ctx.store.get("variables", variable_id)
    if doc is None or doc.get("resourceId") != function_id:
        raise AppwriteError("variable_not_found")
    return doc


def _key_taken(ctx: ServerContext, function_id: str, key: str, except_id: str = "") -> bool:
    return any(v["key"] == key and v["$id"] != except_id for v in ctx.store.all("variables", parent=function_id))


@get("/functions/{function_id:str}/variables", opt=READ, sync_to_thread=False, name="functions.listVariables")
def list_variables(ctx: NamedDependency[ServerContext], function_id: FromPath[str], request: Request) -> dict[str, Any]:
    """All variables oldest first (<= 1.9.0: queries ignored), or pages of 25 with queries (1.9.5+)."""
    load_function(ctx, function_id)
    docs = ctx.store.all("variables", parent=function_id)[:MAX_LISTED]
    profile = ctx.config.profile
    if profile.variable_page_size is None:
        return list_envelope("variables", [variable_model(v) for v in docs], len(docs))
    queries = parse_queries(queries_from_request(request), dict(profile.variable_queries), sequence=profile.sequence_attribute)
    views = [{**doc, "secret": bool(doc.get("_secret"))} for doc in docs]
    page, total = apply_queries(views, queries, lambda cursor: ctx.store.get("variables", cursor))
    return list_envelope("variables", [variable_model(v) for v in page], total)


@post("/functions/{function_id:str}/variables", opt=WRITE, name="functions.createVariable")
async def create_variable(ctx: NamedDependency[ServerContext], function_id: FromPath[str], request: Request) -> Response[dict[str, Any]]:
    check_path_id("functionId", function_id)
    profile = ctx.config.profile
    body = parse_body(VariableCreate, await json_body(request), {"strict_keys": profile.strict_variable_keys})
    assert isinstance(body, VariableCreate)
    now = now_iso()
    with ctx.store.transaction():
        load_function(ctx, function_id)
        variable_id = unique_id() if body.variableId == "unique()" else body.variableId
        if _key_taken(ctx, function_id, body.key) or ctx.store.get("variables", variable_id) is not None:
            raise AppwriteError("variable_already_exists")
        doc = {
            "$id": variable_id,
            "$createdAt": now,
            "$updatedAt": now,
            "key": body.key,
            "description": body.description,
            "value": body.value,
            "resourceType": "function",
            "resourceId": function_id,
        }
        if body.secret and profile.secret_variables:
            doc["_secret"] = True
        ctx.store.insert("variables", doc, parent=function_id)
        mark_not_live(ctx, function_id)
    return Response(variable_model(doc), status_code=HTTP_201_CREATED)


@get("/functions/{function_id:str}/variables/{variable_id:str}", opt=READ, sync_to_thread=False, name="functions.getVariable")
def get_variable(ctx: NamedDependency[ServerContext], function_id: FromPath[str], variable_id: FromPath[str]) -> dict[str, Any]:
    check_path_id("functionId", function_id)
    check_path_id("variableId", variable_id)
    load_function(ctx, function_id)
    return variable_model(_load_variable(ctx, function_id, variable_id))


@put("/functions/{function_id:str}/variables/{variable_id:str}", opt=WRITE, name="functions.updateVariable")
async def update_variable(
    ctx: NamedDependency[ServerContext], function_id: FromPath[str], variable_id: FromPath[str], request: Request
) -> dict[str, Any]:
    """Omitted params keep their value (`key` is required where the profile says so); a secret stays secret."""
    check_path_id("functionId", function_id)
    check_path_id("variableId", variable_id)
    profile = ctx.config.profile
    body = parse_body(VariableUpdate, await json_body(request), {"strict_keys": profile.strict_variable_keys})
    assert isinstance(body, VariableUpdate)
    if body.key is None and profile.variable_update_key_required:
        raise missing_param("key")
    with ctx.store.transaction():
        load_function(ctx, function_id)
        doc = _load_variable(ctx, function_id, variable_id)
        key = doc["key"] if body.key is None else body.key
        if _key_taken(ctx, function_id, key, except_id=variable_id):
            raise AppwriteError("variable_already_exists")
        secret = bool(doc.get("_secret"))
        if profile.secret_variables and body.secret is not None:
            if secret and body.secret is False:
                raise AppwriteError("variable_cannot_unset_secret")
            secret = body.secret
        if body.key is None and body.value is None and body.secret is None and body.description is None:
            raise AppwriteError("general_argument_invalid")  # 1.9.5+: nothing to update
        doc = {
            **{k: v for k, v in doc.items() if k != "_secret"},
            **({"_secret": True} if secret else {}),
            "key": key,
            "value": doc["value"] if body.value is None else body.value,
            "description": doc.get("description", "") if body.description is None else body.description,
            "$updatedAt": now_iso(),
        }
        ctx.store.put("variables", doc)
        mark_not_live(ctx, function_id)
    return variable_model(doc)


@delete("/functions/{function_id:str}/variables/{variable_id:str}", opt=WRITE, status_code=HTTP_204_NO_CONTENT, response_headers=NO_CONTENT_HEADERS, sync_to_thread=False, name="functions.deleteVariable")
def delete_variable(ctx: NamedDependency[ServerContext], function_id: FromPath[str], variable_id: FromPath[str]) -> None:
    check_path_id("functionId", function_id)
    check_path_id("variableId", variable_id)
    with ctx.store.transaction():
        load_function(ctx, function_id)
        _load_variable(ctx, function_id, variable_id)
        ctx.store.delete("variables", variable_id)
        mark_not_live(ctx, function_id)


ROUTES = [list_variables, create_variable, get_variable, update_variable, delete_variable]
