"""Names fnsync keeps for its own bookkeeping on the server, in a module with no imports.

The manifest layer refuses them offline (`syncer.manifest.rules.function_id`) without loading the HTTP client that
`syncer.lock` needs; `syncer.lock` re-exports them and is where their use is explained.
"""

from __future__ import annotations

LOCK_FUNCTION_ID = "fnsync-lock"  # the one place this id is written; everything else asks `is_reserved`


def is_reserved(function_id: str) -> bool:
    """True for fnsync's own bookkeeping function, which no plan, prune, unmanaged list or import may show."""
    return function_id == LOCK_FUNCTION_ID
