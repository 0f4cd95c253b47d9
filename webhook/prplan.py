"""Plans on pull/merge requests: what merging would change, computed read-only for the sticky comment and the
`fnsync/plan` commit status.

The plan is `syncer.apply.make_plan` over the head commit's manifest (with the base branch's `--branch-env`
environment), exactly what the push after the merge reconciles; it reads the server and writes nothing. It is
rendered by `syncer.render_markdown` from the `--json` document, so the comment shows the data `fnsync plan --json`
would. Nothing the receiver's environment holds reaches it from a fork: every value a fork's manifest reads through
`${NAME}` is masked in the document before rendering, and the receiver's own secrets are scrubbed from all of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from syncer.apply import make_plan
from syncer.manifest import ManifestError
from syncer.manifest.models import Manifest
from syncer.plan import PlanError, PlanOptions
from syncer.render import MASK, counts_line, plan_to_json
from syncer.render_markdown import escape_text, failure_markdown, plan_markdown
from syncer.client import AppwriteClient
from webhook.config import scrub
from webhook.reporting import FunctionReport
from webhook.specs import touches

PLAN_CONTEXT = "fnsync/plan"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")  # `${NAME` and `${NAME:-default}` (manifest interpolation)


@dataclass(frozen=True)
class PlanSection:
    """The plan part of a pull request's comment and its status: a plan document, or why there is none."""

    title: str
    document: dict[str, Any] | None = None  # `plan_to_json`, masked; None when there is no plan
    problems: str = ""  # why planning failed (file:line: field: message lines), scrubbed
    skipped: str = ""  # why nothing was planned (nothing the plan depends on changed)
    secrets: frozenset[str] = field(default_factory=frozenset)

    @property
    def failed(self) -> bool:
        return self.document is None and not self.skipped

    def status(self) -> FunctionReport:
        """`fnsync/plan`: success "N to change", or failure with the first problem (file and line)."""
        if self.failed:
            first = self.problems.strip().splitlines()[0] if self.problems.strip() else "the plan failed"
            return FunctionReport("plan", "failure", first, context=PLAN_CONTEXT)
        if self.document is None:
            return FunctionReport("plan", "success", f"nothing to plan: {self.skipped}", context=PLAN_CONTEXT)
        return FunctionReport("plan", "success", change_summary(self.document), context=PLAN_CONTEXT)

    def markdown(self, limit: int | None = None, host: str = "") -> str:
        """The section for the comment, at most `limit` characters (whole functions are cut, with a note)."""
        if self.document is not None:
            text = plan_markdown(self.document, title=self.title, limit=limit, host=host)
        elif self.skipped:
            text = f"### {self.title}\n\nNothing to plan: {escape_text(self.skipped)}.\n"
        else:
            text = failure_markdown(self.title, "Nothing was planned.", self.problems)
        text = scrub(text, set(self.secrets))
        return text if limit is None or len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def pending() -> FunctionReport:
    return FunctionReport("plan", "pending", "fnsync: planning", context=PLAN_CONTEXT)


def change_summary(document: dict[str, Any]) -> str:
    """"N to change" and the counts behind it (the status description; GitHub allows 140 characters)."""
    changes = len(document.get("changes") or [])
    if not changes:
        return "no changes: the server matches the manifest"
    counts = counts_line({"create": 0, "update": 0, "delete": 0, "variables": 0, "deploy": 0, "rebuild": 0, **document["summary"]})
    return f"{changes} to change ({counts.removeprefix('Plan: ').rstrip('.')})"


def plan_title(branch: str, environment: str | None) -> str:
    where = f" (environment `{environment}`)" if environment else ""
    return f"fnsync plan: what merging into `{branch}` changes{where}"


def manifest_files(manifest_path: str, environment: str | None) -> list[str]:
    """The files a plan reads besides code: the manifest and the `.env` files beside it."""
    folder = PurePosixPath(manifest_path).parent
    names = [".env", *([f".env.{environment}"] if environment else [])]
    return [manifest_path, *((folder / name).as_posix() for name in names)]


def concerns_plan(changed: tuple[str, ...] | None, manifest: list[str], paths: Iterable[list[str]]) -> bool:
    """Whether a pull request's changes touch what the plan depends on (unknown changes count as touching)."""
    if changed is None:
        return True
    return any(name in changed for name in manifest) or any(touches(folders, changed) for folders in paths)


def environment_values(manifest_text: str, environ: Mapping[str, str]) -> set[str]:
    """The values a manifest's `${NAME}` references would take from `environ` (masked in a fork's plan)."""
    return {environ[name] for name in _REFERENCE.findall(manifest_text) if environ.get(name)}


def mask(data: Any, hidden: frozenset[str]) -> Any:
    """`data` (a JSON document) with every string containing a hidden value replaced by the mask."""
    if isinstance(data, str):
        return MASK if any(value in data for value in hidden) else data
    if isinstance(data, dict):
        return {key: mask(value, hidden) for key, value in data.items()}
    if isinstance(data, list):
        return [mask(item, hidden) for item in data]
    if isinstance(data, (int, float)) and not isinstance(data, bool) and str(data) in hidden:
        return MASK  # `timeout: ${NAME}` makes a number of an environment value
    return data


def failed(title: str, problems: str, secrets: Iterable[str]) -> PlanSection:
    chosen = frozenset(s for s in secrets if s)
    return PlanSection(title=title, problems=scrub(problems, set(chosen)), secrets=chosen)


async def plan_pull_request(
    client: AppwriteClient,
    desired: Manifest,
    targets: list[str],
    tree: Path,
    work_dir: Path,
    title: str,
    *,
    secrets: Iterable[str] = (),
    hidden: Iterable[str] = (),
) -> PlanSection:
    """Plan `desired` for `targets` against the server (reads only). Manifest and plan problems become a failed
    section; `AppwriteError` propagates (the caller decides whether retrying helps)."""
    chosen = frozenset(s for s in (*secrets, *desired.sensitive_values(), *hidden) if s)
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        plan, _, _ = await make_plan(desired, client, PlanOptions(targets=tuple(targets)), work_dir=work_dir)
    except (ManifestError, PlanError) as exc:
        return failed(title, relative(str(exc), tree), chosen)
    document = plan_to_json(plan)
    document["unmanaged"] = []  # the receiver never deletes; other functions of the project are not this PR's business
    return PlanSection(title=title, document=mask(document, frozenset(h for h in hidden if h)), secrets=chosen)


def relative(text: str, tree: Path) -> str:
    """Messages name files relative to the repository, never by the receiver's work folder."""
    return text.replace(f"{tree.resolve()}/", "").replace(f"{tree}/", "")
