"""Decide what a verified delivery asks for: a job of identity only, or an ignore with the reason.

Pure functions over parsed JSON, so every rule is unit-tested without HTTP. Ignored events still get 2xx:
GitLab disables a hook after repeated 4xx answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from webhook import payloads
from webhook.signatures import Provider

PR_ACTIONS = {"opened", "synchronize", "synchronized", "reopened"}  # Gitea says "synchronized"
GITLAB_MR_ACTIONS = {"open", "update", "reopen"}
COMMIT_ID = rf"^(?:{payloads.COMMIT_ID})$"  # the last guard before git's argv (payloads.CommitId checks first)


class Ignored(BaseModel):
    model_config = ConfigDict(frozen=True)
    reason: str


class JobRequest(BaseModel):
    """What a worker needs to deploy: identity only (repo, branch, commit), never the payload itself."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    kind: Literal["push", "pull_request"]
    repo_id: str
    repo_name: str  # owner/name, for VCS reporting
    clone_url: str
    branch: str  # the branch functions are linked to: the pushed branch, or the PR's base branch
    fetch_ref: str  # what to fetch besides the commit: refs/heads/<b>, refs/pull/<n>/head, ...
    sha: str = Field(pattern=COMMIT_ID)
    before: str | None = Field(default=None, pattern=COMMIT_ID)  # previous commit (push) or the PR base, for diffing; None when unknown
    changed: tuple[str, ...] | None = None  # files changed per the payload; None = not listed completely
    pr_number: int | None = None
    fork: bool = False  # a pull request from another repository: its plan never shows the receiver's environment
    web_url: str = ""  # the repository's web page (Gitea: where its API lives when --gitea-api-url is not given)
    # Commits of deliveries this job replaced in the queue (push only); the worker deploys the newest by history.
    candidates: tuple[Annotated[str, Field(pattern=COMMIT_ID)], ...] = ()

    @property
    def key(self) -> str:
        """Coalescing key: one pending job per repository and branch (or pull request)."""
        target = f"pr/{self.pr_number}" if self.pr_number is not None else self.branch
        return f"{self.provider.value}:{self.repo_id}:{target}"


    def replacing(self, older: JobRequest) -> JobRequest:
        """This job, taking the place of `older` (same key) in the queue: `older`'s commit stays a candidate, so
        the worker deploys whichever is newest by git history, not by arrival; the payload's diff hints merge."""
        if older.kind != "push" or self.kind != "push":
            return self
        candidates = tuple(dict.fromkeys(c for c in (*older.candidates, older.sha, *self.candidates) if c != self.sha))
        changed = None if older.changed is None or self.changed is None else tuple(sorted({*older.changed, *self.changed}))
        return self.model_copy(update={"candidates": candidates, "before": older.before, "changed": changed})


Decision = Ignored | JobRequest


def is_zero(sha: str | None) -> bool:
    """An absent or all-zero commit id (40 or 64 zeros): a created branch's `before`, a deleted one's `after`."""
    return not sha or set(sha) == {"0"}
UrlCheck = Callable[[str], bool]


def _changed(commits: tuple[payloads.Commit, ...] | None, complete: bool) -> tuple[str, ...] | None:
    if not complete or not commits:
        return None
    files: set[str] = set()
    for commit in commits:
        files.update(commit.added, commit.removed, commit.modified)
    return tuple(sorted(files))


def _branch(ref: str) -> str | None:
    return ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None


def _not_allowed(url: str) -> Ignored:
    return Ignored(reason=f"clone URL {url or '(none)'} does not match --allow-clone-url")


def _push_job(
    provider: Provider, push: payloads.Push | payloads.GitLabPush, repo_id: str, repo_name: str, clone_url: str, branch: str, complete: bool,
    web_url: str = "",
) -> JobRequest:
    """The job of a branch push, from either provider's payload (the repository fields are named differently)."""
    return JobRequest(
        provider=provider,
        kind="push",
        repo_id=repo_id,
        repo_name=repo_name,
        clone_url=clone_url,
        branch=branch,
        fetch_ref=push.ref,
        sha=push.after,
        before=None if is_zero(push.before) else push.before,
        changed=_changed(push.commits, complete),
        web_url=web_url,
    )


def _push(provider: Provider, push: payloads.Push, allowed: UrlCheck) -> Decision:
    branch = _branch(push.ref)
    if push.deleted or is_zero(push.after):
        what = f"branch {branch}" if branch else push.ref
        return Ignored(reason=f"{what} was deleted: nothing to deploy")
    if branch is None:
        return Ignored(reason=f"{push.ref} is not a branch (tag pushes are not deployed)")
    if not allowed(push.repository.clone_url):
        return _not_allowed(push.repository.clone_url)
    # GitHub lists at most 2048 commits (20 in some payloads); creations and force pushes do not list
    # the files relative to what was deployed, so those rebuild every matched function.
    count = len(push.commits or ())
    complete = (
        not push.created
        and not push.forced
        and not is_zero(push.before)
        and 0 < count < 20
        and (push.total_commits is None or push.total_commits == count)
    )
    repo = push.repository
    return _push_job(provider, push, str(repo.id), repo.full_name, repo.clone_url, branch, complete, repo.html_url)


def _pull_request(provider: Provider, event: payloads.PullRequest, allowed: UrlCheck, allow_forks: bool) -> Decision:
    if event.action not in PR_ACTIONS:
        return Ignored(reason=f"pull request action {event.action!r} does not build a preview")
    pr = event.pull_request
    head_repo = pr.head.repo
    base_repo = pr.base.repo or event.repository
    fork = head_repo is None or str(head_repo.id) != str(base_repo.id)
    if fork and not allow_forks:
        return Ignored(reason=f"pull request #{event.number} comes from a fork (start with --allow-fork-prs to build it)")
    # The base repository serves refs/pull/<n>/head for forks too, so credentials stay with one repository.
    clone_url = base_repo.clone_url
    if not allowed(clone_url):
        return _not_allowed(clone_url)
    fetch_ref = f"refs/pull/{event.number}/head"  # GitHub and Gitea both serve it
    return JobRequest(
        provider=provider,
        kind="pull_request",
        repo_id=str(base_repo.id),
        repo_name=base_repo.full_name,
        clone_url=clone_url,
        branch=pr.base.ref,
        fetch_ref=fetch_ref,
        sha=pr.head.sha,
        before=pr.base.sha or None,
        changed=None,
        pr_number=event.number,
        fork=fork,
        web_url=base_repo.html_url,
    )


def _gitlab(event: str, body: dict[str, Any], allowed: UrlCheck, allow_forks: bool) -> Decision:
    if event == "Push Hook":
        push = payloads.GitLabPush.model_validate(body)
        branch = _branch(push.ref)
        if is_zero(push.after):
            return Ignored(reason=f"branch {branch or push.ref} was deleted: nothing to deploy")
        if branch is None:
            return Ignored(reason=f"{push.ref} is not a branch (tag pushes are not deployed)")
        if not allowed(push.project.git_http_url):
            return _not_allowed(push.project.git_http_url)
        count = len(push.commits)
        complete = not is_zero(push.before) and 0 < count == push.total_commits_count and count < 20
        project = push.project
        return _push_job(Provider.GITLAB, push, str(project.id), project.path_with_namespace, project.git_http_url, branch, complete)
    if event == "Merge Request Hook":
        mr = payloads.GitLabMergeRequest.model_validate(body)
        attrs = mr.object_attributes
        if attrs.action not in GITLAB_MR_ACTIONS:
            return Ignored(reason=f"merge request action {attrs.action!r} does not build a preview")
        fork = attrs.source_project_id != attrs.target_project_id
        if fork and not allow_forks:
            return Ignored(reason=f"merge request !{attrs.iid} comes from a fork (start with --allow-fork-prs to build it)")
        if not allowed(mr.project.git_http_url):
            return _not_allowed(mr.project.git_http_url)
        return JobRequest(
            provider=Provider.GITLAB,
            kind="pull_request",
            repo_id=str(mr.project.id),
            repo_name=mr.project.path_with_namespace,
            clone_url=mr.project.git_http_url,
            branch=attrs.target_branch,
            fetch_ref=f"refs/merge-requests/{attrs.iid}/head",
            sha=attrs.last_commit.id,
            before=None,
            pr_number=attrs.iid,
            fork=fork,
        )
    if event == "Tag Push Hook":
        return Ignored(reason="tag pushes are not deployed")
    return Ignored(reason=f"event {event or '(none)'!r} is not handled")


def classify(provider: Provider, event: str, body: Any, allowed: UrlCheck, allow_forks: bool = False) -> Decision:
    """Map one verified delivery to a job or an ignore. Raises `pydantic.ValidationError` on a malformed payload."""
    if not isinstance(body, dict):
        raise ValueError("the payload must be a JSON object")
    if provider is Provider.GITLAB:
        return _gitlab(event, body, allowed, allow_forks)
    if event == "ping":
        ping = payloads.Ping.model_validate(body)
        return Ignored(reason=f"ping (hook {ping.hook_id}): the receiver is reachable and the signature is valid")
    if event == "push":
        return _push(provider, payloads.Push.model_validate(body), allowed)
    if event == "pull_request":
        return _pull_request(provider, payloads.PullRequest.model_validate(body), allowed, allow_forks)
    if event in ("create", "delete"):
        return Ignored(reason=f"{event} events are not deployed (pushes are)")
    return Ignored(reason=f"event {event or '(none)'!r} is not handled")
