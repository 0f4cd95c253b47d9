"""Appwrite list queries: each one a compact JSON string, sent as repeated `queries[]` parameters (§3)."""

from __future__ import annotations

import json
from typing import Any

PAGING_METHODS = frozenset({"limit", "offset", "cursorAfter", "cursorBefore"})


def _q(method: str, attribute: str | None = None, values: list[Any] | None = None) -> str:
    data: dict[str, Any] = {"method": method}
    if attribute is not None:
        data["attribute"] = attribute
    if values is not None:
        data["values"] = values
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _listify(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


class Query:
    """Builders matching the official SDK's `Query` output byte for byte."""

    @staticmethod
    def equal(attribute: str, value: Any) -> str:
        return _q("equal", attribute, _listify(value))

    @staticmethod
    def not_equal(attribute: str, value: Any) -> str:
        return _q("notEqual", attribute, _listify(value))

    @staticmethod
    def less_than(attribute: str, value: Any) -> str:
        return _q("lessThan", attribute, _listify(value))

    @staticmethod
    def greater_than(attribute: str, value: Any) -> str:
        return _q("greaterThan", attribute, _listify(value))

    @staticmethod
    def starts_with(attribute: str, value: str) -> str:
        return _q("startsWith", attribute, [value])

    @staticmethod
    def is_null(attribute: str) -> str:
        return _q("isNull", attribute)

    @staticmethod
    def between(attribute: str, start: Any, end: Any) -> str:
        return _q("between", attribute, [start, end])

    @staticmethod
    def order_asc(attribute: str) -> str:
        return _q("orderAsc", attribute)

    @staticmethod
    def order_desc(attribute: str) -> str:
        return _q("orderDesc", attribute)

    @staticmethod
    def limit(count: int) -> str:
        return _q("limit", values=[count])

    @staticmethod
    def offset(count: int) -> str:
        return _q("offset", values=[count])

    @staticmethod
    def cursor_after(document_id: str) -> str:
        return _q("cursorAfter", values=[document_id])

    @staticmethod
    def cursor_before(document_id: str) -> str:
        return _q("cursorBefore", values=[document_id])

    # camelCase aliases, as written in Appwrite's docs
    notEqual = not_equal
    lessThan = less_than
    greaterThan = greater_than
    startsWith = starts_with
    isNull = is_null
    orderAsc = order_asc
    orderDesc = order_desc
    cursorAfter = cursor_after
    cursorBefore = cursor_before


def query_method(query: str) -> str:
    """The `method` of one encoded query ("" if it does not parse)."""
    try:
        data = json.loads(query)
    except ValueError:
        return ""
    return str(data.get("method", "")) if isinstance(data, dict) else ""


def has_paging(queries: tuple[str, ...] | list[str]) -> bool:
    """True when the caller already chose a page (limit/offset/cursor), so the client must not page for them."""
    return any(query_method(q) in PAGING_METHODS for q in queries)


def query_attribute(query: str) -> str:
    """The `attribute` of one encoded query ("" for paging queries, or if it does not parse)."""
    try:
        data = json.loads(query)
    except ValueError:
        return ""
    return str(data.get("attribute", "") or "") if isinstance(data, dict) else ""
