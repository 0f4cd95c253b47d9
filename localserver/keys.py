"""Dynamic API keys: what each execution receives in `x-appwrite-key` to call back into the server.

Appwrite signs a JWT (`dynamic_<jwt>`) holding the project id and the function's `scopes`, valid for
the function's timeout. The local server hands out a random token instead and remembers its grant in
memory: only the process that minted a key knows it, so a restart forgets every key, and a grant names
its project, so a key opens nothing in another one. Only a digest of each token is kept.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PREFIX = "dynamic_"


@dataclass(frozen=True)
class Grant:
    """What one dynamic key allows: `scopes` in `project_id`, until `expires_at` (the keys' clock)."""

    project_id: str
    function_id: str
    scopes: frozenset[str]
    expires_at: float


def is_dynamic(key: str) -> bool:
    return key.startswith(PREFIX)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class DynamicKeys:
    """Mints short-lived keys for executions and resolves them for the auth guard."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._grants: dict[str, Grant] = {}

    def mint(self, project_id: str, function_id: str, scopes: Iterable[str], ttl: float) -> str:
        """A new key granting `scopes` for `ttl` seconds (Appwrite: the function's timeout)."""
        self._forget_expired()
        key = PREFIX + secrets.token_urlsafe(32)
        self._grants[_digest(key)] = Grant(project_id, function_id, frozenset(scopes), self._clock() + max(ttl, 0.0))
        return key

    def grant(self, key: str) -> Grant | None:
        """The live grant of `key`, or None when it was never minted here or has expired."""
        found = self._grants.get(_digest(key))
        if found is None or found.expires_at <= self._clock():
            return None
        return found

    def _forget_expired(self) -> None:
        now = self._clock()
        for digest in [d for d, g in self._grants.items() if g.expires_at <= now]:
            del self._grants[digest]

    def __len__(self) -> int:
        return len(self._grants)
