"""When and how long to retry a request: capped exponential backoff with full jitter, bounded by attempts and time.

What may be retried depends on what a repeat can do on the server (`Safety`):

- `IDEMPOTENT` (GET, PUT, PATCH, DELETE, and upload chunks after the first, which carry `X-Appwrite-ID`): repeating
  is harmless, so connection errors, timeouts, 5xx and 429 are all retried.
- `KEYED_CREATE` (POST that creates by a unique id or key: functions, variables): retried like idempotent requests,
  because a repeat of an attempt that did land can only answer 409 "already exists", never create twice.
  That 409 is flagged (`Outcome.ambiguous`), so the caller can tell it from a real conflict.
- `UNSAFE` (POST of a deployment's first chunk, executions, rebuilds): a repeat could create a second resource,
  so it is retried only when the first attempt certainly did not reach the server: connect failures and 429.

Waits honour `Retry-After` (seconds or an HTTP date) and `X-RateLimit-Reset` (unix seconds). A server asking for
longer than the remaining time budget ends the retries at once instead of sleeping past it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger("syncer.client")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

RETRY_STATUSES = frozenset({500, 502, 503, 504})
RATE_LIMITED = 429
# Errors raised before a single byte of the request left this machine.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Safety(enum.Enum):
    IDEMPOTENT = "idempotent"
    KEYED_CREATE = "keyed_create"
    UNSAFE = "unsafe"


class RetryPolicy(BaseModel):
    """Retry bounds. The defaults suit a CLI run: a few seconds of patience for blips, a minute at most."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=5, ge=1)
    base_delay: float = Field(default=0.25, ge=0)
    max_delay: float = Field(default=8.0, ge=0)
    max_elapsed: float = Field(default=60.0, ge=0)

    def backoff(self, retry_number: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**(n-1))] for the n-th retry."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return ceiling * rng()


NO_RETRY = RetryPolicy(max_attempts=1)


def retry_after_seconds(headers: httpx.Headers, now: float) -> float | None:
    """The server's requested wait: `Retry-After` (delta seconds or HTTP date), else `X-RateLimit-Reset` (unix time)."""
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def _in_words(error: httpx.TransportError | None) -> str:
    """A transport failure as people say it (the retry log line is read by users, not by Python programmers)."""
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(error, httpx.ConnectError):
        return "cannot connect"
    return "connection broken"


def _caused_by_tls(error: BaseException) -> bool:
    """True when an `ssl.SSLError` lies anywhere in the chain (httpx wraps httpcore, which wraps ssl)."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class Outcome:
    """The final response of a retried request, and whether an earlier attempt may already have been applied."""

    response: httpx.Response
    attempts: int
    ambiguous: bool


@dataclass
class Retrier:
    """Runs one request with retries. Sleep and clocks are injectable so tests never really wait."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    clock: Clock = time.monotonic
    wall_clock: Clock = time.time
    rng: Callable[[], float] = random.random

    async def run(
        self,
        send: Callable[[int], Awaitable[httpx.Response]],
        *,
        safety: Safety,
        describe: str,
    ) -> Outcome:
        """Call `send(attempt)` until it gives a final response; re-raise the last httpx error if none came.

        `send` gets the 1-based attempt number (for stats) and must return a response whose body is read.
        """
        started = self.clock()
        ambiguous = False
        attempt = 0
        while True:
            attempt += 1
            response: httpx.Response | None = None
            error: httpx.TransportError | None = None
            try:
                response = await send(attempt)
            except httpx.TransportError as exc:
                error = exc
            retry, hint, was_applied = self._decide(response, error, safety)
            if not retry:
                if response is None:
                    assert error is not None
                    raise error
                return Outcome(response, attempt, ambiguous)
            delay = max(hint or 0.0, self.policy.backoff(attempt, self.rng))
            elapsed = self.clock() - started
            if attempt >= self.policy.max_attempts or elapsed + delay > self.policy.max_elapsed:
                if response is None:
                    assert error is not None
                    raise error
                return Outcome(response, attempt, ambiguous)
            ambiguous = ambiguous or was_applied
            reason = f"{response.status_code}" if response is not None else _in_words(error)
            logger.warning("%s: %s; retry %d/%d in %.2fs", describe, reason, attempt, self.policy.max_attempts - 1, delay)
            if response is not None:
                await response.aclose()
            await self.sleep(delay)

    def _decide(
        self, response: httpx.Response | None, error: httpx.TransportError | None, safety: Safety
    ) -> tuple[bool, float | None, bool]:
        """(retry?, server-requested wait, may the failed attempt have been applied?)."""
        if error is not None:
            if _caused_by_tls(error):
                return False, None, False  # a TLS mismatch or an untrusted certificate does not heal by waiting
            if isinstance(error, NOT_SENT_ERRORS):
                return True, None, False
            return safety is not Safety.UNSAFE, None, True
        assert response is not None
        status = response.status_code
        if status == RATE_LIMITED:
            return True, retry_after_seconds(response.headers, self.wall_clock()), False
        if status in RETRY_STATUSES and safety is not Safety.UNSAFE:
            return True, retry_after_seconds(response.headers, self.wall_clock()), True
        return False, None, False
