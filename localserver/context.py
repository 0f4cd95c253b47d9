"""The per-app object that handlers receive: configuration, the store, background services, dynamic keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localserver.config import ServerConfig
from localserver.keys import DynamicKeys
from localserver.store import Store


@dataclass
class ServerContext:
    config: ServerConfig
    store: Store
    # Background services (the builder, later the executor) register themselves here by name.
    services: dict[str, Any] = field(default_factory=dict)
    # Keys handed to executions (`x-appwrite-key`); in memory only, so a restart revokes them all.
    keys: DynamicKeys = field(default_factory=DynamicKeys)
