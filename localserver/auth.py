"""Project and API-key checks, as Appwrite's shared/api.php does them.

Each route handler declares the scope it needs in `opt={"scope": ...}`; the guard checks the project
header first (404 project_not_found), then the key (401 user_unauthorized), then that a caller
without a key is not trying a key-only route (401 general_unauthorized_scope).
"""

from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from localserver.context import ServerContext
from localserver.errors import AppwriteError


def caller_has_key(connection: ASGIConnection) -> bool:
    return bool(connection.headers.get("x-appwrite-key"))


def project_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    ctx: ServerContext = connection.app.state.ctx
    project = connection.headers.get("x-appwrite-project") or connection.query_params.get("project") or "console"
    scope = handler.opt.get("scope", "functions.read")
    if project != ctx.config.project_id:
        if project == "console":
            raise AppwriteError("general_unauthorized_scope", f"User (role: guests) missing scope ({scope})")
        raise AppwriteError("project_not_found")
    key = connection.headers.get("x-appwrite-key")
    if key:
        if not hmac.compare_digest(key.encode(), ctx.config.api_key.encode()):
            raise AppwriteError("user_unauthorized")
        return
    if handler.opt.get("allow_guests"):
        return
    raise AppwriteError("general_unauthorized_scope", f"User (role: guests) missing scope ({scope})")
