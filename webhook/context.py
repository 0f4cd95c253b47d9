"""The per-app object handlers receive as `ctx: NamedDependency[WebhookContext]`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from webhook.config import WebhookConfig
from webhook.links import LinkIndex
from webhook.deliveries import Store
from webhook.worker import WorkerPool


@dataclass
class WebhookContext:
    config: WebhookConfig
    store: Store
    links: LinkIndex
    pool: WorkerPool
    bodies: asyncio.Semaphore  # request bodies read at once (`max_concurrent_bodies`)
