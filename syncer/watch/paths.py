"""Which folders to watch, which events to drop early, and which function a changed file belongs to.

The packager owns the rules for what goes into an archive (ignore globs, .gitignore, VCS folders,
`.fnsync/`, editor swap files). Rather than re-implement them, a changed path counts for a function
when it is in the function's file list, as `list_function_files` gives it, before or after the
change: that covers edits, creations and deletions alike, and an ignored file never wakes a deploy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pathspec
from watchfiles import Change

from syncer.manifest.models import FunctionSpec, Manifest
from syncer.packaging import ALWAYS_IGNORED, PackagingError, list_function_files

# A cheap pre-filter for watchfiles, before any mapping: the packager's always-ignored rules, plus short-lived
# editor files (vim's `4913` write probe, JetBrains safe-write copies, `*.tmp`) that never outlive a save.
NOISE = pathspec.GitIgnoreSpec.from_lines([*ALWAYS_IGNORED, "4913", "*___jb_tmp___", "*___jb_old___", "*.tmp", "*.crswap"])
_GLOB_CHARS = re.compile(r"[*?\[]")


def is_noise(path: str) -> bool:
    """True for paths never part of any archive (VCS and fnsync folders, editor swap and temp files)."""
    return NOISE.match_file(path.lstrip("/\\"))


def code_filter(change: Change, path: str) -> bool:
    """watchfiles `watch_filter` for the function folders."""
    return not is_noise(path)


def static_prefix(root: Path, pattern: str) -> Path:
    """The folder an include entry lives in: the entry itself, or the part of a glob before its first wildcard."""
    fixed: list[str] = []
    for part in Path(pattern).parts:
        if _GLOB_CHARS.search(part):
            break
        fixed.append(part)
    return (root.joinpath(*fixed) if fixed else root).resolve()


def function_roots(spec: FunctionSpec, manifest_root: Path) -> tuple[Path, ...]:
    """The folders whose contents can change a function's archive: its path and its includes."""
    if spec.path is None:
        return ()
    roots = [Path(spec.path).resolve()]
    for entry in spec.include:
        base = static_prefix(manifest_root, entry)
        roots.append(base if base.is_dir() else base.parent)
    return tuple(dict.fromkeys(roots))


def minimal_roots(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Existing folders, minus those inside another, so watchfiles watches each tree once."""
    existing = sorted({p for p in paths if p.is_dir()}, key=lambda p: (len(p.parts), str(p)))
    kept: list[Path] = []
    for path in existing:
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return tuple(kept)


class FileIndex:
    """Function → {file: archive path} as the packager lists it, refreshed as changes arrive."""

    def __init__(self, manifest: Manifest, function_ids: Iterable[str]) -> None:
        self.manifest = manifest
        self.specs: dict[str, FunctionSpec] = {
            fid: manifest.functions[fid] for fid in function_ids if manifest.functions[fid].path is not None
        }
        self.roots: dict[str, tuple[Path, ...]] = {fid: function_roots(spec, manifest.root) for fid, spec in self.specs.items()}
        self.files: dict[str, dict[Path, str]] = {fid: self._list(fid) for fid in self.specs}

    def _list(self, fid: str) -> dict[Path, str]:
        try:
            listed = list_function_files(self.specs[fid], self.manifest.root)
        except (PackagingError, OSError, ValueError):
            return {}  # e.g. a folder mid-rename: the reconciler reports it when it packages
        return {Path(path): arcname for arcname, path in listed}

    def watch_roots(self) -> tuple[Path, ...]:
        return minimal_roots(r for roots in self.roots.values() for r in roots)

    def owners(self, path: Path) -> list[str]:
        """Functions whose watched folders contain `path` (before checking the packager's rules)."""
        return [fid for fid, roots in self.roots.items() if any(path.is_relative_to(r) for r in roots)]

    def map_changes(self, paths: Iterable[Path]) -> dict[str, dict[str, Path]]:
        """Changed paths → {function id: {archive path: changed file}}; ignored files map to nothing."""
        candidates: dict[str, set[Path]] = {}
        for path in paths:
            for fid in self.owners(path):
                candidates.setdefault(fid, set()).add(path)
        result: dict[str, dict[str, Path]] = {}
        for fid, changed in candidates.items():
            before = self.files[fid]
            after = self._list(fid)
            self.files[fid] = after
            hits: dict[str, Path] = {}
            for path in changed:
                if path in after or path in before:
                    hits[after.get(path) or before[path]] = path
                elif not path.exists():  # a deleted or renamed folder that held archived files
                    hits.update({arcname: file for file, arcname in before.items() if file.is_relative_to(path)})
            if hits:
                result[fid] = hits
        return result


def newest_mtime(paths: Iterable[Path]) -> float:
    """Newest modification time among paths that still exist (0.0 when none does)."""
    newest = 0.0
    for path in paths:
        try:
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            continue
    return newest
