"""Appwrite 1.6's field rules, checked offline so a bad manifest fails before any request is made.

Each check takes one value and returns an error message, or None when the value is fine. Messages mimic
Appwrite's wording where it has one, suggest the closest valid spelling, and never repeat the value itself
(it may have been interpolated from a secret). `check_against_server` does the checks that need the
server's lists (runtimes, specifications); the planner calls it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from croniter import CroniterBadDateError, croniter

from syncer.manifest.errors import ManifestIssue, display_path
from syncer.client.capabilities import Capabilities
from syncer.manifest.models import FunctionSpec, Manifest
from syncer.reserved import is_reserved

Check = Callable[[str], str | None]

ID_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}")
ID_RULE = (
    "must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and underscore. "
    "Can't start with a special char"
)
RESERVED_FUNCTION_IDS = {"runtimes", "specifications"}  # literal routes under /v1/functions/
MAX_TIMEOUT = 900  # Appwrite's default _APP_FUNCTIONS_TIMEOUT
MAX_ARRAY = 100  # APP_LIMIT_ARRAY_PARAMS_SIZE
CRON_LOOKAHEAD_YEARS = 10  # a schedule with no run in this window "can never fire" (Feb 29 repeats within 8)
CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_CRON_NAMES = re.compile(r"JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT", re.IGNORECASE)
_CRON_CHARS = re.compile(r"[0-9*,/\-LW#?]+")

SCOPES = tuple(
    ["sessions.write", "locale.read", "avatars.read", "health.read", "assistant.read"]
    + [
        f"{area}.{mode}"
        for area in (
            "users", "teams", "databases", "collections", "attributes", "indexes", "documents", "files", "buckets",
            "functions", "execution", "providers", "messages", "topics", "subscribers", "targets", "rules",
            "migrations", "vcs",
        )
        for mode in ("read", "write")
    ]
)  # fmt: skip


def suggest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _runtime_parts(runtime: str) -> tuple[str, tuple[int, ...]] | None:
    """`python-ml-3.11` -> ("python-ml", (3, 11)); None when there is no numeric version at the end."""
    family, _, version = runtime.rpartition("-")
    if not family or not re.fullmatch(r"\d+(\.\d+)*", version):
        return None
    return family, tuple(int(part) for part in version.split("."))


def _version_distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """How far apart two versions are, major first (`22` and `22.0` are the same version)."""
    (a_major, a_minor), (b_major, b_minor) = (a + (0, 0))[:2], (b + (0, 0))[:2]
    return abs((a_major - b_major) * 1000 + a_minor - b_minor)


def suggest_runtime(runtime: str, offered: Iterable[str]) -> str:
    """` (did you mean 'node-20.0'?)`: the same family's nearest version (`node-20` -> node-20.0, `node-22.0` ->
    node-22, whose ids Appwrite spells differently per release), else the closest spelling."""
    choices = list(offered)
    wanted = _runtime_parts(runtime)
    if wanted is not None:
        family, version = wanted
        same_family = [(c, p[1]) for c in choices if (p := _runtime_parts(c)) is not None and p[0] == family]
        if same_family:
            best = min(same_family, key=lambda item: (_version_distance(item[1], version), item[0]))
            return f" (did you mean {best[0]!r}?)"
    return suggest(runtime, choices)


# --- identifiers, names, numbers -------------------------------------------------------------------


def appwrite_id(value: str) -> str | None:
    return None if ID_PATTERN.fullmatch(value) else f"invalid ID: it {ID_RULE}"


def function_id(value: str) -> str | None:
    if value == "unique()":
        return "`unique()` asks Appwrite to invent an ID; a manifest needs a fixed function ID to track the function"
    if value in RESERVED_FUNCTION_IDS:
        return f"{value!r} can't be a function ID: GET /v1/functions/{value} is another Appwrite route"
    if is_reserved(value):
        return (
            f"{value!r} can't be a function ID: fnsync reserves it for its project lock "
            "(a disabled function it creates on the server; see docs/plan-apply.md, Locking)"
        )
    return appwrite_id(value)


def name(value: str) -> str | None:
    return None if 1 <= len(value) <= 128 else "must be 1 to 128 characters"


def timeout(value: int) -> str | None:
    return None if 1 <= value <= MAX_TIMEOUT else f"must be between 1 and {MAX_TIMEOUT} seconds"


def max_length(limit: int) -> Check:
    def check(value: str) -> str | None:
        return None if len(value) <= limit else f"must be at most {limit} characters (is {len(value)})"

    return check


MAX_RETENTION_DAYS = 36500


def retention(value: int) -> str | None:
    return None if 0 <= value <= MAX_RETENTION_DAYS else f"must be between 0 and {MAX_RETENTION_DAYS} days (0 keeps every deployment)"


def interval(value: int) -> str | None:
    return None if value >= 1 else "must be a whole number of minutes, at least 1"


def variable_key(value: str) -> str | None:
    return None if 1 <= len(value) <= 255 else "a variable key must be 1 to 255 characters"


def endpoint(value: str) -> str | None:
    return None if re.match(r"https?://[^/\s]", value) else "must be an http:// or https:// URL, e.g. https://cloud.appwrite.io/v1"


def not_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


# --- schedules ------------------------------------------------------------------------------------


CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _cron_range_problem(item: str, bounds: tuple[int, int]) -> str:
    """Why a number of one cron field is out of its range ("" when none is); steps (`/15`) are not values."""
    low, high = bounds
    for part in item.split(","):
        base, _, step = part.partition("/")
        if step.isdigit() and int(step) == 0:
            return "has a step of 0"
        for number in re.findall(r"\d+", base):
            if not low <= int(number) <= high:
                return f"has {number}, outside {low}-{high}"
    return ""


def cron(value: str) -> str | None:
    """Appwrite's cron dialect (5 fields or an @alias), parsed by croniter, and able to fire at least once."""
    text = value.strip()
    if not text:
        return None  # "" means no schedule
    if text.startswith("@"):
        if text.lower() in CRON_ALIASES:
            return None
        return f"unknown schedule alias{suggest(text.lower(), CRON_ALIASES)}; use one of {', '.join(CRON_ALIASES)}"
    fields = text.split()
    if len(fields) != 5:
        hint = " (a seconds field is not supported)" if len(fields) == 6 else ""
        return f"a schedule needs exactly 5 fields: minute hour day-of-month month day-of-week, or an @alias; found {len(fields)}{hint}"
    for index, item in enumerate(fields):
        if not _CRON_CHARS.fullmatch(_CRON_NAMES.sub("0", item)):
            return f"the {CRON_FIELDS[index]} field has characters Appwrite's cron parser doesn't accept"
        if "?" in item and index not in (2, 4):
            return f"`?` is only allowed in the day-of-month and day-of-week fields, not in {CRON_FIELDS[index]}"
    if "?" in fields[2] and "?" in fields[4]:
        return "`?` can't be used in both day-of-month and day-of-week"
    for index, item in enumerate(fields):
        problem = _cron_range_problem(item, CRON_RANGES[index])
        if problem:
            return f"not a valid cron expression: the {CRON_FIELDS[index]} field ({item}) {problem}"
    try:
        croniter(text, datetime.now(timezone.utc), max_years_between_matches=CRON_LOOKAHEAD_YEARS).get_next(datetime)
    except CroniterBadDateError:
        return f"this schedule can never fire (no matching time in the next {CRON_LOOKAHEAD_YEARS} years)"
    except Exception as exc:  # noqa: BLE001 - croniter raises assorted errors for arbitrary text; all mean "invalid"
        reason = re.sub(r"^\[.*?\]\s*", "", str(exc).splitlines()[0] if str(exc) else "").strip()
        return "not a valid cron expression" + (f" ({reason})" if reason and text.lower() not in reason.lower() else "")
    return None


# --- events ----------------------------------------------------------------------------------------


def _actions(*names: str) -> dict[str, Any]:
    return {name: {} for name in names}


def _resource(children: dict[str, Any]) -> dict[str, Any]:
    return {"$resource": True, **children}


_CUD = _actions("create", "update", "delete")

# Appwrite 1.6's config/events.php, reduced to names: `$resource` nodes take an ID after their name.
EVENTS: dict[str, dict[str, Any]] = {
    "users": _resource({
        "sessions": _resource(_actions("create", "delete")),
        "recovery": _resource(_actions("create", "update")),
        "verification": _resource(_actions("create", "update")),
        "targets": _resource(_CUD),
        "tokens": _resource(_actions("create")),
        "create": {},
        "delete": {},
        "update": _actions("email", "name", "password", "status", "prefs"),
    }),
    "databases": _resource({
        "collections": _resource({
            "documents": _resource(_CUD),
            "indexes": _resource(_actions("create", "delete")),
            "attributes": _resource(_actions("create", "delete")),
            **_CUD,
        }),
        **_CUD,
    }),
    "buckets": _resource({"files": _resource(_CUD), **_CUD}),
    "teams": _resource({
        "memberships": _resource({"create": {}, "delete": {}, "update": _actions("status")}),
        "create": {},
        "delete": {},
        "update": _actions("prefs"),
    }),
    "functions": _resource({"deployments": _resource(_CUD), "executions": _resource(_CUD), **_CUD}),
    "messages": _resource(_actions("create", "update")),
    "topics": _resource({"subscribers": _resource(_actions("create", "delete")), **_CUD}),
    "providers": _resource(_CUD),
    "rules": _resource(_CUD),
}  # fmt: skip


def _children(node: dict[str, Any]) -> list[str]:
    return [key for key in node if not key.startswith("$")]


def _patterns(prefix: str, node: dict[str, Any]) -> Iterable[str]:
    """Every event pattern with `*` for IDs, for did-you-mean suggestions."""
    yield prefix
    for child in _children(node):
        if node[child].get("$resource"):
            yield from _patterns(f"{prefix}.{child}.*", node[child])
        else:
            yield f"{prefix}.{child}"
            for attribute in _children(node[child]):
                yield f"{prefix}.{child}.{attribute}"


EVENT_PATTERNS = tuple(pattern for kind, node in EVENTS.items() for pattern in _patterns(f"{kind}.*", node))


def event(value: str) -> str | None:
    """`type.id[.sub.id[.subsub.id]][.action[.attribute]]`, as Appwrite's Event validator walks it."""
    if value.startswith("functions."):
        return "Triggering a function on a function event is not allowed."
    parts = value.split(".")
    if not 2 <= len(parts) <= 7:
        return f"an event has 2 to 7 dot-separated parts, e.g. users.*.create; found {len(parts)}{suggest(value, EVENT_PATTERNS)}"
    if any(not part for part in parts):
        return "an event can't have empty parts (use `*` for any ID)"
    kind = parts[0]
    if kind not in EVENTS:
        return f"unknown event type{suggest(kind, EVENTS)}; must be one of {', '.join(EVENTS)}"
    node, index = EVENTS[kind], 2
    while index + 1 < len(parts) and node.get(parts[index], {}).get("$resource"):
        node, index = node[parts[index]], index + 2
    rest = parts[index:]
    known = _children(node)
    if not rest or (len(rest) == 1 and rest[0] in known):
        return None
    if len(rest) == 2 and rest[0] in known and rest[1] in _children(node[rest[0]]):
        return None
    return f"not an Appwrite event{suggest(value, EVENT_PATTERNS)}; e.g. users.*.create, buckets.*.files.*.delete"


# --- execute roles -----------------------------------------------------------------------------------

_ROLE_KINDS = ("any", "guests", "users", "user", "team", "member", "label")
_USER_DIMENSIONS = ("verified", "unverified")
# kind -> (identifier: "no" | "required", dimension options: None = not allowed, () = any valid key)
_ROLE_CONFIG: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "any": ("no", None),
    "guests": ("no", None),
    "users": ("no", _USER_DIMENSIONS),
    "user": ("required", _USER_DIMENSIONS),
    "team": ("required", ()),
    "member": ("required", None),
    "label": ("required", None),
}
_LABEL = re.compile(r"[a-zA-Z0-9]{1,36}")


def role(value: str) -> str | None:
    """utopia-php/database's Roles validator (as used for `execute`), with its messages."""
    if value == "*":
        return 'Wildcard role "*" has been replaced. Use "any" instead.'
    if "role:" in value:
        return 'Roles using the "role:" prefix have been removed. Use "users", "guests", or "any" instead.'
    kind, _, rest = value.partition(":")
    has_identifier = ":" in value
    identifier, dimension = rest, ""
    if "/" in value:
        head, *dimensions = (rest if has_identifier else value).split("/")
        if len(dimensions) != 1:
            return "Only one dimension can be provided."
        dimension = dimensions[0]
        if not dimension:
            return "Dimension must not be empty."
        if has_identifier:
            identifier = head
        else:
            kind = head
    if kind not in _ROLE_CONFIG:
        return f"unknown role{suggest(kind, _ROLE_KINDS)}. Must be one of: {', '.join(_ROLE_KINDS)}."
    identifier_rule, dimensions_allowed = _ROLE_CONFIG[kind]
    if identifier_rule == "no" and identifier:
        return f'Role "{kind}" can not have an ID value.'
    if identifier_rule == "required" and not identifier:
        return f'Role "{kind}" must have an ID value.'
    if identifier:
        if kind == "label" and not _LABEL.fullmatch(identifier):
            return 'Role "label" identifier value is invalid: it must be 1 to 36 alphanumeric chars'
        if kind != "label" and not ID_PATTERN.fullmatch(identifier):
            return f'Role "{kind}" identifier value is invalid: it {ID_RULE}'
    if dimension:
        if dimensions_allowed is None:
            return f'Role "{kind}" can not have a dimension value.'
        if dimensions_allowed and dimension not in dimensions_allowed:
            return f'Role "{kind}" dimension value is invalid. Must be one of: {", ".join(dimensions_allowed)}.'
        if not ID_PATTERN.fullmatch(dimension):
            return f'Role "{kind}" dimension value is invalid: it {ID_RULE}'
    return None


# --- scopes ------------------------------------------------------------------------------------------


def scope(value: str) -> str | None:
    if value in SCOPES:
        return None
    return f"not an Appwrite 1.6 API key scope{suggest(value, SCOPES)}"


# --- checks against the server's lists -----------------------------------------------------------------


def check_against_server(
    manifest: Manifest,
    runtimes: Iterable[str],
    specifications: Iterable[str],
    capabilities: Capabilities | None = None,
) -> list[ManifestIssue]:
    """Runtime and specification must be offered by this server, and every field the manifest sets must exist on
    it (`capabilities`: the connected server's). An empty list from the server skips that check."""
    offered_runtimes, offered_specs = list(runtimes), list(specifications)
    file = display_path(manifest.source)
    issues: list[ManifestIssue] = []
    for spec in manifest.functions.values():
        wanted: list[tuple[str, str | None, list[str]]] = [
            ("runtime", spec.runtime, offered_runtimes),
            ("specification", spec.specification, offered_specs),
            ("buildSpecification", spec.build_specification, offered_specs),
            ("runtimeSpecification", spec.runtime_specification, offered_specs),
        ]
        for field, value, offered in wanted:
            if value is None or not offered or value in offered:
                continue
            issues.append(
                ManifestIssue(
                    file=file,
                    line=spec.lines.get(field, spec.line),
                    field=f"functions.{spec.id}.{field}",
                    message=f"{field} {value!r} is not offered by the server"
                    + (suggest_runtime(value, offered) if field == "runtime" else suggest(value, offered)),
                )
            )
        if capabilities is not None:
            issues.extend(
                ManifestIssue(
                    file=file,
                    line=spec.lines.get(field, spec.line),
                    field=f"functions.{spec.id}.{field}",
                    message=f"`{field}` needs Appwrite {since} or newer; the server runs {capabilities.server}"
                    " (remove it, or point fnsync at a newer server)",
                )
                for field, since in unsupported_fields(spec, capabilities)
            )
    return issues


def unsupported_fields(spec: FunctionSpec, capabilities: Capabilities) -> list[tuple[str, str]]:
    """(manifest field, version that introduced it) for each field `spec` sets that the server does not have."""
    git = spec.git
    settings = {  # manifest field -> (value, Appwrite setting)
        "buildSpecification": (spec.build_specification, "buildSpecification"),
        "runtimeSpecification": (spec.runtime_specification, "runtimeSpecification"),
        "deploymentRetention": (spec.deployment_retention, "deploymentRetention"),
        "description": (spec.description, "description"),
        "interval": (spec.interval, "interval"),
        "git.branches": (git.branches if git else None, "providerBranches"),
        "git.paths": (git.paths if git else None, "providerPaths"),
    }
    found = [
        (field, capabilities.since(setting))
        for field, (value, setting) in settings.items()
        if value is not None and not capabilities.has_setting(setting)
    ]
    for key, variable in spec.variables.items():
        if variable.secret and not capabilities.secret_variables:
            found.append((f"variables.{key}.secret", capabilities.since("secret")))
        if variable.description is not None and not capabilities.variable_descriptions:
            found.append((f"variables.{key}.description", capabilities.since("description")))
    return found
