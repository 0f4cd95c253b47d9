"""Appwrite server versions: parsing `GET /v1/health/version` and what each version changes for the client.

Only parsing and ordering live here; what each version can do is `syncer.client.capabilities.Capabilities`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class ServerVersion:
    """A server version, ordered by (major, minor, patch); `text` keeps what the server said (e.g. "1.7.0-RC1")."""

    major: int
    minor: int
    patch: int = 0
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> ServerVersion:
        """Parse "X.Y[.Z][suffix]"; raises ValueError for anything else."""
        match = _VERSION.match(text or "")
        if match is None:
            raise ValueError(f"not an Appwrite version: {text!r}")
        major, minor, patch = (int(part or 0) for part in match.groups())
        return cls(major, minor, patch, text.strip())

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)


MINIMUM_VERSION = ServerVersion(1, 6, 0, "1.6.0")
