"""Version strings as comparable tuples (`1.9.6` -> (1, 9, 6)), the one parser every version check uses."""

from __future__ import annotations

import re

Version = tuple[int, int, int]
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def parse(text: str | None) -> Version | None:
    """`1.9` -> (1, 9, 0); None for anything that does not start like a version."""
    match = _VERSION.match(text or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def at_least(text: str, floor: str) -> bool:
    return (parse(text) or (0, 0, 0)) >= (parse(floor) or (0, 0, 0))
