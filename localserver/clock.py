"""Time and identifiers in Appwrite's formats."""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timezone

ID_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}$")


def now_iso() -> str:
    """ISO 8601 with milliseconds and a numeric offset, e.g. 2024-10-15T06:38:00.123+00:00."""
    return format_iso(datetime.now(timezone.utc))


def format_iso(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_since(start: str | None) -> int:
    """Whole seconds elapsed since an ISO time (a build's duration); 0 when it is missing or unreadable."""
    if not start:
        return 0
    try:
        return max(0, int(time.time() - parse_iso(start).timestamp()))
    except ValueError:
        return 0


def unique_id() -> str:
    """Like PHP's uniqid() (13 hex digits of time) plus 7 random hex digits: 20 characters."""
    micros = time.time_ns() // 1000
    stamp = f"{micros // 1_000_000:08x}{micros % 1_000_000:05x}"
    return stamp + secrets.token_hex(4)[:7]


def is_valid_id(value: str) -> bool:
    """Appwrite's UID rule: 1-36 chars of a-z A-Z 0-9 . - _, not starting with . - or _."""
    return bool(ID_PATTERN.match(value))


ID_RULE = "Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char"
