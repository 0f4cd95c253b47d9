"""Small shared test utilities."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> T:
    """Poll `probe` until it returns a truthy value, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def async_wait_until(probe: Callable[[], Awaitable[T]], timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


# `shared/appwrite/` beside the clone; FNSYNC_SHARED_APPWRITE names it elsewhere (e.g. from a git worktree).
SHARED_APPWRITE = Path(os.environ.get("FNSYNC_SHARED_APPWRITE") or Path(__file__).resolve().parents[1].parent / "shared" / "appwrite")
SPEC_16 = "openapi-1.6.x-server.json"
SPEC_18 = "openapi-1.8.x-server-latest.json"


@functools.cache
def _read_spec(name: str) -> dict[str, Any] | None:
    path = SHARED_APPWRITE / name
    return json.loads(path.read_text()) if path.is_file() else None


def openapi_spec(name: str = SPEC_16) -> dict[str, Any]:
    """An official Appwrite OpenAPI spec from `../shared/appwrite/` beside the repository.

    CI lays `shared/` beside its clone, so there a missing spec fails the test; elsewhere (a clone in another
    folder) the spec-checking tests are skipped instead.
    """
    spec = _read_spec(name)
    if spec is None:
        where = SHARED_APPWRITE / name
        if os.environ.get("CI"):
            pytest.fail(f"official spec expected at {where}")
        pytest.skip(f"official spec not found at {where}")
    return spec
