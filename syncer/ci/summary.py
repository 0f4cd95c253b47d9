"""The job summary of GitHub Actions (and Gitea/Forgejo runners that offer it): Markdown appended to the file
named by `GITHUB_STEP_SUMMARY`, which the run's page shows under the job."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def step_summary_path(environ: Mapping[str, str]) -> Path | None:
    """Where to append the job summary, or None outside a runner that offers one."""
    value = environ.get(STEP_SUMMARY, "")
    return Path(value) if value else None


def append_step_summary(path: Path, markdown: str) -> None:
    """Append one block (steps may write several; the runner shows them in order)."""
    with path.open("a", encoding="utf-8") as summary:
        summary.write(markdown.rstrip("\n") + "\n\n")
