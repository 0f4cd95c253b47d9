"""fnsync's git push receiver: verified deliveries in, durable queue, reconcile through `syncer.apply`.

Public API: `create_app(config)`, `WebhookConfig`. Everything else is internal.
"""

from webhook.app import create_app
from webhook.config import WebhookConfig

__all__ = ["WebhookConfig", "create_app"]
