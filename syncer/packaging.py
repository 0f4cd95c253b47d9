"""Turn a function's folder into a deterministic `code.tar.gz`, and name its content with a hash.

Archive layout: files under `spec.path` sit at the archive root (so `entrypoint` is relative to the function
folder, as Appwrite expects); each `include` entry (a folder, file or glob relative to the manifest root) is placed
under its path relative to the manifest root, e.g. `include: [shared]` puts `shared/util.py` at `shared/util.py`.
Two sources giving the same archive path is an error.

Left out: `spec.ignore` patterns (gitignore syntax, matched against the archive path), `.gitignore` files inside the
packaged folders (each applies below its own folder, git-style, via `pathspec`), VCS folders, `.fnsync/`,
`__pycache__/`, and editor swap/backup files.

Symlinks: a link to a regular file inside the project tree (the manifest root, or the function folder when no root
is given) is stored as a plain file holding the target's content, so archives unpack the same everywhere. Links
that dangle, leave the tree or point at folders are refused with a `PackagingError`; so are sockets, FIFOs and devices.

Determinism: sorted entries, fixed mtime, uid/gid 0, no user/group names, modes 0644/0755 by the owner exec bit,
NFC-normalised names, gzip mtime 0 with header name `fnsync-<code_hash>.tar`. The code hash covers every
(archive path, exec bit, content sha256) plus the build inputs (entrypoint, commands, runtime), so a deployed
archive's first bytes (`code_hash_from_header`) tell whether it matches the working tree. Equal trees give equal
bytes given the same zlib (deflate output is stable within a zlib version; the hash never depends on it).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import stat
import tarfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pathspec
from pydantic import BaseModel, ConfigDict

from syncer.manifest.models import FunctionSpec

HASH_VERSION = 1
ARCHIVE_MTIME = 946_684_800  # 2000-01-01T00:00:00Z: fixed, and not "implausibly old" for tar tools
HEADER_PROBE_BYTES = 512  # enough of a deployed archive to read its gzip header name
READ_CHUNK = 1024 * 1024

ALWAYS_IGNORED = (
    ".git/",
    ".hg/",
    ".svn/",
    ".fnsync/",
    "__pycache__/",
    # editor swap, backup and lock files
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",  # vim's probe file
    "*___jb_tmp___",  # JetBrains safe-write temporaries
    "*___jb_old___",
    "*.tmp",
    "*.crswap",  # Chrome OS / VS Code safe-write
    ".DS_Store",
    "Thumbs.db",
)
_ALWAYS = pathspec.GitIgnoreSpec.from_lines(ALWAYS_IGNORED)
_HEADER_NAME = re.compile(r"^fnsync-([0-9a-f]{64})\.tar$")
_GLOB_CHARS = frozenset("*?[")


class PackagingError(Exception):
    """The function's files cannot be packaged as asked (missing folder, bad include, escaping symlink...)."""


class CodePackage(BaseModel):
    """A built archive and what it contains."""

    model_config = ConfigDict(frozen=True)

    archive: Path
    code_hash: str
    file_count: int
    size: int  # archive bytes
    files: tuple[str, ...]  # archive paths, sorted


@dataclass(frozen=True)
class _Source:
    tree: Path  # the folder this file was found under (its .gitignore files apply)
    path: Path


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class _Walker:
    """Walks folders, applying the always-ignored rules, the spec's ignore patterns and nested .gitignore files."""

    def __init__(self, ignore: Iterable[str], boundary: Path) -> None:
        self.ignore = pathspec.GitIgnoreSpec.from_lines(ignore)
        self.boundary = boundary

    def _excluded(self, arcname: str, rel_to_tree: str, gitignores: list[tuple[str, pathspec.PathSpec]], is_dir: bool) -> bool:
        suffix = "/" if is_dir else ""
        if _ALWAYS.match_file(rel_to_tree + suffix) or self.ignore.match_file(arcname + suffix):
            return True
        for base, spec in gitignores:
            if rel_to_tree.startswith(base):
                if spec.match_file(rel_to_tree[len(base) :] + suffix):
                    return True
        return False

    def walk(self, tree: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        """Yield (archive path, file) for files under `tree`; archive path = `prefix` + path relative to tree."""
        gitignores: list[tuple[str, pathspec.PathSpec]] = []
        for dirpath, dirnames, filenames in os.walk(tree, followlinks=False):
            folder = Path(dirpath)
            rel_dir = folder.relative_to(tree).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            gi = folder / ".gitignore"
            if gi.is_file():
                gitignores.append((rel_dir, pathspec.GitIgnoreSpec.from_lines(gi.read_text(encoding="utf-8", errors="replace").splitlines())))
            kept_dirs = []
            for name in sorted(dirnames):
                rel = rel_dir + name
                full = folder / name
                if self._excluded(prefix + rel, rel, gitignores, is_dir=True):
                    continue
                if full.is_symlink():
                    raise PackagingError(f"{full}: symlinks to folders are not packaged (copy or include the folder instead)")
                kept_dirs.append(name)
            dirnames[:] = kept_dirs
            for name in sorted(filenames):
                rel = rel_dir + name
                if self._excluded(prefix + rel, rel, gitignores, is_dir=False):
                    continue
                yield _nfc(prefix + rel), self._checked(folder / name)

    def _checked(self, path: Path) -> Path:
        """The file whose content is packaged: `path` itself, or a symlink's target inside the tree."""
        if path.is_symlink():
            target = path.resolve()
            if not target.exists():
                raise PackagingError(f"{path}: dangling symlink")
            if not _within(target, self.boundary):
                raise PackagingError(f"{path}: symlink points outside the project tree ({self.boundary})")
            if target.is_dir():
                raise PackagingError(f"{path}: symlinks to folders are not packaged")
            path_stat = target.stat()
        else:
            path_stat = path.lstat()
        if not stat.S_ISREG(path_stat.st_mode):
            raise PackagingError(f"{path}: not a regular file")
        return path


def _include_sources(entry: str, root: Path) -> list[Path]:
    """Files and folders one `include` entry names, refusing anything outside the manifest root."""
    posix = PurePosixPath(entry)
    if not entry or posix.is_absolute() or ".." in posix.parts:
        raise PackagingError(f"include {entry!r}: must be a path inside the manifest's folder")
    if _GLOB_CHARS & set(entry):
        matches = sorted(root.glob(entry))
    else:
        candidate = root / entry
        matches = [candidate] if candidate.exists() or candidate.is_symlink() else []
    if not matches:
        raise PackagingError(f"include {entry!r}: matches nothing under {root}")
    # A folder's walk already covers what lies inside it (and applies its .gitignore files on the way down).
    folders = [m for m in matches if m.is_dir() and not m.is_symlink()]
    return [m for m in matches if not any(f in m.parents for f in folders)]


def list_function_files(spec: FunctionSpec, root: Path | None = None) -> list[tuple[str, Path]]:
    """Every file that goes into the function's archive: sorted (archive path, source path) pairs.

    `root` is the manifest's folder (needed for `include`); watch mode uses this to map changed files to functions.
    """
    if spec.path is None:
        raise PackagingError(f"function {spec.id!r} has no code path (settings only)")
    folder = Path(spec.path).resolve()
    if not folder.is_dir():
        raise PackagingError(f"function {spec.id!r}: code folder {spec.path} does not exist")
    if spec.include and root is None:
        raise PackagingError(f"function {spec.id!r}: `include` needs the manifest root")
    project = Path(root).resolve() if root is not None else folder
    walker = _Walker(spec.ignore, boundary=project if _within(folder, project) else folder)
    found: dict[str, Path] = {}

    def add(arcname: str, path: Path, origin: str) -> None:
        if arcname in found and found[arcname] != path:
            raise PackagingError(f"function {spec.id!r}: {arcname!r} comes from both {found[arcname]} and {path} ({origin})")
        found[arcname] = path

    for arcname, path in walker.walk(folder, ""):
        add(arcname, path, "function folder")
    for entry in spec.include:
        for match in _include_sources(entry, project):
            rel = match.relative_to(project).as_posix()
            if match.is_dir() and not match.is_symlink():
                for arcname, path in walker.walk(match, rel + "/"):
                    add(arcname, path, f"include {entry!r}")
            elif not _ALWAYS.match_file(rel) and not walker.ignore.match_file(rel):
                add(_nfc(rel), walker._checked(match), f"include {entry!r}")
    if not found:
        raise PackagingError(f"function {spec.id!r}: no files to package under {spec.path}")
    return sorted(found.items())


# -- hashing ----------------------------------------------------------------------------------------------------------


def _is_exec(mode: int) -> bool:
    return bool(mode & stat.S_IXUSR)


def _sha256_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(READ_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _code_hash(entries: Iterable[tuple[str, bool, str]], *, entrypoint: str, commands: str, runtime: str) -> str:
    """sha256 of a versioned canonical JSON of the sorted file entries and the build inputs."""
    canonical = {
        "v": HASH_VERSION,
        "files": [[name, 1 if executable else 0, digest] for name, executable, digest in sorted(entries)],
        "entrypoint": entrypoint,
        "commands": commands,
        "runtime": runtime,
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def code_hash_of_archive(path: Path, *, entrypoint: str, commands: str, runtime: str) -> str:
    """The code hash of any tar.gz (e.g. a deployment made by another tool): regular files only, last entry
    of a repeated name wins (as on extraction), `./` prefixes dropped."""
    entries: dict[str, tuple[bool, str]] = {}
    with tarfile.open(path, mode="r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = _nfc(member.name)
            while name.startswith("./"):
                name = name[2:]
            extracted = tar.extractfile(member)
            assert extracted is not None
            entries[name] = (_is_exec(member.mode), _sha256_stream(extracted))
    return _code_hash(
        ((name, ex, digest) for name, (ex, digest) in entries.items()),
        entrypoint=entrypoint,
        commands=commands,
        runtime=runtime,
    )


def code_hash_from_header(data: bytes) -> str | None:
    """The code hash in a gzip header's name field (`fnsync-<hash>.tar`), or None for other archives.

    `data` is the archive's first bytes; `HEADER_PROBE_BYTES` is always enough.
    """
    if len(data) < 10 or data[:3] != b"\x1f\x8b\x08":
        return None
    flags = data[3]
    pos = 10
    if flags & 0x04:  # FEXTRA
        if len(data) < pos + 2:
            return None
        pos += 2 + int.from_bytes(data[pos : pos + 2], "little")
    if not flags & 0x08:  # FNAME
        return None
    end = data.find(b"\x00", pos)
    if end < 0:
        return None
    match = _HEADER_NAME.match(data[pos:end].decode("latin-1"))
    return match.group(1) if match else None



def archive_header_hash(archive: Path) -> str | None:
    """The code hash in a local archive's gzip header; None for archives fnsync did not make."""
    with archive.open("rb") as handle:
        return code_hash_from_header(handle.read(HEADER_PROBE_BYTES))


def archive_code_hash(archive: Path, *, entrypoint: str, commands: str, runtime: str) -> str:
    """The hash the planner compares for an archive: fnsync's header when it has one, else its contents hashed."""
    return archive_header_hash(archive) or code_hash_of_archive(
        archive, entrypoint=entrypoint, commands=commands, runtime=runtime
    )


# -- archive ----------------------------------------------------------------------------------------------------------


class _HashingReader(io.RawIOBase):
    """Reads a file for tarfile while hashing it, to catch files that change between hashing and archiving."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data


def package_function(spec: FunctionSpec, out_dir: Path, *, root: Path | None = None) -> CodePackage:
    """Build the function's deterministic archive in `out_dir` (named `<id>-<hash12>.tar.gz`) and describe it."""
    files = list_function_files(spec, root)
    if not spec.commands and spec.entrypoint not in {name for name, _ in files}:
        # Without build commands nothing can create it: the deployment would build and then fail on every run.
        raise PackagingError(
            f"function {spec.id!r}: the entrypoint {spec.entrypoint!r} is not among the files packaged from "
            f"{spec.path} (left out by `ignore` or a .gitignore?); nothing was changed"
        )
    entries: list[tuple[str, bool, str, int]] = []
    for arcname, path in files:
        info = path.stat()
        with path.open("rb") as handle:
            entries.append((arcname, _is_exec(info.st_mode), _sha256_stream(handle), info.st_size))
    code_hash = _code_hash(
        ((name, ex, digest) for name, ex, digest, _ in entries),
        entrypoint=spec.entrypoint,
        commands=spec.commands,
        runtime=spec.runtime,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{spec.id}-{code_hash[:12]}.tar.gz"
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as raw:
            with gzip.GzipFile(filename=f"fnsync-{code_hash}.tar", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for (arcname, path), (_, executable, digest, size) in zip(files, entries, strict=True):
                        _add_file(tar, arcname, path, executable, digest, size)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return CodePackage(
        archive=target,
        code_hash=code_hash,
        file_count=len(files),
        size=target.stat().st_size,
        files=tuple(name for name, _ in files),
    )


def _add_file(tar: tarfile.TarFile, arcname: str, path: Path, executable: bool, digest: str, size: int) -> None:
    info = tarfile.TarInfo(arcname)
    info.size = size
    info.mtime = ARCHIVE_MTIME
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    with path.open("rb") as handle:
        reader = _HashingReader(handle)
        try:
            tar.addfile(info, reader)  # type: ignore[arg-type]
        except OSError as exc:
            raise PackagingError(f"{path}: changed while packaging ({exc})") from None
        if reader.digest.hexdigest() != digest or handle.read(1):
            raise PackagingError(f"{path}: changed while packaging; run again")
