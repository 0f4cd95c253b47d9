"""Watch mode: save a file, the function is live about a second later.

The loop (`Watcher`) only decides *when* and *which function*; every deploy goes through
`syncer.apply.reconcile`, the same path as `fnsync apply` and the webhook.
"""

from syncer.watch.deploy import DeploySettings, InvokeSpec, sync_function
from syncer.watch.events import (
    Cycle,
    Invocation,
    ManifestInvalid,
    ManifestReloaded,
    Outcome,
    Stopped,
    Watching,
    WatchEvent,
)
from syncer.watch.lanes import Lanes, Note
from syncer.watch.loop import Watcher, WatchOptions, unknown_targets

__all__ = [
    "Cycle",
    "DeploySettings",
    "Invocation",
    "InvokeSpec",
    "Lanes",
    "ManifestInvalid",
    "ManifestReloaded",
    "Note",
    "Outcome",
    "Stopped",
    "WatchEvent",
    "WatchOptions",
    "Watcher",
    "Watching",
    "sync_function",
    "unknown_targets",
]
