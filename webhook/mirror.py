"""A cache of bare git mirrors: fetch a branch and commits, compare history, list changed files, export a tree.

No hooks, no submodules, no credential helpers. Git runs in worker threads (GitPython shells out to git). A token
reaches git only for its own host (`credentials.CloneCredentials`), only through `GIT_CONFIG_*` environment
variables (an `http.extraHeader`), so it appears in no URL, no argv, no config file, and no log line; errors are
scrubbed before they are stored. Exports stream `git archive` to disk, so a large file never sits in memory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import git

from webhook.config import scrub
from webhook.credentials import CloneCredentials


class GitError(Exception):
    """A git operation failed. `transient` says whether retrying may help (network) or not (missing commit)."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Fetched:
    path: Path
    tip: str | None  # the fetched ref's commit at the remote now; None when the ref could not be fetched


SAFE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "true",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_ALLOW_PROTOCOL": "https:http:file:ssh:git",
}
# core.hooksPath: no hooks; submodule.recurse: none; credential.helper "" empties the list (no stored passwords).
SAFE_CONFIG = (("core.hooksPath", os.devnull), ("submodule.recurse", "false"), ("credential.helper", ""))


class MirrorCache:
    def __init__(self, root: Path, credentials: CloneCredentials | None = None) -> None:
        self.root = root
        self._credentials = credentials or CloneCredentials()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    def _env(self, url: str, provider: str = "") -> dict[str, str]:
        """git's environment for `url`: safe settings, plus the token of `url`'s own host if there is one."""
        config = list(SAFE_CONFIG)
        token = self._credentials.for_url(url, provider)
        if token is not None:
            config.append(("http.extraHeader", token.header()))
        env = dict(SAFE_ENV, GIT_CONFIG_COUNT=str(len(config)))
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    def _secrets(self) -> set[str]:
        return self._credentials.secrets()

    def path_for(self, url: str) -> Path:
        return self.root / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.git"

    def _lock(self, url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(url, threading.Lock())

    def fetch(self, url: str, sha: str, ref: str = "", also: tuple[str, ...] = (), provider: str = "") -> Fetched:
        """Fetch `ref` (to learn where it is now) and make sure commit `sha` (and, best effort, `also`) is present.

        The first call creates the bare repository; later calls only fetch. The ref comes first (every server
        serves refs); the commit itself is asked for only when the ref did not bring it."""
        path = self.path_for(url)
        env = self._env(url, provider)
        with self._lock(url):
            repo = self._open(path, url)
            tip, last_error = None, ""
            if ref:
                local = f"refs/fnsync/{ref.removeprefix('refs/')}"
                try:
                    repo.git.fetch("--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", url, f"+{ref}:{local}", env=env)
                    tip = repo.git.rev_parse("--verify", f"{local}^{{commit}}")
                except git.GitCommandError as exc:
                    last_error = scrub(str(exc.stderr or exc), self._secrets()).strip()
                    _forget(repo, local)  # a ref gone from the remote must not leave its old tip behind
            for commit in dict.fromkeys(c for c in (sha, *also) if c and not _has_commit(repo, c)):
                try:  # `before` or an old candidate may be gone after a force push; that is not an error
                    repo.git.fetch("--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", url, commit, env=env)
                except git.GitCommandError as exc:
                    if commit == sha:
                        last_error = scrub(str(exc.stderr or exc), self._secrets()).strip()
            if not _has_commit(repo, sha):
                transient = not any(
                    marker in last_error
                    for marker in ("not our ref", "couldn't find remote ref", "upload-pack: not our ref", "no such remote ref")
                ) and bool(last_error)
                raise GitError(f"could not fetch commit {sha[:12]} from {url}: {last_error or 'commit not found'}", transient)
        return Fetched(path, tip)

    def newest(self, url: str, commits: tuple[str, ...], tip: str | None) -> str | None:
        """Of `commits` (in arrival order), the newest by history: the ref's tip if among them, else the one the
        others are ancestors of; on diverged histories (a force push) the last to arrive. None if none is present."""
        repo = git.Repo(self.path_for(url))
        present = [c for c in dict.fromkeys(commits) if _has_commit(repo, c)]
        if not present:
            return None
        if tip in present or len(present) == 1:
            return tip if tip in present else present[0]
        heads = set(repo.git.merge_base("--independent", *present).split())
        return [c for c in present if c in heads][-1]

    def is_ancestor(self, url: str, ancestor: str, descendant: str) -> bool:
        """`git merge-base --is-ancestor` (a commit is its own ancestor); False when either is unknown."""
        repo = git.Repo(self.path_for(url))
        if not (_has_commit(repo, ancestor) and _has_commit(repo, descendant)):
            return False
        try:
            repo.git.merge_base("--is-ancestor", ancestor, descendant)
        except git.GitCommandError as exc:
            if exc.status == 1:
                return False
            raise GitError(f"cannot compare {ancestor[:12]} and {descendant[:12]}: {exc.stderr}".strip(), False) from exc
        return True

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
        """Write the tree of `sha` into `dest`: `git archive` streamed through the tar reader to disk, so memory
        stays flat whatever the file sizes. Submodules stay empty, no checkout hooks run; the `data` filter refuses
        absolute paths, links out of the tree and devices."""
        dest.mkdir(parents=True, exist_ok=True)
        argv = ["git", "--git-dir", str(self.path_for(url)), "archive", "--format=tar", sha]
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env={**os.environ, **self._env("")})
            assert process.stdout is not None
            refused: tarfile.TarError | None = None
            try:
                with tarfile.open(fileobj=process.stdout, mode="r|") as tar:
                    tar.extractall(dest, filter="data")
                while process.stdout.read(65536):  # the archive's end padding, so git exits 0, not on SIGPIPE
                    pass
            except tarfile.TarError as exc:  # the data filter refusing a member, or no archive at all (git failed)
                refused = exc
            finally:
                process.stdout.close()  # on an error git stops on SIGPIPE
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.returncode != 0:
                errors.seek(0)
                text = errors.read(4000).decode(errors="replace").strip()
                raise GitError(f"git archive {sha[:12]} failed: {text or f'exit {process.returncode}'}", False)
            if refused is not None:
                raise ValueError(f"refused to unpack: {refused}") from refused
        return dest


def _has_commit(repo: git.Repo, sha: str) -> bool:
    try:
        return repo.git.cat_file("-t", sha) == "commit"
    except git.GitCommandError:
        return False


def _forget(repo: git.Repo, ref: str) -> None:
    try:
        repo.git.update_ref("-d", ref)
    except git.GitCommandError:
        pass
