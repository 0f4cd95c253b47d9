"""The per-app object handlers receive as `ctx: NamedDependency[WebhookContext]`."""

from __future__ import annotations

from dataclasses import dataclass

from webhook.config import WebhookConfig
from webhook.links import LinkIndex
from webhook.store import DeliveryStore
from webhook.worker import WorkerPool


@dataclass
class WebhookContext:
    config: WebhookConfig
    store: DeliveryStore
    links: LinkIndex
    pool: WorkerPool
