"""Redaction of secrets: on values before anything is serialised, and on text in every form a secret takes there.

Two layers, both used on every output:

- `redact_data` walks structured data (dicts, lists, strings) and scrubs each string *before* it is serialised
  (`--json`, saved plans, stored results), so JSON escaping can never turn a secret into a form text scrubbing
  misses.
- `scrub` replaces a secret in text in each form it can take on the way there (`forms`): as is; JSON-escaped
  (quotes, backslashes, `\\/` as PHP writes it, `\\uXXXX` for non-ASCII, and escaped twice for JSON quoted in JSON);
  URL-encoded (`%XX` in upper or lower case, `+` or `%20` for spaces, `/` kept or encoded); and base64 (standard
  and URL-safe, at each of the three byte offsets it can start at inside a longer encoded text, so `Basic` headers
  and encoded blobs are caught too). A form shorter than `MIN_ANYWHERE` characters is replaced only where it stands
  as a whole token, not inside a longer word: a short value (`on`, `dev`, `1234`) must not turn ordinary words
  into `[redacted]`.

Core: imports nothing from fnsync, so the client, the reconciler, the CLI and the receiver can all share it.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MIN_FRAGMENT = 6  # base64 of a secret at an odd offset keeps only its middle; shorter middles match by chance
MIN_ANYWHERE = 8  # shorter forms are scrubbed as whole tokens only, never from inside a longer word
_LOWER_HEX = re.compile(r"%[0-9A-F]{2}")


def scrub(text: str, secrets: Iterable[str], mask: str = REDACTED) -> str:
    """`text` with every form of every secret replaced by `mask`.

    Longest form first: a secret that contains a shorter one must go whole, or the rest of it would still show.
    """
    for form, whole_token in _all_forms(frozenset(s for s in secrets if s)):
        if form in text:
            text = whole_token.sub(mask, text) if whole_token is not None else text.replace(form, mask)
    return text


def redact_data(data: Any, secrets: Iterable[str], mask: str = REDACTED) -> Any:
    """A copy of `data` (JSON-like: dicts, lists, tuples, scalars) with every string scrubbed, keys included."""
    chosen = frozenset(s for s in secrets if s)
    if not chosen:
        return data
    return _redact(data, chosen, mask)


def _redact(data: Any, secrets: frozenset[str], mask: str) -> Any:
    if isinstance(data, str):
        return scrub(data, secrets, mask)
    if isinstance(data, Mapping):
        return {_redact(k, secrets, mask): _redact(v, secrets, mask) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_redact(item, secrets, mask) for item in data]
    return data


def forms(secret: str) -> set[str]:
    """Every text form `secret` can take in output: raw, JSON-escaped, URL-encoded, base64 (see the module doc)."""
    found = {secret}
    for escaped in _json_forms(secret):
        found.add(escaped)
        found.update(_json_forms(escaped))  # JSON text quoted inside JSON (an echoed request body in --json)
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret, safe=""), quote_plus(secret)):
        found.update({encoded, _LOWER_HEX.sub(lambda m: m.group(0).lower(), encoded)})  # %2F and %2f
    found.update(_base64_forms(secret.encode()))
    return {f for f in found if f}


def _json_forms(text: str) -> set[str]:
    ascii_only = json.dumps(text)[1:-1]
    unicode = json.dumps(text, ensure_ascii=False)[1:-1]
    return {ascii_only, unicode, ascii_only.replace("/", "\\/"), unicode.replace("/", "\\/")}


def _base64_forms(raw: bytes) -> set[str]:
    found: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode()
        found.update({whole, whole.rstrip("=")})
        for offset in (1, 2):  # inside a longer text: the characters that depend on the secret's bytes alone
            shifted = encode(bytes(offset) + raw).decode().rstrip("=")
            first = -(-offset * 8 // 6)  # the first character with no bit from the padding before
            last = (offset + len(raw)) * 8 // 6  # one past the last character made only of the secret's bits
            middle = shifted[first:last]
            if len(middle) >= MIN_FRAGMENT:
                found.add(middle)
        middle = whole.rstrip("=")[: len(raw) * 8 // 6]  # at offset 0, followed by more bytes
        if len(middle) >= MIN_FRAGMENT:
            found.add(middle)
    return found


@functools.lru_cache(maxsize=64)
def _all_forms(secrets: frozenset[str]) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    """Each form, longest first, with the pattern that finds it as a whole token when it is short."""
    ordered = sorted({f for s in secrets for f in forms(s)}, key=len, reverse=True)
    return tuple((f, _whole_token(f) if len(f) < MIN_ANYWHERE else None) for f in ordered)


def _whole_token(form: str) -> re.Pattern[str]:
    """`form` not preceded or followed by a word character (letter, digit, `_`): one next to it means another word."""
    return re.compile(rf"(?<!\w){re.escape(form)}(?!\w)")
