"""A cache of bare git mirrors: fetch one commit, list changed files, export its tree. No hooks, no submodules.

Git runs in worker threads (GitPython shells out to git). Credentials for https remotes come from
GITHUB_TOKEN and reach git only through `GIT_CONFIG_*` environment variables (an `http.extraHeader`), so they
appear in no URL, no argv, no config file, and no log line; errors are scrubbed before they are stored.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tarfile
import threading
from pathlib import Path

import git

from webhook.config import scrub


class GitError(Exception):
    """A git operation failed. `transient` says whether retrying may help (network) or not (missing commit)."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class MirrorCache:
    def __init__(self, root: Path, token: str | None = None) -> None:
        self.root = root
        self._token = token
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    def _env(self, url: str) -> dict[str, str]:
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_ALLOW_PROTOCOL": "https:http:file:ssh:git",
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "core.hooksPath",
            "GIT_CONFIG_VALUE_0": os.devnull,
            "GIT_CONFIG_KEY_1": "submodule.recurse",
            "GIT_CONFIG_VALUE_1": "false",
        }
        if self._token and url.startswith("https://"):
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
            env.update(
                {"GIT_CONFIG_COUNT": "3", "GIT_CONFIG_KEY_2": "http.extraHeader",
                 "GIT_CONFIG_VALUE_2": f"Authorization: Basic {basic}"}
            )
        return env

    def _secrets(self) -> set[str]:
        if not self._token:
            return set()
        return {self._token, base64.b64encode(f"x-access-token:{self._token}".encode()).decode()}

    def path_for(self, url: str) -> Path:
        return self.root / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.git"

    def _lock(self, url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(url, threading.Lock())

    def fetch(self, url: str, sha: str, refs: tuple[str, ...] = (), also: tuple[str, ...] = ()) -> Path:
        """Make sure commit `sha` (and, best effort, the commits in `also`) is in the mirror of `url`.

        The first call creates the bare repository; later calls only fetch. Asks for the commit itself,
        then falls back to fetching `refs` (servers that refuse unadvertised objects)."""
        path = self.path_for(url)
        with self._lock(url):
            repo = self._open(path, url)
            wanted = [sha, *[c for c in also if c]]
            missing = [c for c in wanted if not _has_commit(repo, c)]
            if sha in missing:
                env = self._env(url)
                attempts: list[list[str]] = [[sha], [f"+{ref}:refs/fnsync/{ref.removeprefix('refs/')}" for ref in refs if ref]]
                last_error = ""
                for refspecs in attempts:
                    if not refspecs:
                        continue
                    try:
                        repo.git.fetch("--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", url, *refspecs, env=env)
                    except git.GitCommandError as exc:
                        last_error = scrub(str(exc.stderr or exc), self._secrets()).strip()
                        continue
                    if _has_commit(repo, sha):
                        break
                if not _has_commit(repo, sha):
                    transient = not any(
                        marker in last_error
                        for marker in ("not our ref", "couldn't find remote ref", "upload-pack: not our ref", "no such remote ref")
                    ) and bool(last_error)
                    raise GitError(f"could not fetch commit {sha[:12]} from {url}: {last_error or 'commit not found'}", transient)
            for extra in [c for c in also if c and not _has_commit(repo, c)]:
                try:  # `before` may be gone after a force push; diffs then fall back to "everything changed"
                    repo.git.fetch("--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", url, extra, env=self._env(url))
                except git.GitCommandError:
                    pass
        return path

    def _open(self, path: Path, url: str) -> git.Repo:
        if path.exists():
            return git.Repo(path)
        tmp = path.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        repo = git.Repo.init(tmp, bare=True)
        with repo.config_writer() as cfg:
            cfg.set_value("core", "hooksPath", os.devnull)
            cfg.set_value("fnsync", "url", url)
        tmp.rename(path)
        return git.Repo(path)

    def changed_files(self, url: str, before: str, sha: str, merge_base: bool = False) -> tuple[str, ...] | None:
        """Files that differ between two commits (renames count on both sides); None if `before` is unknown.
        `merge_base` diffs from the common ancestor (a pull request's own changes)."""
        repo = git.Repo(self.path_for(url))
        if not _has_commit(repo, before):
            return None
        spec = [f"{before}...{sha}"] if merge_base else [before, sha]
        try:
            out = repo.git.diff("--name-only", "--no-renames", "-z", *spec)
        except git.GitCommandError:
            return None
        return tuple(sorted(name for name in out.split("\0") if name))

    def export(self, url: str, sha: str, dest: Path) -> Path:
        """Write the tree of `sha` into `dest` (`git archive`; submodules stay empty, no checkout hooks run)."""
        repo = git.Repo(self.path_for(url))
        buffer = io.BytesIO()
        repo.archive(buffer, treeish=sha, format="tar")
        buffer.seek(0)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=buffer) as tar:
            tar.extractall(dest, filter="data")  # refuses absolute paths, links out of the tree, devices
        return dest


def _has_commit(repo: git.Repo, sha: str) -> bool:
    try:
        return repo.git.cat_file("-t", sha) == "commit"
    except git.GitCommandError:
        return False
