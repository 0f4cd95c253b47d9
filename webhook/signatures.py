"""Who sent a delivery, and is it signed with our secret? Constant-time checks over the raw body.

Gitea and Forgejo also send `X-GitHub-*` headers, so the provider is decided from the most specific
headers first (as Argo CD does for Gogs): GitLab, then Gitea/Forgejo/Gogs, then GitHub.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from enum import StrEnum


class Provider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"


def detect_provider(headers: Mapping[str, str]) -> Provider | None:
    """The provider a delivery's headers claim, most specific first; None when no known event header is present."""
    if "x-gitlab-event" in headers:
        return Provider.GITLAB
    if any(name in headers for name in ("x-gitea-event", "x-forgejo-event", "x-gogs-event")):
        return Provider.GITEA
    if "x-github-event" in headers:
        return Provider.GITHUB
    return None


def _matches_hmac(secret: str, body: bytes | bytearray, given: str) -> bool:
    """Constant-time check of a hex HMAC-SHA256 header. Bytes, not str: `compare_digest` raises TypeError on
    non-ASCII str, and headers are latin-1, so a forged header must not turn into a 500."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(given.strip().lower().encode("utf-8", "replace"), expected)


def verify_github(secret: str, body: bytes | bytearray, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`."""
    if not header or not header.startswith("sha256="):
        return False
    return _matches_hmac(secret, body, header[len("sha256=") :])


def verify_gitea(secret: str, body: bytes | bytearray, header: str | None) -> bool:
    """`X-Gitea-Signature` (or `X-Forgejo-Signature`): bare hex HMAC-SHA256 of the raw body."""
    if not header:
        return False
    return _matches_hmac(secret, body, header)


def verify_gitlab(secret: str, header: str | None) -> bool:
    """GitLab sends the secret itself in `X-Gitlab-Token` (no HMAC); compare in constant time."""
    if not header:
        return False
    return hmac.compare_digest(header.encode("utf-8", "replace"), secret.encode())


def verify(provider: Provider, secret: str, body: bytes | bytearray, headers: Mapping[str, str]) -> bool:
    if provider is Provider.GITHUB:
        return verify_github(secret, body, headers.get("x-hub-signature-256"))
    if provider is Provider.GITEA:
        return verify_gitea(secret, body, headers.get("x-gitea-signature") or headers.get("x-forgejo-signature"))
    return verify_gitlab(secret, headers.get("x-gitlab-token"))


def verify_before_body(provider: Provider, secret: str, headers: Mapping[str, str]) -> bool:
    """What can be checked before reading the body: GitLab's token entirely, the HMAC header's presence for the
    others. A request failing it is refused without its body ever being read."""
    if provider is Provider.GITLAB:
        return verify_gitlab(secret, headers.get("x-gitlab-token"))
    if provider is Provider.GITHUB:
        return headers.get("x-hub-signature-256", "").startswith("sha256=")
    return bool(headers.get("x-gitea-signature") or headers.get("x-forgejo-signature"))


def body_hash(provider: Provider, body: bytes | bytearray) -> str:
    """Identifies a delivery by content: the same signed body under a new delivery id is a replay."""
    return f"{provider.value}:{hashlib.sha256(body).hexdigest()}"


def delivery_id(provider: Provider, headers: Mapping[str, str], body: bytes | bytearray) -> str:
    """The sender's delivery ID (redeliveries reuse it); a body hash when the sender gives none."""
    names = {
        Provider.GITHUB: ("x-github-delivery",),
        Provider.GITEA: ("x-gitea-delivery", "x-forgejo-delivery", "x-gogs-delivery", "x-github-delivery"),
        Provider.GITLAB: ("idempotency-key", "x-gitlab-event-uuid"),
    }[provider]
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            return f"{provider.value}:{value[:200]}"
    return f"{provider.value}:sha256:{hashlib.sha256(body).hexdigest()}"


def event_name(provider: Provider, headers: Mapping[str, str]) -> str:
    if provider is Provider.GITLAB:
        return headers.get("x-gitlab-event", "")
    if provider is Provider.GITEA:
        for name in ("x-gitea-event", "x-forgejo-event", "x-gogs-event"):
            if headers.get(name):
                return headers[name]
        return ""
    return headers.get("x-github-event", "")
