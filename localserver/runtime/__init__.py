"""The local executor: Python and Node.js functions run in worker processes of this machine's interpreters.

`protocol` (request/outcome models and limits), `worker` (one process), `executor` (warm pools per
deployment), `service` (executions as Appwrite stores them; `running(ctx)` for the app lifespan).
Workers speak the Open Runtimes v4 function contract (`worker_python.py`, `worker_node.mjs`).
"""

from localserver.runtime.executor import Executor
from localserver.runtime.protocol import Invocation, Outcome, WorkerSpec

__all__ = ["Executor", "Invocation", "Outcome", "WorkerSpec"]
