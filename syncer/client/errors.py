"""Errors raised by the Appwrite client. One tree, split the way httpx splits its own:

    AppwriteError                      -- anything that went wrong talking to Appwrite
    ├── AppwriteResponseError          -- the server answered with an error envelope (.status, .type, .message, .version)
    ├── AppwriteConnectionError        -- no usable response: connect/read/write failures and timeouts (wraps the httpx error)
    ├── AppwriteProtocolError          -- a success response whose body is not what the API promises
    ├── UnsupportedServerVersion       -- the server is older than fnsync supports (.version, .minimum)
    └── BuildWaitTimeout               -- `wait_for_build` gave up before the build finished (.deployment = last seen)

Caller mistakes (empty ids, unknown settings fields, a missing archive) raise `ValueError`/`FileNotFoundError`,
outside this tree, so `except AppwriteError` never hides a bug.

No error text ever contains the API key: the client scrubs every message it puts in an error (see `scrub`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import httpx

from syncer import redact
from syncer.redact import REDACTED as REDACTED  # re-exported: callers mark redactions with it

if TYPE_CHECKING:
    from syncer.client.models import Deployment

# A create whose id is taken answers 409 with one of these, depending on the server version (§2, §13.8).
ALREADY_EXISTS_TYPES = frozenset({"document_already_exists", "function_already_exists", "variable_already_exists"})
NOT_FOUND_STATUS = 404
RATE_LIMITED_STATUS = 429


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret in `text`, in every form it takes in output (`syncer.redact.scrub`); used on all text
    that ends up in an error or a log line."""
    return redact.scrub(text, secrets)


@dataclass(frozen=True)
class RateLimit:
    """Appwrite's `X-RateLimit-Limit/-Remaining/-Reset` (reset = unix seconds), e.g. of the function-creation limit."""

    limit: int
    remaining: int
    reset: float

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit | None:
        try:
            return cls(
                limit=int(headers["x-ratelimit-limit"]),
                remaining=int(headers["x-ratelimit-remaining"]),
                reset=float(headers["x-ratelimit-reset"]),
            )
        except (KeyError, ValueError):
            return None

    @property
    def left(self) -> int:
        """What is left now: `remaining` counts the request that carried the headers as not yet made."""
        return max(self.remaining - 1, 0)

    @property
    def until(self) -> str:
        """" until 2026-11-30 14:00 UTC": when the allowance is renewed ("" when the server gave no time)."""
        if not self.reset:
            return ""
        return " until " + datetime.fromtimestamp(self.reset, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class AppwriteError(Exception):
    """Base of every error the client raises for a failed exchange with the server."""


class AppwriteResponseError(AppwriteError):
    """The server answered with an error.

    `retried` is true when an earlier attempt of the same request had an unknown outcome (it may have been
    applied before the connection broke). A create that then answers "already exists", or a delete that then
    answers 404, most likely hit the effect of our own earlier attempt: see `is_duplicate_of_own_create`.
    """

    def __init__(
        self,
        *,
        status: int,
        type: str,
        message: str,
        version: str = "",
        request_method: str = "",
        request_path: str = "",
        retried: bool = False,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.rate_limit = rate_limit
        self.status = status
        self.type = type
        self.message = message
        self.version = version
        self.request_method = request_method
        self.request_path = request_path
        self.retried = retried
        super().__init__(str(self))

    def __str__(self) -> str:
        kind = f" {self.type}" if self.type else ""
        return f"{self.request_method} {self.request_path} -> {self.status}{kind}: {self.message}"

    def __repr__(self) -> str:
        return f"AppwriteResponseError({self})"

    @property
    def already_exists(self) -> bool:
        return is_already_exists(self)

    @property
    def not_found(self) -> bool:
        return self.status == NOT_FOUND_STATUS

    @property
    def rate_limited(self) -> bool:
        return self.status == RATE_LIMITED_STATUS


class AppwriteConnectionError(AppwriteError):
    """No usable response (refused, reset, timed out, protocol error). `.timeout` tells timeouts apart.

    `maybe_applied` is false only when the request certainly never reached the server (connect failures).
    """

    def __init__(
        self, message: str, *, request_method: str = "", request_path: str = "", timeout: bool = False, maybe_applied: bool = True
    ) -> None:
        self.message = message
        self.request_method = request_method
        self.request_path = request_path
        self.timeout = timeout
        self.maybe_applied = maybe_applied
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.request_method} {self.request_path} -> no response: {self.message}"


class AppwriteProtocolError(AppwriteError):
    """A 2xx response whose body does not parse as the documented model."""


class UnsupportedServerVersion(AppwriteError):
    """The server runs an Appwrite version fnsync cannot work with (older than `minimum`)."""

    def __init__(self, version: str, minimum: str, endpoint: str = "") -> None:
        self.version = version
        self.minimum = minimum
        self.endpoint = endpoint
        where = f" at {endpoint}" if endpoint else ""
        super().__init__(
            f"the server{where} runs Appwrite {version}, which fnsync does not support: "
            f"it needs Appwrite {minimum} or newer (1.6 to 1.9 and Cloud 2.5 are supported)"
        )


class BuildWaitTimeout(AppwriteError):
    """`wait_for_build` ran out of time; `.deployment` is the last state seen."""

    def __init__(self, message: str, deployment: Deployment) -> None:
        self.deployment = deployment
        super().__init__(message)


def is_already_exists(error: BaseException) -> bool:
    """True for a 409 meaning "that id/key is taken" (`document_already_exists` on 1.6/1.7,
    `function_already_exists` on 1.8+, `variable_already_exists` for variable keys)."""
    return isinstance(error, AppwriteResponseError) and error.status == 409 and error.type in ALREADY_EXISTS_TYPES


def is_not_found(error: BaseException, type: str | None = None) -> bool:
    """True for a 404 (optionally of one `type`, e.g. `function_not_found` but not `general_route_not_found`)."""
    return (
        isinstance(error, AppwriteResponseError)
        and error.status == NOT_FOUND_STATUS
        and (type is None or error.type == type)
    )


def is_transient(error: BaseException) -> bool:
    """True when trying again later may cure it: no usable response at all, a server error or a rate limit."""
    if isinstance(error, AppwriteConnectionError):
        return True
    return isinstance(error, AppwriteResponseError) and (error.status >= 500 or error.status == 429)


def is_duplicate_of_own_create(error: BaseException) -> bool:
    """True when a create answered "already exists" only after a retry of an attempt with unknown outcome.

    The earlier attempt most likely created the resource: callers count the create as done (and converge
    the settings with an update), never create again.
    """
    return is_already_exists(error) and isinstance(error, AppwriteResponseError) and error.retried
