"""What a bad manifest looks like to callers: one `ManifestError` carrying every `ManifestIssue` found.

Validation never stops at the first problem, so the error is a list; `str(error)` prints one
`FILE:LINE: FIELD: message` line per issue, the format editors and CI annotations understand.
Messages never repeat a variable's value nor (with a few harmless exceptions: paths, runtimes, specifications) any
other value, so a secret interpolated from the environment can't leak into logs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class ManifestIssue(BaseModel):
    """One problem at one place. `line`/`column` are 1-based; 0 means "no particular place"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int = 0
    column: int = 0
    field: str = ""  # dotted path, e.g. `functions.api.timeout` or `functions.api.events[1]`
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ManifestError(Exception):
    """The manifest can't be used; `.issues` lists everything wrong with it, in file order."""

    def __init__(self, issues: Iterable[ManifestIssue]) -> None:
        self.issues: list[ManifestIssue] = sort_issues(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


def sort_issues(issues: Iterable[ManifestIssue]) -> list[ManifestIssue]:
    """File order (stable, so issues on one line keep the order they were found in), without repeats."""
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: (issue.file, issue.line, issue.column))


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working folder when inside it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(absolute)
