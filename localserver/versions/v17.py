"""V17: clients older than format 1.5.0 (the 1.4 SDKs): their string queries (`equal("name", ["a"])`, `limit(25)`)
become the JSON queries of 1.5+ on the list routes (appwrite/appwrite@1.9.6 src/Appwrite/Utopia/Request/Filters/V17.php
`convertOldQueries`). A query it cannot read is 400 `general_query_invalid`. No function response changes.
"""

from __future__ import annotations

import json
from typing import Any

from localserver.errors import AppwriteError
from localserver.versions.base import Filter, Params

LIST_METHODS = ("functions.list", "functions.listDeployments", "functions.listExecutions")
# Methods whose only param is a value, not an attribute.
_VALUE_ONLY = ("limit", "offset", "cursorAfter", "cursorBefore")
_ATTRIBUTE_ONLY = ("orderAsc", "orderDesc", "isNull", "isNotNull")


class V17(Filter):
    name = "V17"
    threshold = "1.5.0"

    def request(self, method: str, params: Params, server: str) -> Params:
        if method not in LIST_METHODS or not isinstance(params.get("queries"), list):
            return params
        return {**params, "queries": [json.dumps(old_query(str(query)), separators=(",", ":")) for query in params["queries"]]}


def old_query(text: str) -> dict[str, Any]:
    """`method(param, ...)` with JSON params -> {method, attribute, values}, empty parts left out (PHP array_filter)."""
    start = text.find("(")
    if start <= 0 or not text.endswith(")") or "." in text[:start]:
        raise AppwriteError("general_query_invalid", "Invalid query")
    method = text[:start]
    try:
        args = json.loads(f"[{text[start + 1:-1]}]")
    except ValueError:
        raise AppwriteError("general_query_invalid", f"Invalid query: {text}") from None
    if method in _VALUE_ONLY:
        attribute, values = "", args[:1]
    elif method in _ATTRIBUTE_ONLY:
        attribute, values = (args[0] if args else ""), []
    elif method == "select":
        attribute, values = "", (args[0] if args and isinstance(args[0], list) else args)
    elif method == "between":
        attribute, values = (args[0] if args else ""), args[1:3]
    else:
        attribute = args[0] if args else ""
        rest = args[1] if len(args) > 1 else []
        values = rest if isinstance(rest, list) else [rest]
    query: dict[str, Any] = {"method": method}
    if attribute:
        query["attribute"] = attribute
    if values:
        query["values"] = values
    return query
