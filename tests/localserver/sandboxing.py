"""Helpers for the sandbox tests: the modes this machine can run, and a look at the process table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from localserver import sandbox


def modes() -> list[Any]:
    """`bwrap` and `user` as pytest params, each skipped (with the reason) where it cannot work.

    Under CI (`CI` set, where `.ci/run` installs bubblewrap and runs as root) nothing is skipped: a missing sandbox
    fails its tests instead of hiding them."""
    in_ci = bool(os.environ.get("CI"))
    bwrap_problem = sandbox.probe_bwrap()
    return [
        pytest.param("bwrap", marks=pytest.mark.skipif(bwrap_problem is not None and not in_ci, reason=str(bwrap_problem))),
        pytest.param("user", marks=pytest.mark.skipif(os.geteuid() != 0 and not in_ci, reason="the user fallback needs root")),
    ]


def survivors(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line holds `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state not in ("Z", "X"):
            found.append(int(entry))
    return found
