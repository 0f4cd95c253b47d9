"""Appwrite 1.5+ JSON queries: read them off the URL, validate them like 1.6.2 does, and run them over dicts.

Appwrite validates `queries[]` before the handler runs (utopia-php/database's query validators) and
then lets MariaDB filter, order and page. We keep the validator's messages, and evaluate the same
semantics in Python over the plain documents of `localserver.store`: filters, then order (ties broken
by insertion order), then cursor, offset and limit. `total` counts filter matches only, capped at 5000.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request

from localserver.errors import AppwriteError, invalid_param

Document = dict[str, Any]

DEFAULT_LIMIT = 25
TOTAL_CAP = 5000
MAX_VALUES = 500
INT_MAX = 9_223_372_036_854_775_807

FILTER_METHODS = {
    "equal", "notEqual", "lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual", "contains",
    "search", "isNull", "isNotNull", "between", "startsWith", "endsWith", "and", "or",
}
KNOWN_METHODS = FILTER_METHODS | {"select", "orderAsc", "orderDesc", "limit", "offset", "cursorAfter", "cursorBefore"}
# Attributes every collection has; order queries may also use the internal sequence.
SYSTEM_ATTRIBUTES: dict[str, type] = {"$id": str, "$createdAt": datetime, "$updatedAt": datetime}
INTERNAL_ID = "$internalId"

_UID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}$")
UID_RULE = "UID must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, and underscore. Can't start with a leading underscore"


@dataclass(frozen=True)
class Query:
    """One parsed query: `values` is always a list (nested queries for `and`/`or`)."""

    method: str
    attribute: str = ""
    values: tuple[Any, ...] = ()


@dataclass
class QuerySet:
    """The validated queries of one list request, grouped by what they do."""

    filters: list[Query] = field(default_factory=list)
    orders: list[tuple[str, bool]] = field(default_factory=list)  # (attribute, descending)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: str | None = None
    cursor_before: bool = False


def queries_from_request(request: Request) -> list[str]:
    """The `queries` array param in URL order, whether sent as `queries[]`, `queries[N]` or repeated `queries`."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    out: list[str] = []
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key == "queries" or key == "queries[]" or re.fullmatch(r"queries\[\d+\]", key):
            out.append(value)
    return out


def _invalid(description: str) -> AppwriteError:
    return invalid_param("queries", description)


def _parse_one(raw: Any) -> Query:
    """Query::parse of utopia-php/database: JSON object with method, attribute, values."""
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise _invalid("Invalid query: Invalid query: Syntax error") from None
    else:
        data = raw
    if not isinstance(data, dict):
        raise _invalid(f"Invalid query: Invalid query. Must be an array, got {_php_type(data)}")
    method = data.get("method", "")
    attribute = data.get("attribute", "")
    values = data.get("values", [])
    if not isinstance(method, str):
        raise _invalid(f"Invalid query: Invalid query method. Must be a string, got {_php_type(method)}")
    if method not in KNOWN_METHODS:
        raise _invalid(f"Invalid query: Invalid query method: {method}")
    if not isinstance(attribute, str):
        raise _invalid(f"Invalid query: Invalid query attribute. Must be a string, got {_php_type(attribute)}")
    if not isinstance(values, list):
        raise _invalid(f"Invalid query: Invalid query values. Must be an array, got {_php_type(values)}")
    if method in ("and", "or"):
        return Query(method, attribute, tuple(_parse_one(item) for item in values))
    return Query(method, attribute, tuple(values))


def _php_type(value: Any) -> str:
    if value is None:
        return "NULL"
    return {bool: "boolean", int: "integer", float: "double", str: "string", list: "array", dict: "array"}.get(type(value), "object")


def _value_ok(kind: type, value: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is datetime:
        if not isinstance(value, str):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if kind is list:  # array of strings
        return isinstance(value, str)
    return isinstance(value, str)


def _check_filter(query: Query, schema: dict[str, type]) -> None:
    method, values = query.method, query.values
    name = method[0].upper() + method[1:]
    if method in ("and", "or"):
        if len(values) < 2:
            raise _invalid(f"Invalid query: {name} queries require at least two queries")
        for inner in values:
            if inner.method not in FILTER_METHODS:
                raise _invalid(f"Invalid query: {name} queries can only contain filter queries")
            _check_filter(inner, schema)
        return
    if method in ("equal", "contains") and not values:
        raise _invalid(f"Invalid query: {name} queries require at least one value.")
    if method == "between" and len(values) != 2:
        raise _invalid(f"Invalid query: {name} queries require exactly two values.")
    if method in ("notEqual", "lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual", "search", "startsWith", "endsWith") and len(values) != 1:
        raise _invalid(f"Invalid query: {name} queries require exactly one value.")
    attribute = query.attribute
    if attribute not in schema:
        raise _invalid(f"Invalid query: Attribute not found in schema: {attribute}")
    if len(values) > MAX_VALUES:
        raise _invalid(f"Invalid query: Query on attribute has greater than {MAX_VALUES} values: {attribute}")
    kind = schema[attribute]
    for value in values:
        if not _value_ok(kind, value):
            raise _invalid(f'Invalid query: Query value is invalid for attribute "{attribute}"')
    is_array = kind is list
    if method == "contains" and not is_array and kind is not str:
        raise _invalid(f'Invalid query: Cannot query contains on attribute "{attribute}" because it is not an array or string.')
    if is_array and method not in ("contains", "isNull", "isNotNull"):
        raise _invalid(f'Invalid query: Cannot query {method} on attribute "{attribute}" because it is an array.')
    if method == "search":
        # Only Appwrite's hidden `search` attribute has a fulltext index; use the `search` param instead.
        raise _invalid(f'Invalid query: Searching by attribute "{attribute}" requires a fulltext index.')


def parse_queries(raw: Sequence[str], attributes: Mapping[str, type], sequence: str = INTERNAL_ID) -> QuerySet:
    """Validate the raw `queries` strings against a collection's queryable attributes.

    `attributes` maps API attribute names to `str`, `int`, `float`, `bool`, `datetime` or `list`
    (array of strings); `$id`, `$createdAt` and `$updatedAt` are always allowed. Any failure is a
    400 general_argument_invalid with the message Appwrite's validator gives. `sequence` is the internal
    order attribute's name: `$internalId` up to 1.7, `$sequence` from 1.8.0.
    """
    schema = {**SYSTEM_ATTRIBUTES, **attributes}
    result = QuerySet()
    seen: set[str] = set()
    for item in raw:
        query = _parse_one(item)
        method = query.method
        if method == "select":
            raise _invalid("Invalid query method: select")
        if method in FILTER_METHODS:
            _check_filter(query, schema)
            result.filters.append(query)
        elif method in ("orderAsc", "orderDesc"):
            attribute = query.attribute
            if attribute and attribute != sequence and attribute not in schema:
                raise _invalid(f"Invalid query: Attribute not found in schema: {attribute}")
            result.orders.append((INTERNAL_ID if attribute in ("", sequence) else attribute, method == "orderDesc"))
        elif method in ("limit", "offset"):
            low = 1 if method == "limit" else 0
            value = query.values[0] if query.values else None
            if isinstance(value, bool) or not isinstance(value, (int, float, str)) or not _is_int_like(value) or not low <= int(value) <= INT_MAX:
                raise _invalid(f"Invalid query: Invalid {method}: Value must be a valid range between {low:,} and {INT_MAX:,}")
            if method not in seen:  # the first of each kind wins
                setattr(result, method, int(value))
        else:  # cursorAfter / cursorBefore
            value = query.values[0] if query.values else None
            if not isinstance(value, str) or not _UID.match(value):
                raise _invalid(f"Invalid query: Invalid cursor: {UID_RULE}")
            if "cursor" not in seen:
                result.cursor = value
                result.cursor_before = method == "cursorBefore"
            seen.add("cursor")
        seen.add(method)
    return result


def _is_int_like(value: int | float | str) -> bool:
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return bool(re.fullmatch(r"-?\d+", value.strip()))


# --- evaluation ------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _compare_key(value: Any) -> tuple[int, Any]:
    """Sort key that puts nulls first (as MariaDB does in ascending order) and never compares across types."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, json.dumps(value, sort_keys=True))


def _matches(doc: Document, query: Query) -> bool:
    method = query.method
    if method == "and":
        return all(_matches(doc, inner) for inner in query.values)
    if method == "or":
        return any(_matches(doc, inner) for inner in query.values)
    value = doc.get(query.attribute)
    values = list(query.values)
    if method == "isNull":
        return value is None
    if method == "isNotNull":
        return value is not None
    if value is None:
        return False
    if method == "contains":
        if isinstance(value, list):
            return any(item in values for item in value)
        return any(isinstance(v, str) and v in str(value) for v in values)
    if method == "equal":
        return any(_compare_key(value) == _compare_key(v) for v in values)
    if method == "notEqual":
        return _compare_key(value) != _compare_key(values[0])
    if method == "startsWith":
        return isinstance(value, str) and value.startswith(str(values[0]))
    if method == "endsWith":
        return isinstance(value, str) and value.endswith(str(values[0]))
    key = _compare_key(value)
    if method == "between":
        low, high = _compare_key(values[0]), _compare_key(values[1])
        return key[0] == low[0] == high[0] and low <= key <= high
    other = _compare_key(values[0])
    if key[0] != other[0]:
        return False
    return {
        "lessThan": key < other,
        "lessThanEqual": key <= other,
        "greaterThan": key > other,
        "greaterThanEqual": key >= other,
    }.get(method, False)


def apply_queries(
    docs: Sequence[Document],
    qs: QuerySet,
    cursor_doc_lookup: Callable[[str], Document | None] | None = None,
) -> tuple[list[Document], int]:
    """Filter, order and page `docs` (given oldest first). Returns (page, total).

    The cursor document is looked up among `docs`, then through `cursor_doc_lookup`; when neither
    knows it, the request fails with 400 general_cursor_not_found.
    """
    position = {id(doc): index for index, doc in enumerate(docs)}
    matched = [doc for doc in docs if all(_matches(doc, q) for q in qs.filters)]
    total = min(len(matched), TOTAL_CAP)

    def sort_values(doc: Document, index: int) -> list[tuple[tuple[int, Any], bool]]:
        keys = [
            ((2, index) if attribute == INTERNAL_ID else _compare_key(doc.get(attribute)), descending)
            for attribute, descending in qs.orders
        ]
        keys.append(((2, index), False))  # ties: insertion order
        return keys

    def compare(left: list[tuple[tuple[int, Any], bool]], right: list[tuple[tuple[int, Any], bool]]) -> int:
        for (a, descending), (b, _) in zip(left, right):
            if a != b:
                result = -1 if a < b else 1
                return -result if descending else result
        return 0

    keyed = [(sort_values(doc, position[id(doc)]), doc) for doc in matched]
    keyed.sort(key=functools.cmp_to_key(lambda x, y: compare(x[0], y[0])))

    if qs.cursor is not None:
        cursor_key = None
        for index, doc in enumerate(docs):
            if doc.get("$id") == qs.cursor:
                cursor_key = sort_values(doc, index)
                break
        if cursor_key is None and cursor_doc_lookup is not None:
            found = cursor_doc_lookup(qs.cursor)
            if found is not None:
                cursor_key = sort_values(found, len(docs))
        if cursor_key is None:
            raise AppwriteError("general_cursor_not_found")
        if qs.cursor_before:
            before = [doc for key, doc in keyed if compare(key, cursor_key) < 0]
            before.reverse()
            page = before[qs.offset : qs.offset + qs.limit]
            page.reverse()
            return page, total
        keyed = [(key, doc) for key, doc in keyed if compare(key, cursor_key) > 0]

    ordered = [doc for _, doc in keyed]
    return ordered[qs.offset : qs.offset + qs.limit], total


# --- search ---------------------------------------------------------------------------------------

_SEARCH_SPECIALS = re.compile(r'[@+\-*()<>~"]')
_WORD = re.compile(r"\w+", re.UNICODE)


def matches_search(text: str, term: str) -> bool:
    """Approximate MariaDB's boolean-mode fulltext match Appwrite runs for the `search` param.

    The term's words are OR-ed, each a prefix of some word of `text`; a term wrapped in double
    quotes must appear as a phrase. Case-insensitive. (MariaDB's stopwords and minimum token
    length are not imitated.)
    """
    tokens = [t.lower() for t in _WORD.findall(text)]
    stripped = term.strip()
    if len(stripped) >= 2 and stripped.startswith('"') and stripped.endswith('"'):
        phrase = [w.lower() for w in _WORD.findall(stripped[1:-1])]
        if not phrase:
            return False
        return any(tokens[i : i + len(phrase)] == phrase for i in range(len(tokens) - len(phrase) + 1))
    words = [w.lower() for w in _WORD.findall(_SEARCH_SPECIALS.sub(" ", term))]
    return any(token.startswith(word) for word in words for token in tokens)


def search_param(value: str | None) -> str | None:
    """Validate the `search` query param (Text(256), min 1): an empty value is a 400."""
    if value is None:
        return None
    if not 1 <= len(value) <= 256:
        raise invalid_param("search", "Value must be a valid string and at least 1 chars and no longer than 256 chars")
    return value
