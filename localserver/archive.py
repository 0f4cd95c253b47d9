"""Unpack an uploaded deployment archive (gzip tar) without letting it write outside its folder.

Uploads are untrusted: a member may carry an absolute name, a `..` component, a link (symbolic or
hard) that leads out of the folder, or a device node. We refuse such members outright (Appwrite's
builder would fail the build too) and lean on the standard library's `tarfile.data_filter` for the
link and special-file rules. Any refusal leaves no partial folder behind.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

# Refuse archives whose members add up to more than this (a small "zip bomb" guard).
DEFAULT_MAX_UNPACKED = 2_000_000_000


class ArchiveError(Exception):
    """The archive cannot be unpacked safely; the message is meant for the build log."""


def _check_member(member: tarfile.TarInfo) -> None:
    """Our own refusals, stricter than `data_filter` (which would strip a leading `/` silently)."""
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"refusing absolute path in archive: {name!r}")
    if ".." in parts or ".." in name.replace("\\", "/").split("/"):
        raise ArchiveError(f"refusing path with '..' in archive: {name!r}")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise ArchiveError(f"refusing device or special file in archive: {name!r}")
    if member.issym() and member.linkname.startswith("/"):
        raise ArchiveError(f"refusing symbolic link to an absolute path: {name!r} -> {member.linkname!r}")


def extract_archive(archive: Path, dest: Path, max_unpacked: int = DEFAULT_MAX_UNPACKED) -> int:
    """Unpack `archive` into the fresh folder `dest`; return the number of members unpacked.

    Raises `ArchiveError` (and removes `dest`) if the file is not a readable gzip tar or any member
    would escape `dest`.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    unpacked = 0
    count = 0

    def guard(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        nonlocal unpacked, count
        _check_member(member)
        try:
            checked = tarfile.data_filter(member, path)
        except tarfile.FilterError as exc:
            raise ArchiveError(f"refusing unsafe archive member: {exc}") from exc
        unpacked += checked.size
        if unpacked > max_unpacked:
            raise ArchiveError(f"archive unpacks to more than {max_unpacked} bytes")
        count += 1
        return checked

    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(dest, filter=guard)
    except ArchiveError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveError(f"the code archive is not a valid gzip-compressed tar file ({type(exc).__name__}: {exc})") from exc
    return count


def folder_size(root: Path) -> int:
    """Bytes of the regular files under `root` (links counted as themselves, never followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total
