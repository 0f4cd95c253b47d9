"""GET /v1/proxy/rules: always an empty rule list.

The Appwrite CLI (6.2.x) asks for a function's domain after `push functions`; a local server has no
proxy rules, and answering with an empty `ruleList` keeps the CLI from printing an error.
"""

from __future__ import annotations

from typing import Any

from litestar import get


@get("/proxy/rules", opt={"scope": "rules.read"}, sync_to_thread=False)
def list_rules() -> dict[str, Any]:
    return {"total": 0, "rules": []}


ROUTES = [list_rules]
