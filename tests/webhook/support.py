"""Test support: GitHub-shaped payloads from the octokit fixtures, signing, and real git repositories."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import git

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
SECRET = "test-webhook-secret"
ZERO = "0" * 40


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(event: str, body: bytes, delivery: str | None = None, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc123",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "292430182",
        "X-Hub-Signature-256": sign(body, secret),
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def push_payload(
    *, repo_id: int, clone_url: str, branch: str, before: str, after: str, commits: list[dict[str, Any]] | None = None,
    full_name: str = "Codertocat/Hello-World", created: bool = False, forced: bool = False,
) -> dict[str, Any]:
    """The octokit push example, pointed at a test repository (only identity fields change)."""
    payload = copy.deepcopy(fixture("push"))
    template = payload["commits"][0]
    payload.update(ref=f"refs/heads/{branch}", before=before, after=after, created=created, forced=forced, deleted=False)
    payload["repository"].update(id=repo_id, clone_url=clone_url, full_name=full_name)
    payload["commits"] = [
        {**copy.deepcopy(template), "id": c["id"], "tree_id": c.get("tree_id", template["tree_id"]),
         "added": c.get("added", []), "removed": c.get("removed", []), "modified": c.get("modified", [])}
        for c in (commits or [])
    ]
    payload["head_commit"] = payload["commits"][-1] if payload["commits"] else None
    return payload


def pull_request_payload(
    *, repo_id: int, clone_url: str, number: int, base: str, base_sha: str, head_sha: str, action: str = "opened",
    full_name: str = "Codertocat/Hello-World", fork: bool = False,
) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("pull_request-synchronize" if action == "synchronize" else "pull_request-opened"))
    payload.update(action=action, number=number)
    payload["repository"].update(id=repo_id, clone_url=clone_url, full_name=full_name)
    pr = payload["pull_request"]
    pr["number"] = number
    pr["base"].update(ref=base, sha=base_sha)
    pr["base"]["repo"].update(id=repo_id, clone_url=clone_url, full_name=full_name)
    pr["head"].update(sha=head_sha)
    pr["head"]["repo"].update(id=repo_id + 1 if fork else repo_id, clone_url=clone_url, full_name=("someone/fork" if fork else full_name))
    return payload


class Remote:
    """A bare repository as the 'GitHub' remote, and a working clone to commit from."""

    def __init__(self, root: Path, name: str = "origin") -> None:
        self.bare_path = root / f"{name}.git"
        self.bare = git.Repo.init(self.bare_path, bare=True, initial_branch="main")
        self.work = git.Repo.init(root / f"{name}-work", initial_branch="main")
        with self.work.config_writer() as cfg:
            cfg.set_value("user", "name", "Test")
            cfg.set_value("user", "email", "test@example.com")
        self.work.create_remote("origin", self.url)

    @property
    def url(self) -> str:
        return self.bare_path.as_uri()

    def commit(self, files: dict[str, str | None], message: str = "change", branch: str = "main") -> str:
        """Write (or delete, for None) files, commit on `branch`, push; returns the commit id."""
        root = Path(self.work.working_tree_dir or ".")
        if self.work.head.is_valid() and self.work.active_branch.name != branch:
            if branch in [h.name for h in self.work.heads]:
                self.work.git.checkout(branch)
            else:
                self.work.git.checkout("-b", branch)
        for name, content in files.items():
            path = root / name
            if content is None:
                self.work.index.remove([name], working_tree=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            self.work.index.add([name])
        commit = self.work.index.commit(message)
        if not self.work.head.is_valid() or self.work.active_branch.name != branch:
            self.work.git.checkout("-B", branch)
        self.work.git.push("origin", f"HEAD:refs/heads/{branch}", "--force")
        return commit.hexsha

    def commit_series(self, path: str, contents: list[str], branch: str = "main") -> list[str]:
        """One commit per item of `contents` (each rewriting `path`) on top of `branch`, made in one `git fast-import`
        and pushed at once; returns the commit ids in order. Hundreds of commits in well under a second."""
        parent = self.work.git.rev_parse(branch)
        script = []
        for number, content in enumerate(contents, start=1):
            data = content.encode()
            message = f"change {number}".encode()
            script.append(f"commit refs/heads/{branch}\nmark :{number}\ncommitter Test <test@example.com> {1700000000 + number} +0000\n".encode())
            script.append(b"data %d\n%s\n" % (len(message), message))
            if number == 1:
                script.append(f"from {parent}\n".encode())
            script.append(f"M 100644 inline {path}\n".encode() + b"data %d\n%s\n" % (len(data), data))
        marks = Path(self.work.git_dir) / "fnsync-marks"
        subprocess.run(["git", "fast-import", "--quiet", f"--export-marks={marks}"], input=b"".join(script),
                       cwd=self.work.working_tree_dir, check=True)
        shas = dict(line.split() for line in marks.read_text().splitlines())
        self.work.git.reset("--hard", branch)
        self.work.git.push("origin", f"{branch}:refs/heads/{branch}", "--force")
        return [shas[f":{n}"] for n in range(1, len(contents) + 1)]

    def push_ref(self, sha: str, ref: str) -> None:
        self.work.git.push("origin", f"{sha}:{ref}", "--force")


# --- GitLab and Gitea deliveries ---------------------------------------------------------------------------


def gitea_headers(event: str, body: bytes, delivery: str | None = None, secret: str = SECRET) -> dict[str, str]:
    """What Gitea sends: its own headers (bare hex signature) and GitHub's copies."""
    delivery = delivery or str(uuid.uuid4())
    signature = sign(body, secret)[len("sha256=") :]
    return {
        "Content-Type": "application/json",
        "X-Gitea-Event": event, "X-Gitea-Event-Type": event, "X-Gitea-Delivery": delivery, "X-Gitea-Signature": signature,
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": f"sha256={signature}",
    }


def gitlab_headers(event: str, delivery: str | None = None, secret: str = SECRET) -> dict[str, str]:
    delivery = delivery or str(uuid.uuid4())
    return {"Content-Type": "application/json", "X-Gitlab-Event": event, "X-Gitlab-Token": secret,
            "X-Gitlab-Event-UUID": delivery, "Idempotency-Key": delivery, "User-Agent": "GitLab/17.0.0"}


def _gitlab_project(project_id: int, clone_url: str, path: str) -> dict[str, Any]:
    return {"id": project_id, "name": path.rsplit("/", 1)[-1], "path_with_namespace": path, "default_branch": "main",
            "web_url": f"https://gitlab.example.com/{path}", "git_http_url": clone_url,
            "git_ssh_url": f"git@gitlab.example.com:{path}.git", "visibility_level": 0}


def gitlab_push_payload(*, project_id: int, clone_url: str, branch: str, before: str, after: str, files: list[str] | None,
                        path: str = "acme/shop") -> dict[str, Any]:
    """A `Push Hook` body as GitLab documents it (the fields the receiver reads, and their neighbours)."""
    commits = [] if files is None else [{
        "id": after, "message": "change", "title": "change", "timestamp": "2024-01-01T00:00:00+00:00",
        "url": f"https://gitlab.example.com/{path}/-/commit/{after}", "author": {"name": "Test", "email": "t@example.com"},
        "added": [], "modified": files, "removed": [],
    }]
    return {"object_kind": "push", "event_name": "push", "before": before, "after": after, "ref": f"refs/heads/{branch}",
            "ref_protected": True, "checkout_sha": after, "user_id": 4, "user_name": "Test", "user_username": "test",
            "project_id": project_id, "project": _gitlab_project(project_id, clone_url, path), "commits": commits,
            "total_commits_count": len(commits), "repository": {"name": path.rsplit("/", 1)[-1], "url": clone_url}}


def gitlab_mr_payload(*, project_id: int, clone_url: str, iid: int, target: str, source: str, head: str,
                      action: str = "open", path: str = "acme/shop") -> dict[str, Any]:
    """A `Merge Request Hook` body for a merge request inside one project."""
    project = _gitlab_project(project_id, clone_url, path)
    return {
        "object_kind": "merge_request", "event_type": "merge_request", "user": {"id": 4, "username": "test"},
        "project": project,
        "object_attributes": {
            "id": 90000 + iid, "iid": iid, "target_branch": target, "source_branch": source, "source_project_id": project_id,
            "target_project_id": project_id, "state": "opened", "action": action, "title": "Change",
            "last_commit": {"id": head, "message": "change", "url": f"https://gitlab.example.com/{path}/-/commit/{head}"},
            "url": f"https://gitlab.example.com/{path}/-/merge_requests/{iid}", "source": project, "target": project,
        },
        "repository": {"name": project["name"], "url": clone_url},
    }


class CommentIds:
    """An in-memory stand-in for the receiver's store of PR/MR comment ids (what `Reporters` remembers)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, int], int] = {}

    async def get(self, repo: str, number: int) -> int | None:
        return self.ids.get((repo, number))

    async def put(self, repo: str, number: int, comment_id: int) -> None:
        self.ids[(repo, number)] = comment_id
