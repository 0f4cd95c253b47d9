"""Appwrite's "temporary abuse check" on function creation: N creations per project per fixed day window.

Same in 1.6.2 and 1.9.6 (app/controllers/api/functions.php; Modules/Functions/Http/Functions/Create.php):
after the params are validated, every create counts, API keys included; the reply carries
`X-RateLimit-Limit/Remaining/Reset` (remaining before this call, reset = end of the window, Unix seconds)
and past the limit it is 429 `general_rate_limit_exceeded`, without `Retry-After`. Off when
`ServerConfig.creation_abuse_limit` is None (`--no-abuse-limit`, `_APP_OPTIONS_ABUSE=disabled`).
Counts live in memory: a restart forgets them (Appwrite keeps them in its database).
"""

from __future__ import annotations

import time

from localserver.context import ServerContext
from localserver.errors import AppwriteError

WINDOW_SECONDS = 86_400


def check_creation(ctx: ServerContext, now: float | None = None) -> dict[str, str]:
    """Count one creation; the rate-limit headers to send, or 429 once the window's allowance is used."""
    limit = ctx.config.creation_abuse_limit
    if limit is None:
        return {}
    moment = time.time() if now is None else now
    start = int(moment // WINDOW_SECONDS * WINDOW_SECONDS)
    counts: dict[int, int] = ctx.services.setdefault("abuse.function_creations", {})
    used = counts.get(start, 0)
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(limit - used, 0)),
        "X-RateLimit-Reset": str(start + WINDOW_SECONDS),
    }
    if used >= limit:
        raise AppwriteError("general_rate_limit_exceeded", headers=headers)
    counts.clear()
    counts[start] = used + 1
    return headers
