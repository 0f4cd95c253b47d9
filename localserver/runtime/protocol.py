"""What goes into a function and what comes out: the executor's request and result models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Family = Literal["python", "node"]

# Appwrite's APP_FUNCTION_LOG_LENGTH_LIMIT / APP_FUNCTION_ERROR_LENGTH_LIMIT: longer output keeps its tail.
LOG_LIMIT = 1_000_000
# Largest response body a function may return (Open Runtimes' 20 MB body limit).
BODY_LIMIT = 20 * 1024 * 1024


class WorkerSpec(BaseModel):
    """Everything that decides which warm worker may serve an execution.

    Two executions share a worker only when their specs are equal: same deployment, entrypoint,
    build folder and environment (so a changed variable starts a fresh process).
    """

    model_config = ConfigDict(frozen=True)

    function_id: str
    deployment_id: str
    family: Family
    build_dir: str
    entrypoint: str
    interpreter: str | None = None  # the build's interpreter (its venv's python, or node); None = the machine's
    env: tuple[tuple[str, str], ...] = ()
    memory_mb: int | None = None  # the specification's memory, enforced per process (sandbox.limited)
    cpus: float | None = None  # the specification's CPUs, shared by the deployment's workers (cgroups)


class Invocation(BaseModel):
    """One HTTP-like request to a function, as Open Runtimes hands it over."""

    model_config = ConfigDict(frozen=True)

    method: str = "POST"
    path: str = "/"  # may carry a query string
    headers: dict[str, str] = Field(default_factory=dict)
    body: bytes = b""


class Outcome(BaseModel):
    """The function's response plus what the executor saw, ready to be stored on an Execution."""

    status_code: int = 500
    headers: dict[str, str] = Field(default_factory=dict)
    body: bytes = b""
    logs: str = ""
    errors: str = ""
    duration: float = 0.0
    worker_pid: int | None = None
    timed_out: bool = False

    @classmethod
    def failure(cls, message: str, duration: float = 0.0, *, logs: str = "", timed_out: bool = False) -> "Outcome":
        """An executor-side failure (timeout, crash, no interpreter): status 500 with the reason in `errors`."""
        return cls(status_code=500, errors=message, logs=logs, duration=duration, timed_out=timed_out)


def truncate(text: str, limit: int, what: str) -> str:
    """Appwrite's truncation: keep the tail and say so in a first line."""
    if len(text) <= limit:
        return text
    warning = f"[WARNING] {what} truncated. The output exceeded {limit} characters.\n"
    return warning + text[-(limit - len(warning)) :]
