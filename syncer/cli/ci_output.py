"""What `plan` and `apply` add when they run in CI: the plan as one sticky PR comment, and the job summary.

Both render the same JSON document `--json` prints (`syncer.render_markdown`), scrubbed of secrets like every
other output before it leaves the process.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from syncer.ci import (
    CiEnvironmentError,
    CommentError,
    PullRequest,
    StickyComment,
    append_step_summary,
    pull_request_from_env,
    step_summary_path,
)
from syncer.client.errors import scrub
from syncer.cli.terminal import Terminal
from syncer.manifest.models import Manifest
from syncer.render_markdown import COMMENT_LIMITS, STEP_SUMMARY_LIMIT, apply_markdown, plan_markdown

COMMENT_TIMEOUT = 30.0


def plan_title(manifest: Manifest) -> str:
    where = f" (environment `{manifest.environment}`)" if manifest.environment else ""
    return f"fnsync plan for `{display_name(manifest)}`{where}"


def display_name(manifest: Manifest) -> str:
    """The manifest's path relative to the working directory when it is inside it (as CI jobs name it)."""
    try:
        return manifest.source.relative_to(os.getcwd()).as_posix()
    except ValueError:
        return manifest.source.name


def comment_marker(manifest: Manifest) -> str:
    """The hidden line that finds this manifest's (and environment's) comment again: one comment per plan target."""
    env = f" env={manifest.environment}" if manifest.environment else ""
    return f"<!-- fnsync:plan {display_name(manifest)}{env} -->"


def comment_target(terminal: Terminal) -> PullRequest:
    """The pull request to comment on, read before anything else is done: a missing variable exits 1 at once."""
    try:
        return pull_request_from_env(os.environ)
    except CiEnvironmentError as exc:
        terminal.abort(f"cannot comment: {exc}")


def post_plan_comment(
    terminal: Terminal, target: PullRequest, manifest: Manifest, document: dict[str, Any], secrets: tuple[str, ...]
) -> None:
    """Create or update the pull request's plan comment; a refusal by the host exits 1 with what to do."""
    marker = comment_marker(manifest)
    limit = COMMENT_LIMITS[target.provider] - len(marker) - 1
    body = scrub(plan_markdown(document, title=plan_title(manifest), limit=limit, host=target.provider), secrets)
    try:
        with httpx.Client(timeout=COMMENT_TIMEOUT) as http:
            posted = StickyComment(target, http).upsert(marker, body)
    except CommentError as exc:
        terminal.abort(f"cannot comment on {target.describe()}: {scrub(str(exc), secrets)}")
    terminal.success(f"{posted.action.capitalize()} the plan comment on {target.describe()} (comment {posted.comment_id}).")


def write_step_summary(terminal: Terminal, markdown: str, secrets: tuple[str, ...]) -> None:
    """Append to GITHUB_STEP_SUMMARY when the runner offers one; a failure to write is a warning, not an error."""
    path = step_summary_path(os.environ)
    if path is None:
        return
    try:
        append_step_summary(path, scrub(markdown, secrets))
    except OSError as exc:
        terminal.warning(f"could not write the job summary {path}: {exc.strerror or exc}")


def plan_step_summary(terminal: Terminal, manifest: Manifest, document: dict[str, Any], secrets: tuple[str, ...]) -> None:
    if step_summary_path(os.environ) is not None:
        markdown = plan_markdown(document, title=plan_title(manifest), limit=STEP_SUMMARY_LIMIT, host="")
        write_step_summary(terminal, markdown, secrets)


def apply_step_summary(terminal: Terminal, manifest: Manifest, document: dict[str, Any], secrets: tuple[str, ...]) -> None:
    """`fnsync apply`'s result (and the plan it carried out) in the job summary, when the runner offers one."""
    if step_summary_path(os.environ) is not None:
        title = plan_title(manifest).replace("fnsync plan", "fnsync apply", 1)
        write_step_summary(terminal, apply_markdown(document, title=title, limit=STEP_SUMMARY_LIMIT), secrets)
