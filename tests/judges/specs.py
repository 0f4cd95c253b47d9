"""Check a JSON reply against an official Appwrite OpenAPI spec's response schema (the SDKs 7.1.0 and 13.6.1
return plain dicts, so their replies are judged by the spec of the version they target)."""

from __future__ import annotations

from functools import cache
from typing import Any

from tests.helpers import SPEC_16, SPEC_18, openapi_spec

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,), "object": (dict,),
}
SPECS = {"1.6": SPEC_16, "1.8": SPEC_18}


@cache
def schemas(spec: str) -> dict[str, Any]:
    return openapi_spec(SPECS[spec])["components"]["schemas"]


def check(value: Any, name: str, spec: str, where: str = "") -> None:
    """Required properties present, nothing undeclared, each of its JSON type and enum."""
    _check(value, schemas(spec)[name], spec, where or name)


def _check(value: Any, schema: dict[str, Any], spec: str, where: str) -> None:
    if "$ref" in schema:
        schema = schemas(spec)[schema["$ref"].rsplit("/", 1)[1]]
    if "properties" in schema:
        assert isinstance(value, dict), where
        required = set(schema.get("required", schema["properties"]))
        assert required <= set(value) <= set(schema["properties"]), f"{where}: {sorted(set(value) ^ required)}"
        for key, prop in schema["properties"].items():
            if key in value:
                _check(value[key], prop, spec, f"{where}.{key}")
        return
    kind = schema.get("type")
    if kind is None or (value is None and schema.get("nullable")):
        return
    assert isinstance(value, JSON_TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool)), f"{where}: {value!r}"
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], spec, f"{where}[{index}]")
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
