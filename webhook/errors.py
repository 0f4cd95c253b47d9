"""How a job can fail: transient (retry with capped backoff) or terminal (final `failed` state)."""

from __future__ import annotations


class JobError(Exception):
    """Base for job failures; `str()` is what the delivery log shows (already scrubbed of secrets)."""

    transient = False


class TransientError(JobError):
    """Network trouble, Appwrite 5xx/429, git fetch failures: retrying may help."""

    transient = True


class TerminalError(JobError):
    """An invalid manifest, a missing commit, a failed build: retrying cannot help."""
