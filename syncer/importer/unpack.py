"""Unpack a deployment archive into a code folder, safely, and check that it packages back to the same code hash.

Deployments are untrusted input (anyone with the console could have uploaded them): members with absolute
names, `..` components or device types are refused, and links (symbolic or hard) are never created. Links are
skipped rather than refused because `packaging.code_hash_of_archive`, which the planner uses for archives made by
other tools, hashes regular files only: leaving links out is exactly what keeps the hash equal.

Other tools' archives differ from fnsync's in harmless ways this module absorbs: a leading `./`, explicit
directory entries, repeated names (the last one wins, as on extraction), loose modes (only the owner exec bit
counts). What it cannot absorb (files fnsync never packages, such as `__pycache__/`, or files a packed
`.gitignore` excludes) is found by packaging the unpacked folder and comparing hashes, and reported by name.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from syncer.manifest.models import FunctionSpec
from syncer.packaging import PackagingError, package_function

MAX_UNPACKED = 2_000_000_000  # bytes; a "zip bomb" guard far above Appwrite's 30 MB upload limit


class UnsafeArchiveError(Exception):
    """The archive cannot be unpacked (not a gzip tar, or a member would escape its folder)."""


@dataclass
class Unpacked:
    """What landed in the folder, and what was deliberately left out."""

    files: list[str] = field(default_factory=list)  # archive paths of the regular files written
    skipped_links: list[str] = field(default_factory=list)


def _clean_name(name: str) -> str:
    """`./a//b` -> `a/b`, NFC as packaging writes names; refuses absolute and `..` names."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"refusing absolute path in archive: {name!r}")
    parts = [part for part in PurePosixPath(name.replace("\\", "/")).parts if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"refusing path with '..' in archive: {name!r}")
    return unicodedata.normalize("NFC", "/".join(parts))


def unpack_archive(archive: Path, dest: Path) -> Unpacked:
    """Write the archive's regular files under the empty folder `dest` (created), with 0644/0755 modes."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    result = Unpacked()
    written: dict[str, None] = {}
    total = 0
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                name = _clean_name(member.name)
                if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
                    raise UnsafeArchiveError(f"refusing device or special file in archive: {member.name!r}")
                if member.issym() or member.islnk():
                    result.skipped_links.append(name)
                    continue
                if not name:
                    continue
                target = root / name
                if root not in target.parents:  # pragma: no cover - _clean_name already refuses this
                    raise UnsafeArchiveError(f"refusing path outside the folder: {member.name!r}")
                if member.isdir():
                    _mkdir(target, root, member.name)
                    continue
                if not member.isfile():
                    continue
                total += member.size
                if total > MAX_UNPACKED:
                    raise UnsafeArchiveError(f"archive unpacks to more than {MAX_UNPACKED} bytes")
                _mkdir(target.parent, root, member.name)
                if target.is_dir():
                    raise UnsafeArchiveError(f"archive has both a file and a folder named {name!r}")
                source = tar.extractfile(member)
                assert source is not None
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                target.chmod(0o755 if member.mode & 0o100 else 0o644)
                written[name] = None
    except UnsafeArchiveError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise UnsafeArchiveError(f"not a readable gzip-compressed tar file ({type(exc).__name__}: {exc})") from None
    result.files = sorted(written)
    return result


def _mkdir(folder: Path, root: Path, member: str) -> None:
    """Create `folder` inside `root`; a file already standing where a folder must go is a broken archive."""
    for parent in [*reversed(folder.relative_to(root).parents), folder.relative_to(root)]:
        if (root / parent).is_file():
            raise UnsafeArchiveError(f"archive has both a file and a folder named {parent.as_posix()!r} ({member!r})")
    folder.mkdir(parents=True, exist_ok=True)


def local_code_hash(spec: FunctionSpec) -> tuple[str, tuple[str, ...]]:
    """Package `spec` as `fnsync plan` would (into a throwaway folder): its code hash and archive paths."""
    with tempfile.TemporaryDirectory(prefix="fnsync-import-pkg-") as tmp:
        package = package_function(spec, Path(tmp))
    return package.code_hash, package.files


def explain_mismatch(unpacked: Unpacked, packaged: tuple[str, ...] | None) -> str:
    """Why a folder does not package back to its archive's hash, as specifically as we can tell."""
    reasons: list[str] = []
    if packaged is not None:
        left_out = [name for name in unpacked.files if name not in set(packaged)]
        if left_out:
            reasons.append(f"fnsync leaves out {_names(left_out)} (always-ignored or excluded by a packed .gitignore)")
    if not reasons:
        reasons.append("the archive was made with different build inputs (entrypoint, commands or runtime) or files")
    return "; ".join(reasons)


def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def try_package(spec: FunctionSpec) -> tuple[str | None, tuple[str, ...] | None, str]:
    """`local_code_hash`, or (None, None, reason) when the folder cannot be packaged at all."""
    try:
        code_hash, files = local_code_hash(spec)
    except PackagingError as exc:
        return None, None, str(exc)
    return code_hash, files, ""


def remove_tree(path: Path) -> None:
    """Delete a folder (or file) that `--force` replaces."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        os.unlink(path)
