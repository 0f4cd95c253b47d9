"""The per-app object that handlers receive: configuration, the store, and background services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localserver.config import ServerConfig
from localserver.store import Store


@dataclass
class ServerContext:
    config: ServerConfig
    store: Store
    # Background services (the builder, later the executor) register themselves here by name.
    services: dict[str, Any] = field(default_factory=dict)
