"""Project and API-key checks, as Appwrite's shared/api.php does them.

Routes the server's profile lists as public (runtimes, templates since 1.7.0) have scope `public`: callers
without a key pass, and any key is refused (401 general_unauthorized_scope), as keys lack that scope.

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

# Scope of routes anyone may call (guests have it); API keys never carry it, so a keyed call is refused.
PUBLIC = "public"


def caller_has_key(connection: ASGIConnection) -> bool:
    """Whether the caller sent a key; behind `project_guard` that means a valid one."""
    return bool(connection.headers.get("x-appwrite-key"))


def _guests_missing(scope: str) -> AppwriteError:
    return AppwriteError("general_unauthorized_scope", f"User (role: guests) missing scope ({scope})")


def _app_missing(connection: ASGIConnection, project: str, scope: str) -> AppwriteError:
    host = connection.url.hostname or "localhost"
    return AppwriteError("general_unauthorized_scope", f"app.{project}@service.{host} (role: applications) missing scope ({scope})")


def _check_dynamic_key(ctx: ServerContext, connection: ASGIConnection, key: str, project: str, scope: str) -> None:
    """Appwrite's app role: the key's scopes only, and in a foreign project the caller is a mere guest."""
    grant = ctx.keys.grant(key)
    if grant is None:
        raise AppwriteError("project_key_expired")
    if grant.project_id != project:
        raise _guests_missing(scope)
    if scope not in grant.scopes:
        raise _app_missing(connection, project, scope)


def project_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    ctx: ServerContext = connection.app.state.ctx
    project = connection.headers.get("x-appwrite-project") or connection.query_params.get("project") or "console"
    scope = handler.opt.get("scope", "functions.read")
    if handler.name in ctx.config.profile.public_routes:
        scope = PUBLIC  # runtimes and templates since 1.7.0
    if project != ctx.config.project_id:
        if project == "console":
            raise _guests_missing(scope)
        raise AppwriteError("project_not_found")
    key = connection.headers.get("x-appwrite-key")
    if key:
        if hmac.compare_digest(key.encode(), ctx.config.api_key.encode()):
            if scope == PUBLIC:
                raise _app_missing(connection, project, scope)
            return
        if keys.is_dynamic(key):
            _check_dynamic_key(ctx, connection, key, project, scope)
            return
        raise AppwriteError("user_unauthorized")
    if handler.opt.get("allow_guests") or scope == PUBLIC:
        return
    raise _guests_missing(scope)
