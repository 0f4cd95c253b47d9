"""Pieces of the deployment upload: Appwrite's 5 MiB chunk ranges (§8) and a file window httpx can stream.

httpx's multipart encoder streams any object with `read`/`seek`/`tell` and sizes it with `seek(0, SEEK_END)`
when it has no real `fileno()`; `FileSlice` gives it one window of the archive, so every chunk is read from
disk as it is sent and a retried chunk simply re-reads its window.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

CHUNK_SIZE = 5 * 1024 * 1024  # the official SDKs' chunk size; the server derives chunk numbers from it


def chunk_ranges(total: int, chunk_size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    """Inclusive (start, end) byte ranges, as written in `Content-Range: bytes start-end/total`."""
    if total <= 0 or chunk_size <= 0:
        raise ValueError("total and chunk_size must be positive")
    return [(start, min(start + chunk_size, total) - 1) for start in range(0, total, chunk_size)]


class FileSlice:
    """A read-only window [start, start+length) of an open binary file."""

    def __init__(self, file: BinaryIO, start: int, length: int) -> None:
        self._file = file
        self._start = start
        self._length = length
        self._pos = 0

    def fileno(self) -> int:
        # No real descriptor: httpx would size the whole file with fstat instead of this window.
        raise io.UnsupportedOperation("FileSlice has no file descriptor")

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        return self._pos

    def read(self, size: int = -1) -> bytes:
        remaining = self._length - self._pos
        if size < 0 or size > remaining:
            size = remaining
        if size == 0:
            return b""
        self._file.seek(self._start + self._pos)
        data = self._file.read(size)
        self._pos += len(data)
        return data
