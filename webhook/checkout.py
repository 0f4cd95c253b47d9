"""Which commit a job deploys, what changed since the branch's deployed commit, and its tree on disk.

History decides, not arrival: after fetching the branch, the newest of the job's commits (its own and those of
the deliveries it replaced in the queue) is the branch's head if it is among them, else the one the others are
ancestors of. A push commit that does not descend from the commit the branch is deployed at, and is not the
branch's head, is recorded and not deployed: an older push arriving late, or an old signed body replayed.
The touched-folder diff starts at the deployed commit, so nothing a failed or skipped delivery changed is lost.
Runs in a worker thread: git is blocking.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webhook.deliveries import Head
from webhook.events import JobRequest
from webhook.mirror import MirrorCache


@dataclass(frozen=True)
class Checkout:
    sha: str  # the commit to deploy
    changed: tuple[str, ...] | None  # files changed since the deployed commit (or the payload's base); None = unknown
    stale: str | None = None  # why this commit is not deployed


def check_out(mirrors: MirrorCache, job: JobRequest, deployed: Head | None, tree: Path) -> Checkout:
    """Fetch, decide the commit, diff, and export it into `tree` (not exported when stale).

    Raises `mirror.GitError` (fetch failures) and OSError/ValueError (an archive the `data` filter refuses)."""
    url, push = job.clone_url, job.kind == "push"
    head = deployed if push else None
    also = (*job.candidates, job.before or "", head.sha if head else "")
    fetched = mirrors.fetch(url, job.sha, ref=job.fetch_ref, also=also, provider=job.provider.value)
    sha = job.sha
    if push:
        sha = mirrors.newest(url, (*job.candidates, job.sha), fetched.tip) or job.sha
        if head is not None and sha != fetched.tip and not mirrors.is_ancestor(url, head.sha, sha):
            reason = (
                f"{sha[:12]} does not descend from {head.sha[:12]}, which delivery {head.delivery_id} deployed, and is "
                f"not the head of {job.branch}: an older commit is not deployed"
            )
            return Checkout(sha, None, reason)
    changed = job.changed
    for base in (head.sha if head else None, job.before):
        if base:
            diff = mirrors.changed_files(url, base, sha, merge_base=not push)
            if diff is not None:
                changed = diff
                break
    mirrors.export(url, sha, tree)
    return Checkout(sha, changed)
