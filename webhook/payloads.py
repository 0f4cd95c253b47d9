"""Pydantic models of the parts of push / pull-request payloads the receiver uses (unknown fields ignored).

Shapes follow GitHub's documented payloads (see tests/fixtures/github), Gitea's GitHub-like ones and GitLab's
`Push Hook` / `Merge Request Hook`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A full SHA-1 or SHA-256 commit id, or empty where a payload may leave it out. Commit ids reach git's argv,
# so anything else (`--upload-pack=...`, `HEAD~1`) is refused here, where the error can name the payload field.
COMMIT_ID = r"[0-9a-f]{40}|[0-9a-f]{64}"
CommitId = Annotated[str, Field(pattern=rf"^(?:{COMMIT_ID})?$")]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- GitHub and Gitea (Gitea copies GitHub's field names) ---


class Repository(Payload):
    id: int | str
    full_name: str = ""
    clone_url: str = ""
    html_url: str = ""
    fork: bool = False


class Commit(Payload):
    id: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()


class Push(Payload):
    ref: str
    before: CommitId = ""
    after: CommitId = ""
    created: bool = False
    deleted: bool = False
    forced: bool = False
    repository: Repository
    commits: tuple[Commit, ...] | None = None
    total_commits: int | None = None  # Gitea


class BranchEnd(Payload):
    ref: str
    sha: CommitId
    repo: Repository | None = None  # null when the fork was deleted


class PullRequestBody(Payload):
    number: int
    head: BranchEnd
    base: BranchEnd


class PullRequest(Payload):
    action: str
    number: int
    pull_request: PullRequestBody
    repository: Repository


class Ping(Payload):
    zen: str = ""
    hook_id: int | None = None


# --- GitLab ---


class GitLabProject(Payload):
    id: int
    path_with_namespace: str = ""
    git_http_url: str = ""


class GitLabPush(Payload):
    object_kind: str
    ref: str
    before: CommitId = ""
    after: CommitId = ""
    checkout_sha: str | None = None
    project: GitLabProject
    commits: tuple[Commit, ...] = ()
    total_commits_count: int = 0


class GitLabLastCommit(Payload):
    id: CommitId


class GitLabMergeAttributes(Payload):
    iid: int
    action: str = ""
    source_branch: str
    target_branch: str
    source_project_id: int
    target_project_id: int
    last_commit: GitLabLastCommit
    oldrev: str | None = None


class GitLabMergeRequest(Payload):
    object_kind: str
    project: GitLabProject
    object_attributes: GitLabMergeAttributes
    source: GitLabProject | None = Field(default=None)
