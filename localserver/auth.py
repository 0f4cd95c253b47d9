"""Project and API-key checks, as Appwrite's shared/api.php does them.

Each route handler declares the scope it needs in `opt={"scope": ...}`; the guard checks the project
header first (404 project_not_found), then the key, then that a caller without a key is not trying a
key-only route (401 general_unauthorized_scope). Two kinds of key pass:

- the server's API key (every scope), else 401 user_unauthorized;
- a dynamic key an execution received (`localserver.keys`): only the function's `scopes`, only in its
  project, only while it lives (401 project_key_expired once unknown: expired, or minted before a restart).
"""

from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from localserver import keys
from localserver.context import ServerContext
from localserver.errors import AppwriteError


def caller_has_key(connection: ASGIConnection) -> bool:
    """Whether the caller sent a key; behind `project_guard` that means a valid one."""
    return bool(connection.headers.get("x-appwrite-key"))


def _guests_missing(scope: str) -> AppwriteError:
    return AppwriteError("general_unauthorized_scope", f"User (role: guests) missing scope ({scope})")


def _check_dynamic_key(ctx: ServerContext, connection: ASGIConnection, key: str, project: str, scope: str) -> None:
    """Appwrite's app role: the key's scopes only, and in a foreign project the caller is a mere guest."""
    grant = ctx.keys.grant(key)
    if grant is None:
        raise AppwriteError("project_key_expired")
    if grant.project_id != project:
        raise _guests_missing(scope)
    if scope not in grant.scopes:
        host = connection.url.hostname or "localhost"
        raise AppwriteError("general_unauthorized_scope", f"app.{project}@service.{host} (role: applications) missing scope ({scope})")


def project_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    ctx: ServerContext = connection.app.state.ctx
    project = connection.headers.get("x-appwrite-project") or connection.query_params.get("project") or "console"
    scope = handler.opt.get("scope", "functions.read")
    if project != ctx.config.project_id:
        if project == "console":
            raise _guests_missing(scope)
        raise AppwriteError("project_not_found")
    key = connection.headers.get("x-appwrite-key")
    if key:
        if hmac.compare_digest(key.encode(), ctx.config.api_key.encode()):
            return
        if keys.is_dynamic(key):
            _check_dynamic_key(ctx, connection, key, project, scope)
            return
        raise AppwriteError("user_unauthorized")
    if handler.opt.get("allow_guests"):
        return
    raise _guests_missing(scope)
