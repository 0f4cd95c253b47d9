"""The shape of one version-step filter, and the helpers filters share.

A filter converts across exactly one version boundary (`threshold`): requests of clients whose format is
older than it are lifted to the newer params, responses are lowered to the older models. It is chosen by
the route's SDK method id (requests) or response model (responses), as in appwrite/appwrite
`src/Appwrite/Utopia/{Request,Response}/Filters/V*.php`. Some conversions only exist on newer server
releases (V19 gained its download rule in 1.9.5): filters receive the server version to gate those.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from localserver.versions import semver

Params = dict[str, Any]
Document = dict[str, Any]


class Filter:
    """One version step. Subclasses override `request` and/or `response`."""

    name: str = ""
    threshold: str = "0.0.0"  # applies to clients whose format is below this

    def request(self, method: str, params: Params, server: str) -> Params:
        return params

    def response(self, model: str, body: Document, server: str) -> Document:
        return body


def since(server: str, release: str) -> bool:
    """True when the emulated server release already has a conversion introduced in `release`."""
    return semver.at_least(server, release)


def rename_query_attribute(params: Params, old: str, new: str) -> Params:
    """Appwrite's convertQueryAttribute: rewrite `attribute` in every JSON query of `queries`."""
    queries = params.get("queries")
    if not isinstance(queries, list):
        return params
    out = []
    for raw in queries:
        try:
            query = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            out.append(raw)
            continue
        if isinstance(query, dict) and query.get("attribute", "") == old:
            query = {**query, "attribute": new}
            raw = json.dumps(query, separators=(",", ":"))
        out.append(raw)
    return {**params, "queries": out}


def rename(doc: Document, old: str, new: str, default: Any = "") -> Document:
    """PHP's `$c[new] = $c[old] ?? default; unset($c[old])`: the new key goes last."""
    out = {k: v for k, v in doc.items() if k != old}
    out[new] = doc.get(old, default) if doc.get(old) is not None else default
    return out


def drop(doc: Document, *names: str) -> Document:
    return {k: v for k, v in doc.items() if k not in names}


def handle_list(body: Document, key: str, convert: Callable[[Document], Document]) -> Document:
    items = body.get(key)
    if not isinstance(items, list):
        return body
    return {**body, key: [convert(item) if isinstance(item, dict) else item for item in items]}
