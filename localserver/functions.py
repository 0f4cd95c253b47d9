"""Routes for functions: list, create, get, update (full replacement), delete, runtimes, specifications.

Validation follows `app/controllers/api/functions.php` of 1.6.2: each body param is checked in
declaration order and the first failure is reported with Appwrite's validator text.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from croniter import croniter
from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from pydantic import BeforeValidator, Field, ValidationInfo

from localserver import compat
from localserver.clock import now_iso, unique_id
from localserver.context import ServerContext
from localserver.errors import AppwriteError
from localserver.models import (
    NO_CONTENT_HEADERS,
    STRICT_BOOL,
    FUNCTION_FIELDS,
    RequestModel,
    check_path_id,
    custom_id,
    function_model,
    int_range,
    list_envelope,
    parse_body,
    public,
    rejected,
    text,
)
from localserver.queries import apply_queries, matches_search, parse_queries, queries_from_request, search_param
from localserver.runtimes import (
    DEFAULT_SPECIFICATION,
    RUNTIME_IDS,
    SPECIFICATION_SLUGS,
    enabled_runtimes,
    runtime_model,
    specification_model,
)
from localserver.store import Document

READ = {"scope": "functions.read"}
WRITE = {"scope": "functions.write"}
ARRAY_LIMIT = 100
# Child collections whose documents carry the function id in their `parent` column.
CHILD_COLLECTIONS = ("variables", "deployments", "builds", "executions")

QUERY_ATTRIBUTES: dict[str, type] = {
    "name": str,
    "enabled": bool,
    "runtime": str,
    "deployment": str,
    "schedule": str,
    "timeout": int,
    "entrypoint": str,
    "commands": str,
    "installationId": str,
}

# --- param validators (Appwrite's Roles, FunctionEvent, Cron, WhiteList) -------------------------

KEY_RULE = "Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char"
_KEY = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}$")
_LABEL = re.compile(r"^[a-zA-Z0-9]{1,36}$")
ROLE_NAMES = ("any", "guests", "users", "user", "team", "member", "label")
# role -> (identifier allowed, identifier required, dimension allowed, dimension options or None = any key)
_ROLE_CONFIG: dict[str, tuple[bool, bool, bool, tuple[str, ...] | None]] = {
    "any": (False, False, False, ()),
    "guests": (False, False, False, ()),
    "users": (False, False, True, ("unverified", "verified")),
    "user": (True, True, True, ("unverified", "verified")),
    "team": (True, True, True, None),
    "member": (True, True, False, ()),
    "label": (True, True, False, ()),
}


def role_problem(role: str) -> str | None:
    """Why `role` is not a valid permission role (utopia-php/database Roles validator), or None."""
    if role == "*":
        return 'Wildcard role "*" has been replaced. Use "any" instead.'
    if "role:" in role:
        return 'Roles using the "role:" prefix have been removed. Use "users", "guests", or "any" instead.'
    if not any(role.startswith(name) for name in ROLE_NAMES):
        return f'Role "{role}" is not allowed. Must be one of: {", ".join(ROLE_NAMES)}.'
    name, _, rest = role.partition(":")
    if rest:
        identifier, _, dimension = rest.partition("/")
    else:
        name, _, dimension = name.partition("/")
        identifier = ""
    if ("/" in role) and not dimension:
        return "Dimension must not be empty"
    config = _ROLE_CONFIG.get(name)
    if config is None:
        return f'Role "{name}" is not allowed. Must be one of: {", ".join(ROLE_NAMES)}.'
    id_allowed, id_required, dim_allowed, options = config
    if not id_allowed and identifier:
        return f'Role "{name}" can not have an ID value.'
    if id_allowed and id_required and not identifier:
        return f'Role "{name}" must have an ID value.'
    if identifier:
        if name == "label" and not _LABEL.match(identifier):
            return f'Role "{name}" identifier value is invalid: Value must be a valid string between 1 and 36 chars containing only alphanumeric chars'
        if name != "label" and not _KEY.match(identifier):
            return f'Role "{name}" identifier value is invalid: {KEY_RULE}'
    if not dim_allowed and dimension:
        return f'Role "{name}" can not have a dimension value.'
    if dimension and options is not None and dimension not in options:
        return f'Role "{name}" dimension value is invalid. Must be one of: {", ".join(options)}.'
    if dimension and not _KEY.match(dimension):
        return f'Role "{name}" dimension value is invalid: {KEY_RULE}'
    return None


def _roles(value: object) -> list[str]:
    if not isinstance(value, list):
        raise rejected("Roles must be an array of strings.")
    if len(value) > ARRAY_LIMIT:
        raise rejected(f"You can only provide up to {ARRAY_LIMIT} roles.")
    for role in value:
        if not isinstance(role, str):
            raise rejected("Every role must be of type string.")
        problem = role_problem(role)
        if problem:
            raise rejected(problem)
    return value


# A trimmed `config/events.php`: each node lists its children; "$resource" marks a level whose next part is an id.
_ACTIONS = {"create": {}, "update": {}, "delete": {}}
EVENTS: dict[str, Any] = {
    "users": {
        "$resource": True,
        "sessions": {"$resource": True, "create": {}, "update": {}, "delete": {}},
        "recovery": {"$resource": True, "create": {}, "update": {}},
        "verification": {"$resource": True, "create": {}, "update": {}},
        "challenges": {"$resource": True, "create": {}, "update": {}},
        "targets": {"$resource": True, **_ACTIONS},
        "create": {},
        "delete": {},
        "update": {"email": {}, "name": {}, "password": {}, "status": {}, "prefs": {}, "phone": {}, "labels": {}, "mfa": {}},
    },
    "databases": {
        "$resource": True,
        "collections": {
            "$resource": True,
            "documents": {"$resource": True, **_ACTIONS},
            "indexes": {"$resource": True, **_ACTIONS},
            "attributes": {"$resource": True, **_ACTIONS},
            **_ACTIONS,
        },
        **_ACTIONS,
    },
    "buckets": {"$resource": True, "files": {"$resource": True, **_ACTIONS}, **_ACTIONS},
    "teams": {
        "$resource": True,
        "memberships": {"$resource": True, "create": {}, "delete": {}, "update": {"status": {}}},
        "create": {},
        "delete": {},
        "update": {"prefs": {}},
    },
    "functions": {
        "$resource": True,
        "deployments": {"$resource": True, **_ACTIONS},
        "executions": {"$resource": True, **_ACTIONS},
        **_ACTIONS,
    },
    "rules": {"$resource": True, **_ACTIONS},
    "messages": {"$resource": True, **_ACTIONS},
    "topics": {"$resource": True, "subscribers": {"$resource": True, **_ACTIONS}, **_ACTIONS},
    "providers": {"$resource": True, **_ACTIONS},
}


def event_is_valid(event: str) -> bool:
    """Appwrite's Event validator: `type.resource[.subType.subResource[...]][.action[.attribute]]`."""
    parts = event.split(".")
    if not 2 <= len(parts) <= 7 or not all(parts):
        return False
    node = EVENTS.get(parts[0])
    if node is None:
        return False
    rest = parts[2:]  # parts[1] is the resource id (free text, `*` wildcard)
    # Descend through sub-resources: a child that is itself a resource consumes its id too.
    while len(rest) >= 2 and isinstance(node.get(rest[0]), dict) and node[rest[0]].get("$resource"):
        node = node[rest[0]]
        rest = rest[2:]
    if not rest:
        return True
    action = node.get(rest[0])
    if not isinstance(action, dict) or action.get("$resource"):
        return False
    if len(rest) == 1:
        return True
    return len(rest) == 2 and rest[1] in action


def _events(value: object) -> list[str]:
    description = f"Value must a valid array no longer than {ARRAY_LIMIT} items and "
    if not isinstance(value, list) or len(value) > ARRAY_LIMIT:
        raise rejected(description + "Event is not valid.")
    for event in value:
        if isinstance(event, str) and event.startswith("functions."):
            raise rejected(description + "Triggering a function on a function event is not allowed.")
        if not isinstance(event, str) or not event_is_valid(event):
            raise rejected(description + "Event is not valid.")
    return value


CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def schedule_is_valid(value: str) -> bool:
    """dragonmantank/cron-expression 3.x: five fields or an @alias; no seconds field."""
    if value == "" or value in CRON_ALIASES:
        return True
    fields = value.split()
    if len(fields) != 5:
        return False
    if fields[2] == "?" and fields[4] == "?":
        return False
    normalised = " ".join("*" if f == "?" else f for f in fields)
    return bool(croniter.is_valid(normalised))


def _schedule(value: object) -> str:
    if not isinstance(value, str) or not schedule_is_valid(value):
        raise rejected("String must be a valid cron expression")
    return value


SCOPES: tuple[str, ...] = (
    "sessions.write", "users.read", "users.write", "teams.read", "teams.write",
    "databases.read", "databases.write", "collections.read", "collections.write",
    "attributes.read", "attributes.write", "indexes.read", "indexes.write",
    "documents.read", "documents.write", "files.read", "files.write", "buckets.read", "buckets.write",
    "functions.read", "functions.write", "execution.read", "execution.write",
    "locale.read", "avatars.read", "health.read",
    "providers.read", "providers.write", "messages.read", "messages.write",
    "topics.read", "topics.write", "subscribers.read", "subscribers.write",
    "targets.read", "targets.write", "rules.read", "rules.write",
    "migrations.read", "migrations.write", "vcs.read", "vcs.write", "assistant.read",
)


def _scopes(value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > ARRAY_LIMIT or any(s not in SCOPES for s in value):
        raise rejected(f"Value must a valid array no longer than {ARRAY_LIMIT} items and Value must be one of ({', '.join(SCOPES)})")
    return value


def _runtime(value: object) -> str:
    if not isinstance(value, str) or value not in RUNTIME_IDS:
        raise rejected(f"Value must be one of ({', '.join(RUNTIME_IDS)})")
    return value


def _specification(value: object) -> str:
    if not isinstance(value, str) or value not in SPECIFICATION_SLUGS:
        raise rejected(f"Specification must be one of: {', '.join(SPECIFICATION_SLUGS)}")
    return value


def _timeout_max(info: ValidationInfo) -> int:
    return int((info.context or {}).get("timeout_max", 900))


Text128 = Annotated[str, text(128, 0)]


class FunctionSettings(RequestModel):
    """Body params shared by create and update, in Appwrite's declaration order."""

    name: Annotated[str, text(128)]
    runtime: Annotated[str, BeforeValidator(_runtime)] = ""
    execute: Annotated[list[str], BeforeValidator(_roles)] = Field(default_factory=list)
    events: Annotated[list[str], BeforeValidator(_events)] = Field(default_factory=list)
    schedule: Annotated[str, BeforeValidator(_schedule)] = ""
    timeout: Annotated[int, int_range(1, _timeout_max)] = 15
    enabled: Annotated[bool, STRICT_BOOL] = True
    logging: Annotated[bool, STRICT_BOOL] = True
    entrypoint: Annotated[str, text(1028, 0)] = ""
    commands: Annotated[str, text(8192, 0)] = ""
    scopes: Annotated[list[str], BeforeValidator(_scopes)] = Field(default_factory=list)
    installationId: Text128 = ""
    providerRepositoryId: Text128 = ""
    providerBranch: Text128 = ""
    providerSilentMode: Annotated[bool, STRICT_BOOL] = False
    providerRootDirectory: Text128 = ""


class FunctionUpdate(FunctionSettings):
    specification: Annotated[str, BeforeValidator(_specification)] = DEFAULT_SPECIFICATION


class FunctionCreate(FunctionSettings):
    functionId: Annotated[str, BeforeValidator(custom_id)]
    runtime: Annotated[str, BeforeValidator(_runtime)]
    templateRepository: Text128 = ""
    templateOwner: Text128 = ""
    templateRootDirectory: Text128 = ""
    templateVersion: Text128 = ""
    specification: Annotated[str, BeforeValidator(_specification)] = DEFAULT_SPECIFICATION

    # Appwrite declares functionId first, then the shared settings, templates, specification.
    param_order: ClassVar[tuple[str, ...]] = ("functionId", *FunctionSettings.model_fields, "templateRepository", "templateOwner", "templateRootDirectory", "templateVersion", "specification")

# --- shared helpers for other route modules --------------------------------------------------------


def load_function(ctx: ServerContext, function_id: str) -> Document:
    """The stored function, or 400 for a malformed id / 404 function_not_found."""
    check_path_id("functionId", function_id)
    doc = ctx.store.get("functions", function_id)
    if doc is None:
        raise AppwriteError("function_not_found")
    return doc


def function_response(ctx: ServerContext, doc: Document) -> dict[str, Any]:
    """The Function model with its variables embedded, as every 1.6.2 function response has."""
    return function_model(doc, ctx.store.all("variables", parent=doc["$id"]))


def mark_not_live(ctx: ServerContext, function_id: str) -> None:
    """Variable changes need a redeploy to reach builds: `live` := false and `$updatedAt` bumps."""
    doc = ctx.store.get("functions", function_id)
    if doc is not None:
        ctx.store.put("functions", {**doc, "live": False, "$updatedAt": now_iso()})


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


def _settings_fields(settings: FunctionSettings, specification: str) -> dict[str, Any]:
    data = settings.model_dump(include={name for name, _ in FUNCTION_FIELDS})
    data["specification"] = specification
    return data


# --- routes ------------------------------------------------------------------------------------------


@get("/functions", opt=READ, sync_to_thread=False)
def list_functions(ctx: NamedDependency[ServerContext], request: Request, search: FromQuery[str | None] = None) -> dict[str, Any]:
    qs = parse_queries(queries_from_request(request), QUERY_ATTRIBUTES)
    term = search_param(search)
    docs = ctx.store.all("functions")
    if term is not None:
        docs = [doc for doc in docs if matches_search(search_text(doc), term)]
    page, total = apply_queries(docs, qs, lambda cursor: ctx.store.get("functions", cursor))
    return list_envelope("functions", [function_response(ctx, doc) for doc in page], total)


@post("/functions", opt=WRITE)
async def create_function(ctx: NamedDependency[ServerContext], request: Request) -> Response[dict[str, Any]]:
    body = parse_body(FunctionCreate, await json_body(request), {"timeout_max": ctx.config.timeout_max})
    assert isinstance(body, FunctionCreate)
    function_id = unique_id() if body.functionId == "unique()" else body.functionId
    _check_runtime_allowed(ctx, body.runtime)
    _check_vcs(body, ctx.config.installations)
    now = now_iso()
    doc = public(
        {"$id": function_id, "$createdAt": now, "$updatedAt": now, **_settings_fields(body, body.specification)},
        [f for f in FUNCTION_FIELDS if f[0] != "vars"],
        live=True,
        deployment="",
        version="v4",
    )
    try:
        ctx.store.insert("functions", doc)
    except KeyError:
        raise AppwriteError(compat.duplicate_function_type(ctx.config)) from None
    return Response(function_response(ctx, doc), status_code=HTTP_201_CREATED)


@get("/functions/runtimes", opt=READ, sync_to_thread=False)
def list_runtimes(ctx: NamedDependency[ServerContext]) -> dict[str, Any]:
    runtimes = [runtime_model(rid) for rid in enabled_runtimes(ctx.config.runtimes)]
    return list_envelope("runtimes", runtimes, len(runtimes))


@get("/functions/specifications", opt=READ, sync_to_thread=False)
def list_specifications(ctx: NamedDependency[ServerContext]) -> dict[str, Any]:
    specifications = [specification_model(slug) for slug in SPECIFICATION_SLUGS]
    return list_envelope("specifications", specifications, len(specifications))


@get("/functions/{function_id:str}", opt=READ, sync_to_thread=False)
def get_function(ctx: NamedDependency[ServerContext], function_id: FromPath[str]) -> dict[str, Any]:
    return function_response(ctx, load_function(ctx, function_id))


# Settings whose change means the active build no longer matches the configuration.
LIVE_FIELDS = ("name", "entrypoint", "commands", "providerRootDirectory", "runtime")
# Settings a warm runtime was started with: Appwrite destroys it when they change.
RUNTIME_FIELDS = ("specification", "runtime", "timeout")


async def retire_workers(ctx: ServerContext, function_id: str) -> None:
    """Drop the function's warm workers (an execution in progress finishes first); the next one cold-starts."""
    executions = ctx.services.get("executions")
    if executions is not None:
        await executions.retire(function_id)


@put("/functions/{function_id:str}", opt=WRITE)
async def update_function(ctx: NamedDependency[ServerContext], function_id: FromPath[str], request: Request) -> dict[str, Any]:
    """A full replacement: omitted params go back to their defaults, except runtime and entrypoint."""
    check_path_id("functionId", function_id)
    body = parse_body(FunctionUpdate, await json_body(request), {"timeout_max": ctx.config.timeout_max})
    assert isinstance(body, FunctionUpdate)
    with ctx.store.transaction():
        current = load_function(ctx, function_id)
        runtime = body.runtime or current.get("runtime", "")
        _check_runtime_allowed(ctx, runtime)
        _check_vcs(body, ctx.config.installations)
        updated = {
            **current,
            **_settings_fields(body, body.specification),
            "runtime": runtime,
            "entrypoint": body.entrypoint or current.get("entrypoint", ""),
            "$updatedAt": now_iso(),
        }
        updated["live"] = all(updated.get(f, "") == current.get(f, "") for f in LIVE_FIELDS)
        ctx.store.put("functions", updated)
    if any(updated.get(f) != current.get(f) for f in RUNTIME_FIELDS):
        await retire_workers(ctx, function_id)
    return function_response(ctx, updated)


@delete("/functions/{function_id:str}", opt=WRITE, status_code=HTTP_204_NO_CONTENT, response_headers=NO_CONTENT_HEADERS)
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
