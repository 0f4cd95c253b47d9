"""What `plan` and `apply` add when they run in CI: the plan as one sticky PR comment, and the job summary.

Both render the same JSON document `--json` prints (`syncer.render_markdown`), scrubbed of secrets like every
other output before it leaves the process. A manifest that does not load gets a comment too, listing its
issues (file, line, field; issues never quote values), so the pull request says why there is no plan.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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
from syncer.cli.common import load_or_abort, secrets_of
from syncer.cli.terminal import Terminal
from syncer.manifest import ManifestError, load_manifest
from syncer.manifest.models import Manifest
from syncer.plan import PlanError
from syncer.render_markdown import (
    COMMENT_LIMITS,
    STEP_SUMMARY_LIMIT,
    apply_markdown,
    cut_text,
    failure_markdown,
    plan_markdown,
)

COMMENT_TIMEOUT = 30.0


def display_name(path: Path) -> str:
    """A manifest's path relative to the working directory when it is inside it (as CI jobs name it)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.getcwd()).as_posix()
    except ValueError:
        return absolute.name


def plan_title(path: Path, environment: str | None, command: str = "plan") -> str:
    where = f" (environment `{environment}`)" if environment else ""
    return f"fnsync {command} for `{display_name(path)}`{where}"


def comment_marker(path: Path, environment: str | None) -> str:
    """The hidden line that finds this manifest's (and environment's) comment again: one comment per plan target."""
    env = f" env={environment}" if environment else ""
    return f"<!-- fnsync:plan {display_name(path)}{env} -->"


def comment_target(terminal: Terminal) -> PullRequest:
    """The pull request to comment on, read before anything else is done: a missing variable exits 1 at once."""
    try:
        return pull_request_from_env(os.environ)
    except CiEnvironmentError as exc:
        terminal.abort(f"cannot comment: {exc}")


def load_or_comment(terminal: Terminal, path: Path, env: str | None, target: PullRequest | None) -> Manifest:
    """`load_or_abort`; with a comment target, a manifest that does not load is also reported on the pull request."""
    try:
        return load_or_abort(terminal, path, env)
    except SystemExit:
        if target is not None:  # the issues are printed; say them on the pull request too (loading again is cheap)
            try:
                load_manifest(path, env=env)
            except ManifestError as exc:
                post_comment(terminal, target, comment_marker(path, env), failure_comment(path, env, exc), secrets_of(None))
        raise


@contextmanager
def plan_failure_commented(terminal: Terminal, target: PullRequest | None, manifest: Manifest, secrets: tuple[str, ...]) -> Iterator[None]:
    """Problems only the server reveals (a runtime it does not offer, an unknown --target) go to the comment too."""
    try:
        yield
    except (ManifestError, PlanError) as exc:
        if target is not None:
            body = failure_comment(manifest.source, manifest.environment, exc)
            post_comment(terminal, target, comment_marker(manifest.source, manifest.environment), body, secrets)
        raise


def failure_comment(path: Path, env: str | None, error: ManifestError | PlanError) -> str:
    if isinstance(error, ManifestError):
        lines = "\n".join(str(issue) for issue in error.issues)
        what = f"The manifest has {len(error.issues)} problem(s); nothing was planned."
    else:
        lines, what = str(error), "fnsync could not plan."
    return failure_markdown(plan_title(path, env), what, lines)


def post_plan_comment(
    terminal: Terminal, target: PullRequest, manifest: Manifest, document: dict[str, Any], secrets: tuple[str, ...]
) -> None:
    """Create or update the pull request's plan comment; a refusal by the host exits 1 with what to do."""
    marker = comment_marker(manifest.source, manifest.environment)
    limit = COMMENT_LIMITS[target.provider] - len(marker) - 1
    body = plan_markdown(document, title=plan_title(manifest.source, manifest.environment), limit=limit, host=target.provider)
    post_comment(terminal, target, marker, body, secrets)


def post_comment(terminal: Terminal, target: PullRequest, marker: str, body: str, secrets: tuple[str, ...]) -> None:
    body = cut_text(scrub(body, secrets), COMMENT_LIMITS[target.provider] - len(marker) - 1)
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
        title = plan_title(manifest.source, manifest.environment)
        write_step_summary(terminal, plan_markdown(document, title=title, limit=STEP_SUMMARY_LIMIT), secrets)


def apply_step_summary(terminal: Terminal, manifest: Manifest, document: dict[str, Any], secrets: tuple[str, ...]) -> None:
    """`fnsync apply`'s result (and the plan it carried out) in the job summary, when the runner offers one."""
    if step_summary_path(os.environ) is not None:
        title = plan_title(manifest.source, manifest.environment, command="apply")
        write_step_summary(terminal, apply_markdown(document, title=title, limit=STEP_SUMMARY_LIMIT), secrets)
