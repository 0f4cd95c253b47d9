"""Appwrite server versions: parsing `GET /v1/health/version` and what each version changes for the client.

fnsync speaks the 1.6 API (paths and `X-Appwrite-Response-Format: 1.6.0`), which 1.7 and 1.8 servers translate.
The few differences that remain are keyed off the properties here, never off raw version strings.
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

    @property
    def deployment_models_changed(self) -> bool:
        """1.7+: rebuild answers 202 + Deployment, cancel answers a Deployment, models use the new field names."""
        return self.key >= (1, 7, 0)

    @property
    def secret_variables(self) -> bool:
        """1.8+: variables carry `secret` (for clients sending the 1.8 response format)."""
        return self.key >= (1, 8, 0)


MINIMUM_VERSION = ServerVersion(1, 6, 0, "1.6.0")
# What the client sends on variable calls to servers with secret variables (see `AppwriteClient.server_version`).
SECRET_VARIABLES_FORMAT = "1.8.0"
