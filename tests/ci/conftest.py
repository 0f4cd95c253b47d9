"""Fixtures of the CI tests: the fake GitHub (tests/webhook/fake_github.py, used as it is)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhook.fake_github import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake
