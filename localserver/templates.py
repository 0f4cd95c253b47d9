"""Function templates of Appwrite 1.6.2: `GET /v1/functions/templates` and `/v1/functions/templates/{templateId}`.

The catalogue is 14 of the 39 templates of 1.6.2's `app/config/function-templates.php`, copied unchanged
into `templates.json` (each runtime group there expands to `<runtime>-<version>` entries, as the PHP
`getRuntimes()` helper does). Listing follows the 1.6.2 handler exactly, quirks included: filters keep
templates sharing any runtime / any use case, and `total` counts the returned page, not the matches.

Access also follows 1.6.2. Listing is in the `api` group with scope `public`, which only guests hold: a
caller without a key passes (even with no project, which is the console's), an API key or a dynamic key of
this project is refused (`(role: applications) missing scope (public)`), a wrong key is 401
`user_unauthorized`. Getting one template belongs to no group, so no project or key is checked at all.
"""

from __future__ import annotations

import hmac
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath

from localserver import keys
from localserver.context import ServerContext
from localserver.errors import AppwriteError, invalid_param
from localserver.models import Fields, list_envelope, public

CATALOGUE = Path(__file__).with_name("templates.json")
USE_CASES = ("dev-tools", "starter", "databases", "ai", "messaging", "utilities")
ARRAY_LIMIT = 100  # APP_LIMIT_ARRAY_PARAMS_SIZE
MAX_PAGE = 5000

TEMPLATE_FIELDS: Fields = (
    ("icon", ""),
    ("id", ""),
    ("name", ""),
    ("tagline", ""),
    ("permissions", []),
    ("events", []),
    ("cron", ""),
    ("timeout", 15),
    ("useCases", []),
    ("runtimes", []),
    ("instructions", ""),
    ("vcsProvider", ""),
    ("providerRepositoryId", ""),
    ("providerOwner", ""),
    ("providerVersion", ""),
    ("variables", []),
    ("scopes", []),
)
TEMPLATE_RUNTIME_FIELDS: Fields = (("name", ""), ("commands", ""), ("entrypoint", ""), ("providerRootDirectory", ""))
TEMPLATE_VARIABLE_FIELDS: Fields = (
    ("name", ""),
    ("description", ""),
    ("value", ""),
    ("placeholder", ""),
    ("required", False),
    ("type", ""),
)


@cache
def catalogue() -> tuple[dict[str, Any], ...]:
    """The built-in templates in Appwrite's response model, runtime groups expanded, in catalogue order."""
    raw = json.loads(CATALOGUE.read_text(encoding="utf-8"))["templates"]
    out = []
    for template in raw:
        runtimes = [
            public({**group, "name": f"{group['runtime']}-{version}"}, TEMPLATE_RUNTIME_FIELDS)
            for group in template["runtimes"]
            for version in group["versions"]
        ]
        variables = [public(variable, TEMPLATE_VARIABLE_FIELDS) for variable in template["variables"]]
        out.append(public(template, TEMPLATE_FIELDS, runtimes=runtimes, variables=variables))
    return tuple(out)


# --- access --------------------------------------------------------------------------------------


def guests_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """1.6.2's `api`-group checks for a route whose scope is `public`, which only the guests role has."""
    ctx: ServerContext = connection.app.state.ctx
    project = connection.headers.get("x-appwrite-project") or connection.query_params.get("project") or "console"
    if project not in (ctx.config.project_id, "console"):
        raise AppwriteError("project_not_found")
    key = connection.headers.get("x-appwrite-key")
    if not key:
        return
    if keys.is_dynamic(key):
        grant = ctx.keys.grant(key)
        if grant is None:
            raise AppwriteError("project_key_expired")
        if grant.project_id != project:
            return  # a key of another project makes its bearer a guest
    elif project == "console" or not hmac.compare_digest(key.encode(), ctx.config.api_key.encode()):
        raise AppwriteError("user_unauthorized")
    host = connection.url.hostname or "localhost"
    raise AppwriteError("general_unauthorized_scope", f"app.{project}@service.{host} (role: applications) missing scope (public)")


# --- params --------------------------------------------------------------------------------------


def array_param(request: Request, name: str) -> list[str] | None:
    """An array query param sent as `name[]`, `name[N]` or repeated `name`; None when absent."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    pattern = re.compile(rf"{re.escape(name)}(\[\d*\])?")
    values = [value for key, value in parse_qsl(raw, keep_blank_values=True) if pattern.fullmatch(key)]
    return values if values else None


def _whitelist(name: str, values: list[str] | None, allowed: tuple[str, ...]) -> list[str]:
    """ArrayList(WhiteList(allowed, strict), 100)."""
    if values is None:
        return []
    if len(values) > ARRAY_LIMIT or any(value not in allowed for value in values):
        raise invalid_param(name, f"Value must a valid array no longer than {ARRAY_LIMIT} items and Value must be one of ({', '.join(allowed)})")
    return values


def _range(name: str, raw: str | None, low: int, default: int) -> int:
    """Range(low, 5000) on a query string value (numeric strings count, as PHP's is_numeric lets them)."""
    if raw is None:
        return default
    if not re.fullmatch(r"\s*-?\d+\s*", raw) or not low <= int(raw) <= MAX_PAGE:
        raise invalid_param(name, f"Value must be a valid range between {low:,} and {MAX_PAGE:,}")
    return int(raw)


# --- routes --------------------------------------------------------------------------------------


@get("/functions/templates", guards=[guests_only], sync_to_thread=False, name="functions.listTemplates")
def list_templates(request: Request) -> dict[str, Any]:
    server_runtimes = request.app.state.ctx.config.profile.runtimes  # Config 'runtimes': what the server has
    runtimes = _whitelist("runtimes", array_param(request, "runtimes"), server_runtimes)
    use_cases = _whitelist("useCases", array_param(request, "useCases"), USE_CASES)
    limit = _range("limit", request.query_params.get("limit"), 1, 25)
    offset = _range("offset", request.query_params.get("offset"), 0, 0)
    templates = list(catalogue())
    if runtimes:
        templates = [t for t in templates if set(runtimes) & {runtime["name"] for runtime in t["runtimes"]}]
    if use_cases:
        templates = [t for t in templates if set(use_cases) & set(t["useCases"])]
    page = templates[offset : offset + limit]
    return list_envelope("templates", page, len(page))  # 1.6.2 counts the page, not the matches


@get("/functions/templates/{templateId:str}", sync_to_thread=False, name="functions.getTemplate")
def get_template(templateId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    if len(templateId) > 128:
        raise invalid_param("templateId", "Value must be a valid string and at least 1 chars and no longer than 128 chars")
    for template in catalogue():
        if template["id"] == templateId:
            return template
    raise AppwriteError("function_template_not_found", "Function Template with the requested ID could not be found.", 404)


ROUTES = [list_templates, get_template]
