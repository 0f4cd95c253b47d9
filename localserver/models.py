"""The newest Appwrite models (response field lists in emitted order) and request-param validators.

Stored documents keep public fields under their API names and internal ones under `_`-prefixed
keys, so serialising is "copy the model's fields in order, filling defaults for missing ones".
`public(doc, fields)` is the one helper; the per-model functions just name the field table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from localserver.clock import ID_PATTERN, ID_RULE
from localserver.errors import invalid_param, missing_param
from localserver.versions import shapes

Document = dict[str, Any]
# (field, default) in the order Appwrite emits them.
Fields = Sequence[tuple[str, Any]]


def _fields(model: str) -> Fields:
    return tuple((name, default) for name, _, default in shapes.NEWEST[model])


# The newest models (Cloud 2.5 / SDK 27.0.0); `localserver.versions` lowers them per server and client format.
FUNCTION_FIELDS: Fields = _fields("function")
VARIABLE_FIELDS: Fields = _fields("variable")
DEPLOYMENT_FIELDS: Fields = _fields("deployment")
EXECUTION_FIELDS: Fields = _fields("execution")

BUILD_FIELDS: Fields = (
    ("$id", ""),
    ("deploymentId", ""),
    ("status", ""),
    ("stdout", ""),
    ("stderr", ""),
    ("startTime", ""),
    ("endTime", ""),
    ("duration", 0),
    ("size", 0),
)

RUNTIME_FIELDS: Fields = (
    ("$id", ""), ("key", ""), ("name", ""), ("version", ""), ("base", ""), ("image", ""), ("logo", ""), ("supports", []),
)

SPECIFICATION_FIELDS: Fields = (("memory", 0), ("cpus", 0.0), ("enabled", True), ("slug", ""))


def public(doc: Mapping[str, Any], fields: Fields, **overrides: Any) -> Document:
    """The model's fields of `doc` in model order; missing ones get the model default, `_` keys never leak.

    `overrides` replace values computed at read time (e.g. a deployment's build `status`).
    """
    out: Document = {}
    for name, default in fields:
        if name in overrides:
            out[name] = overrides[name]
        elif name in doc and doc[name] is not None:
            out[name] = doc[name]
        else:
            out[name] = list(default) if isinstance(default, list) else default
    return out


def defaults(fields: Fields) -> Document:
    """A document holding every field's default (handy as the base of a new stored document)."""
    return public({}, fields)


def variable_model(doc: Mapping[str, Any]) -> Document:
    """A secret variable never shows its value (the stored flag is `_secret`)."""
    secret = bool(doc.get("_secret"))
    return public(doc, VARIABLE_FIELDS, secret=secret, **({"value": ""} if secret else {}))


def function_model(
    doc: Mapping[str, Any], variables: Iterable[Mapping[str, Any]], deployments: Sequence[Mapping[str, Any]] = (), status_of: Callable[[Mapping[str, Any]], str] | None = None
) -> Document:
    """Function with its variables embedded (up to 1000, creation order) and its active/latest deployment.

    Stored names stay those of 1.6 (`deployment`, `specification` = the runtime spec) so the builder and
    runtime read them unchanged; the model shows the newest names.
    """
    active = next((d for d in deployments if d["$id"] == doc.get("deployment")), None)
    latest = deployments[-1] if deployments else None
    return public(
        doc,
        FUNCTION_FIELDS,
        vars=[variable_model(v) for v in list(variables)[:1000]],
        deploymentId=doc.get("deployment") or "",
        deploymentCreatedAt=active["$createdAt"] if active else "",
        latestDeploymentId=latest["$id"] if latest else "",
        latestDeploymentCreatedAt=latest["$createdAt"] if latest else "",
        latestDeploymentStatus=(status_of(latest) if status_of else "waiting") if latest else "",
        buildSpecification=doc.get("buildSpecification") or doc.get("specification") or "",
        runtimeSpecification=doc.get("specification") or "",
    )


def deployment_model(doc: Mapping[str, Any], **overrides: Any) -> Document:
    """Stored `size` is the source size; `totalSize` adds the build's."""
    values = {"sourceSize": doc.get("size", 0), **overrides}
    values.setdefault("totalSize", (values.get("sourceSize") or 0) + (values.get("buildSize") or doc.get("buildSize") or 0))
    return public(doc, DEPLOYMENT_FIELDS, **values)


def build_model(doc: Mapping[str, Any], **overrides: Any) -> Document:
    return public(doc, BUILD_FIELDS, **overrides)


def execution_model(doc: Mapping[str, Any], **overrides: Any) -> Document:
    """Stored `functionId` is the newest `resourceId`."""
    return public(doc, EXECUTION_FIELDS, **{"resourceId": doc.get("functionId") or doc.get("resourceId") or "", **overrides})


# The official SDKs read Content-Type on every response, 204s included, and parse JSON only when it
# says so; Appwrite (PHP) answers its empty 204s as text/html. Use as `response_headers=` on 204 routes.
NO_CONTENT_HEADERS = {"Content-Type": "text/html; charset=UTF-8"}


def list_envelope(plural: str, items: list[Document], total: int) -> Document:
    """`{"total": n, "<plural>": [...]}` with `total` first, as every 1.6 list endpoint returns."""
    return {"total": total, plural: items}


# --- request parameters ---------------------------------------------------------------------------
# Appwrite validates each declared param in order with a utopia validator and reports the first
# failure as ``Invalid `<param>` param: <validator description>``. The annotated types below carry
# those descriptions, so a pydantic model of a request body reproduces Appwrite's messages.


UID_RULE = "UID must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, and underscore. Can't start with a leading underscore"
BOOLEAN_RULE = "Value must be a valid boolean"


def rejected(description: str) -> PydanticCustomError:
    """A validation failure whose message is exactly Appwrite's validator description."""
    return PydanticCustomError("appwrite", description.replace("{", "{{").replace("}", "}}"))


def text_description(max_len: int, min_len: int = 1) -> str:
    """utopia's Text validator description."""
    message = "Value must be a valid string"
    if min_len:
        message += f" and at least {min_len} chars"
    if max_len:
        message += f" and no longer than {max_len} chars"
    return message


def text(max_len: int, min_len: int = 1) -> BeforeValidator:
    """Text(max, min): a string of min..max characters."""

    def check(value: object) -> str:
        if not isinstance(value, str) or not min_len <= len(value) <= max_len:
            raise rejected(text_description(max_len, min_len))
        return value

    return BeforeValidator(check)


def _strict_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise rejected(BOOLEAN_RULE)
    return value


def _loose_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "1", 1):
        return True
    if value in ("false", "0", 0):
        return False
    raise rejected(BOOLEAN_RULE)


STRICT_BOOL = BeforeValidator(_strict_bool)
LOOSE_BOOL = BeforeValidator(_loose_bool)


def int_range(low: int, high: Callable[[ValidationInfo], int] | int) -> BeforeValidator:
    """Range(low, high) on integers; numeric strings count, as PHP's is_numeric lets them."""

    def check(value: object, info: ValidationInfo) -> int:
        top = high(info) if callable(high) else high
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+", value):
            number = int(value)
        if number is None or not low <= number <= top:
            raise rejected(f"Value must be a valid range between {low:,} and {top:,}")
        return number

    return BeforeValidator(check)


def custom_id(value: object) -> str:
    """CustomId: `unique()` or an ID by the UID rule."""
    if isinstance(value, str) and (value == "unique()" or ID_PATTERN.match(value)):
        return value
    raise rejected(ID_RULE)


def parse_body(model: type[BaseModel], data: object, context: dict[str, object] | None = None) -> BaseModel:
    """Validate a JSON body like Appwrite: explicit nulls count as omitted, first failing param wins."""
    body = {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else {}
    try:
        return model.model_validate(body, context=context or {})
    except ValidationError as exc:
        order = list(getattr(model, "param_order", ())) or list(model.model_fields)
        errors = exc.errors(include_url=False)
        first = min(errors, key=lambda e: order.index(str(e["loc"][0])) if e["loc"] and str(e["loc"][0]) in order else len(order))
        param = str(first["loc"][0]) if first["loc"] else "body"
        if first["type"] == "missing":
            raise missing_param(_alias(model, param)) from None
        raise invalid_param(_alias(model, param), first["msg"]) from None


def _alias(model: type[BaseModel], name: str) -> str:
    field = model.model_fields.get(name)
    return (field.alias if field and field.alias else name)


def check_path_id(param: str, value: str) -> str:
    """Path IDs (functionId, deploymentId, ...) use the UID validator: a bad one is a 400, not a 404."""
    if not ID_PATTERN.match(value):
        raise invalid_param(param, UID_RULE)
    return value


class RequestModel(BaseModel):
    """Base of request bodies: unknown params are ignored, as Appwrite only reads declared ones.

    Set `param_order` when inheritance puts fields in another order than Appwrite declares them:
    the first failing param in that order is the one reported.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)
    param_order: ClassVar[tuple[str, ...]] = ()

