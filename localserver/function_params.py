"""Request params of create/update function: Appwrite's validators (Roles, Event, Cron, WhiteList) and the bodies.

Validation follows Appwrite: each body param is checked in declaration order and the first failure is
reported with the validator's own text. Version-dependent lists (runtimes, scopes) come from the server's
profile through the validation context (`validation_context`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from croniter import croniter
from pydantic import BeforeValidator, Field, ValidationInfo

from localserver.errors import AppwriteError
from localserver.models import STRICT_BOOL, RequestModel, custom_id, int_range, parse_body, rejected, text
from localserver.runtimes import SPECIFICATION_SLUGS
from localserver.versions import ServerProfile

ARRAY_LIMIT = 100

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


def _profile(info: ValidationInfo) -> ServerProfile:
    return (info.context or {})["profile"]


def validation_context(profile: ServerProfile, timeout_max: int) -> dict[str, object]:
    """What the validators below read: the server's profile (runtimes, scopes) and `_APP_FUNCTIONS_TIMEOUT`."""
    return {"profile": profile, "timeout_max": timeout_max}


def parse_function_body(model: type[FunctionSettings], data: object, profile: ServerProfile, timeout_max: int) -> FunctionSettings:
    """Validate a create/update body; servers with one spec param (before 1.9) name it `specification` in errors."""
    try:
        body = parse_body(model, data, validation_context(profile, timeout_max))
    except AppwriteError as error:
        if profile.single_specification:
            error.message = error.message.replace("`buildSpecification`", "`specification`").replace("`runtimeSpecification`", "`specification`")
        raise
    assert isinstance(body, FunctionSettings)
    return body


def _scopes(value: object, info: ValidationInfo) -> list[str]:
    profile = _profile(info)
    allowed = (*SCOPES, *profile.scopes_added)
    limit = profile.scopes_limit
    if not isinstance(value, list) or len(value) > limit or any(s not in allowed for s in value):
        raise rejected(f"Value must a valid array no longer than {limit} items and Value must be one of ({', '.join(allowed)})")
    return value


def _runtime(value: object, info: ValidationInfo) -> str:
    runtimes = _profile(info).runtimes
    if not isinstance(value, str) or value not in runtimes:
        raise rejected(f"Value must be one of ({', '.join(runtimes)})")
    return value


def _specification(value: object) -> str:
    if not isinstance(value, str) or value not in SPECIFICATION_SLUGS:
        raise rejected(f"Specification must be one of: {', '.join(SPECIFICATION_SLUGS)}")
    return value


def _retention(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or not str(value).strip().lstrip("-").isdigit():
        raise rejected("Value must be a valid range between 0 and 36,500")
    number = int(value)
    if not 0 <= number <= 36500:
        raise rejected("Value must be a valid range between 0 and 36,500")
    return number


def _string_list(limit: int, max_len: int) -> BeforeValidator:
    def check(value: object) -> list[str]:
        if not isinstance(value, list) or len(value) > limit or not all(isinstance(v, str) and len(v) <= max_len for v in value):
            raise rejected(f"Value must a valid array no longer than {limit} items and Value must be a valid string and no longer than {max_len} chars")
        return value

    return BeforeValidator(check)


def _interval(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1 or int(value) != value:
        raise rejected("Value must be a valid range between 1 and 525,600")
    if value > 525_600:
        raise rejected("Value must be a valid range between 1 and 525,600")
    return int(value)


def _timeout_max(info: ValidationInfo) -> int:
    return int((info.context or {}).get("timeout_max", 900))


Text128 = Annotated[str, text(128, 0)]
Specification = Annotated[str, BeforeValidator(_specification)]
BranchesOrPaths = Annotated[list[str], _string_list(ARRAY_LIMIT, 255)]


class FunctionSettings(RequestModel):
    """Body params shared by create and update, newest names, in Appwrite's declaration order.

    A spec left None takes the server's default specification; None lists/interval mean "not sent".
    """

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
    providerRepositoryId: Text128 | None = None
    providerBranch: Text128 = ""
    providerSilentMode: Annotated[bool, STRICT_BOOL] = False
    providerRootDirectory: Text128 = ""
    providerBranches: BranchesOrPaths | None = None
    providerPaths: BranchesOrPaths | None = None
    buildSpecification: Specification | None = None
    runtimeSpecification: Specification | None = None
    deploymentRetention: Annotated[int, BeforeValidator(_retention)] = 0
    # Cloud 2.5 (SDK 27.0.0): description, interval in minutes (exclusive with schedule), emailEnabled.
    description: Annotated[str, text(8192, 0)] = ""
    interval: Annotated[int, BeforeValidator(_interval)] | None = None
    emailEnabled: Annotated[bool, STRICT_BOOL] = False


class FunctionUpdate(FunctionSettings):
    pass


class FunctionCreate(FunctionSettings):
    functionId: Annotated[str, BeforeValidator(custom_id)]
    runtime: Annotated[str, BeforeValidator(_runtime)]
    templateRepository: Text128 = ""
    templateOwner: Text128 = ""
    templateRootDirectory: Text128 = ""
    templateVersion: Text128 = ""

    # Appwrite declares functionId first, then the shared settings, templates, specs.
    param_order: ClassVar[tuple[str, ...]] = (
        "functionId", *[f for f in FunctionSettings.model_fields if f not in ("buildSpecification", "runtimeSpecification")],
        "templateRepository", "templateOwner", "templateRootDirectory", "templateVersion", "buildSpecification", "runtimeSpecification",
    )

