"""Query parsing/evaluation units, plus the three URL encodings of `queries` over HTTP."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from appwrite.query import Query

from localserver.errors import AppwriteError
from localserver.queries import apply_queries, matches_search, parse_queries
from tests.conftest import LocalServer
from tests.localserver.support import api_client

SCHEMA: dict[str, type] = {"name": str, "timeout": int, "enabled": bool, "tags": list}
DOCS: list[dict[str, Any]] = [
    {"$id": "a", "name": "alpha", "timeout": 10, "enabled": True, "tags": ["x"], "$createdAt": "2024-01-01T00:00:00.000+00:00"},
    {"$id": "b", "name": "beta", "timeout": 30, "enabled": False, "tags": ["y"], "$createdAt": "2024-01-02T00:00:00.000+00:00"},
    {"$id": "c", "name": "gamma", "timeout": 20, "enabled": True, "tags": ["x", "y"], "$createdAt": "2024-01-03T00:00:00.000+00:00"},
    {"$id": "d", "name": "alphabet", "timeout": 20, "enabled": True, "tags": [], "$createdAt": "2024-01-04T00:00:00.000+00:00"},
]


def ids(queries: list[str]) -> list[str]:
    page, _ = apply_queries(DOCS, parse_queries(queries, SCHEMA))
    return [doc["$id"] for doc in page]


@pytest.mark.parametrize(
    ("queries", "expected"),
    [
        ([], ["a", "b", "c", "d"]),
        ([Query.equal("name", ["alpha", "gamma"])], ["a", "c"]),
        ([Query.not_equal("name", "alpha")], ["b", "c", "d"]),
        ([Query.less_than("timeout", 20)], ["a"]),
        ([Query.less_than_equal("timeout", 20)], ["a", "c", "d"]),
        ([Query.greater_than_equal("timeout", 20)], ["b", "c", "d"]),
        ([Query.between("timeout", 15, 25)], ["c", "d"]),
        ([Query.starts_with("name", "alpha")], ["a", "d"]),
        ([Query.ends_with("name", "ta")], ["b"]),
        ([Query.contains("name", "lph")], ["a", "d"]),
        ([Query.contains("tags", "y")], ["b", "c"]),
        ([Query.equal("enabled", False)], ["b"]),
        ([Query.or_queries([Query.equal("name", "beta"), Query.equal("timeout", 10)])], ["a", "b"]),
        ([Query.and_queries([Query.equal("timeout", 20), Query.starts_with("name", "g")])], ["c"]),
        ([Query.greater_than("$createdAt", "2024-01-02T12:00:00.000+00:00")], ["c", "d"]),
        ([Query.order_desc("timeout")], ["b", "c", "d", "a"]),  # ties keep insertion order
        ([Query.order_asc("timeout"), Query.order_desc("name")], ["a", "c", "d", "b"]),
        ([Query.order_desc("$id"), Query.limit(2)], ["d", "c"]),
        ([Query.limit(1), Query.limit(3)], ["a"]),  # the first limit wins
        ([Query.order_asc("timeout"), Query.cursor_after("c")], ["d", "b"]),
        ([Query.order_asc("timeout"), Query.cursor_before("b"), Query.limit(2)], ["c", "d"]),
        ([Query.cursor_after("a"), Query.offset(1), Query.limit(1)], ["c"]),
    ],
)
def test_evaluation(queries: list[str], expected: list[str]) -> None:
    assert ids(queries) == expected


def test_total_ignores_paging_and_is_capped() -> None:
    _, total = apply_queries(DOCS, parse_queries([Query.limit(1), Query.offset(1), Query.equal("enabled", True)], SCHEMA))
    assert total == 3
    many = [{"$id": f"d{i}"} for i in range(5005)]
    page, total = apply_queries(many, parse_queries([], {}))
    assert total == 5000 and len(page) == 25


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (Query.equal("missing", "x"), "Invalid `queries` param: Invalid query: Attribute not found in schema: missing"),
        (Query.equal("timeout", "10"), 'Invalid query: Query value is invalid for attribute "timeout"'),
        (Query.equal("enabled", 1), 'Query value is invalid for attribute "enabled"'),
        (Query.greater_than("tags", "x"), 'Cannot query greaterThan on attribute "tags" because it is an array.'),
        (Query.contains("timeout", 1), 'Cannot query contains on attribute "timeout" because it is not an array or string.'),
        (Query.select(["name"]), "Invalid `queries` param: Invalid query method: select"),
        (Query.search("name", "x"), "requires a fulltext index"),
        (Query.order_asc("nope"), "Attribute not found in schema: nope"),
        (Query.limit(0), "Invalid limit"),
        (Query.offset(-3), "Invalid offset"),
        (Query.cursor_after("_x"), "Invalid cursor"),
        (Query.or_queries([Query.equal("name", "a")]), "Or queries require at least two queries"),
        (json.dumps({"method": "equal", "attribute": "name", "values": []}), "Equal queries require at least one value."),
        (json.dumps([1]), "Invalid query"),
        ("nonsense", "Invalid query"),
    ],
)
def test_validation_errors(query: str, message: str) -> None:
    with pytest.raises(AppwriteError) as info:
        parse_queries([query], SCHEMA)
    assert info.value.type == "general_argument_invalid" and info.value.code == 400
    assert message in info.value.message


def test_unknown_cursor() -> None:
    with pytest.raises(AppwriteError) as info:
        apply_queries(DOCS, parse_queries([Query.cursor_after("zz")], SCHEMA))
    assert info.value.type == "general_cursor_not_found"
    page, _ = apply_queries(DOCS, parse_queries([Query.cursor_after("zz")], SCHEMA), lambda cid: {"$id": cid})
    assert page == []  # known elsewhere: placed after every document


@pytest.mark.parametrize(
    ("text", "term", "hit"),
    [
        ("fn1 Send mail node-22", "mail", True),
        ("fn1 Send mail node-22", "MA", True),
        ("fn1 Send mail node-22", "node-22", True),
        ("dep1 index.php", "php-8.0", True),
        ("fn1 Send mail node-22", "zebra", False),
        ("fn1 Send mail node-22", "zebra send", True),
        ("fn1 Send mail node-22", '"send mail"', True),
        ("fn1 Send mail node-22", '"mail send"', False),
        ("fn1 Send mail", "ail", False),
    ],
)
def test_search(text: str, term: str, hit: bool) -> None:
    assert matches_search(text, term) is hit


@pytest.mark.parametrize("style", ["queries[]", "queries[{n}]", "queries"])
def test_url_encodings(local_server: LocalServer, style: str) -> None:
    with api_client(local_server) as raw:
        for index in range(4):
            raw.post("/functions", json={"functionId": f"f{index}", "name": f"F{index}", "runtime": "python-3.12"})
        queries = [Query.order_desc("$id"), Query.limit(2), Query.offset(1)]
        query_string = "&".join(f"{style.format(n=n)}={quote(q)}" for n, q in enumerate(queries))
        body = raw.get(f"/functions?{query_string}").json()
        assert body["total"] == 4 and [f["$id"] for f in body["functions"]] == ["f2", "f1"]
