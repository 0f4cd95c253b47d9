"""Receive deployment uploads without holding them in memory, and assemble chunked ones.

The request body is streamed (`request.stream()`) through python-multipart's push parser: the `code`
file part goes straight to a temporary file, the small text fields are kept (with a cap). The size
limit is enforced while bytes arrive. Parts Appwrite does not declare (any other field, any other
file, like the `file` part node-appwrite 14 adds to each chunk) are read and dropped, as Appwrite
ignores unknown params. Chunked uploads (Appwrite's `Content-Range` protocol) are numbered as 1.6.2
numbers them (`chunk_slot`): each request's `code` part is kept whole as
`<uploads_dir>/<deploymentId>/<chunk>.part`, and once every chunk number has arrived the parts are
concatenated in order into the deployment's archive, whatever their sizes.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from litestar import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from localserver.errors import AppwriteError
from localserver.files import FILE_MODE, private_dir

MAX_FIELD_BYTES = 64 * 1024  # entrypoint (1028) and commands (8192) fit easily
FILE_FIELD = "code"
# After a failure, read (and drop) at most this much more of the body so the client sees the reply.
DRAIN_LIMIT = 64 * 1024 * 1024

_CONTENT_RANGE = re.compile(r"^\s*(\w+)\s+(\d+)-(\d+)/(\d+)\s*$")


@dataclass
class UploadForm:
    """What one upload request carried: text fields, and the code part spooled to `file_path`."""

    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    file_path: Path | None = None
    file_size: int = 0

    def discard(self) -> None:
        if self.file_path is not None:
            self.file_path.unlink(missing_ok=True)
            self.file_path = None


@dataclass(frozen=True)
class ContentRange:
    start: int
    end: int
    total: int

    @property
    def is_last(self) -> bool:
        return self.end >= self.total - 1


def parse_content_range(header: str | None) -> ContentRange | None:
    """`bytes <start>-<end>/<total>` (end inclusive). None when absent; 400 when malformed or out of bounds."""
    if not header:
        return None
    match = _CONTENT_RANGE.match(header)
    if not match or match.group(1) != "bytes":
        raise AppwriteError("storage_invalid_content_range")
    start, end, total = (int(match.group(i)) for i in (2, 3, 4))
    if total <= 0 or start > end or end > total:
        raise AppwriteError("storage_invalid_content_range")
    return ContentRange(start, min(end, total - 1), total)


async def _drain(request: Request, stream) -> None:  # type: ignore[no-untyped-def]
    """Read what is left of the body (up to DRAIN_LIMIT) so the error reply reaches the client."""
    dropped = 0
    try:
        async for chunk in stream:
            dropped += len(chunk)
            if dropped > DRAIN_LIMIT:
                break
    except Exception:  # the client went away, or the body is over the framework limit
        pass


async def read_upload(request: Request, tmp_dir: Path, max_file_bytes: int, params: frozenset[str] | None = None) -> UploadForm:
    """Stream a multipart (or JSON) upload body; the `code` part is written to a file in `tmp_dir`.

    Only the text fields named in `params` (all when None) are kept; other parts are dropped unread.
    Raises 400 storage_invalid_file_size as soon as the file part passes `max_file_bytes`.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    form = UploadForm()
    stream = request.stream()
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        await _read_small_body(stream, content_type, form)
        return form

    private_dir(tmp_dir)
    state: dict[str, object] = {}
    header_field = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}
    value = bytearray()
    sink: list = [None]  # the open temp file while inside the code part

    def on_part_begin() -> None:
        headers.clear()
        value.clear()
        state["name"] = None
        state["skip"] = False

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        filename = disposition.get(b"filename")
        if name == FILE_FIELD and filename is not None and form.file_path is None:
            form.file_name = filename.decode("utf-8", "replace")
            handle = tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="upload-", delete=False)
            form.file_path = Path(handle.name)
            sink[0] = handle
        elif filename is not None or (params is not None and name not in params):
            state["skip"] = True  # an undeclared param: Appwrite never reads it

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if sink[0] is not None:
            form.file_size += end - start
            if form.file_size > max_file_bytes:
                raise AppwriteError("storage_invalid_file_size")
            sink[0].write(data[start:end])
            return
        if state["skip"]:
            return
        value.extend(data[start:end])
        if len(value) > MAX_FIELD_BYTES:
            raise AppwriteError("general_argument_invalid", f"Invalid `{state['name']}` param: Value is too long")

    def on_part_end() -> None:
        if sink[0] is not None:
            sink[0].close()
            sink[0] = None
        elif state.get("name") and not state["skip"] and state["name"] not in form.fields:
            form.fields[str(state["name"])] = value.decode("utf-8", "replace")

    parser = MultipartParser(
        options[b"boundary"],
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
    except AppwriteError:
        _close(sink, form)
        await _drain(request, stream)
        raise
    except Exception as exc:
        _close(sink, form)
        await _drain(request, stream)
        raise AppwriteError("general_argument_invalid", f"Invalid multipart body: {exc}") from exc
    if sink[0] is not None:  # body ended inside the file part
        _close(sink, form)
        raise AppwriteError("general_argument_invalid", "Invalid multipart body: the body ended inside a part")
    return form


def _close(sink: list, form: UploadForm) -> None:
    if sink[0] is not None:
        sink[0].close()
        sink[0] = None
    form.discard()


async def _read_small_body(stream, content_type: bytes, form: UploadForm) -> None:  # type: ignore[no-untyped-def]
    """A non-multipart body can only carry the text fields (JSON or urlencoded); keep it small."""
    body = bytearray()
    async for chunk in stream:
        body.extend(chunk)
        if len(body) > MAX_FIELD_BYTES:
            raise AppwriteError("general_argument_invalid", "Invalid request body: too large for a form without a file")
    if content_type == b"application/x-www-form-urlencoded":
        form.fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif content_type == b"application/json" and body:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise AppwriteError("general_argument_invalid", "Invalid JSON body") from exc
        if isinstance(data, dict):
            for key, item in data.items():
                if item is None:
                    continue
                form.fields[key] = json.dumps(item) if isinstance(item, (dict, list)) else ("true" if item is True else "false" if item is False else str(item))


# --- chunk storage -------------------------------------------------------------------------------


def chunk_dir(uploads_dir: Path, deployment_id: str) -> Path:
    return uploads_dir / deployment_id


def chunk_slot(content_range: ContentRange) -> tuple[int, int]:
    """(chunk number, chunk count) as Appwrite 1.6.2 derives them from `Content-Range` alone.

    The last slice is (-1, -1): its number is the count the upload's first request recorded. Others
    count in slices of their own length (`ceil(total / length)`, number `start // length + 1`); the
    bytes actually sent are not compared with the range.
    """
    if content_range.is_last:
        return -1, -1
    length = content_range.end + 1 - content_range.start
    return content_range.start // length + 1, math.ceil(content_range.total / length)


def store_chunk(uploads_dir: Path, deployment_id: str, part: Path, chunk: int) -> None:
    """Keep one request's `code` part whole, named by its chunk number (a re-sent chunk replaces it)."""
    folder = private_dir(chunk_dir(uploads_dir, deployment_id))
    os.replace(part, folder / f"{chunk}.part")


def stored_chunks(uploads_dir: Path, deployment_id: str) -> list[tuple[int, Path]]:
    """The numbered chunks received so far, in order (a lone last slice, numbered -1, never counts)."""
    folder = chunk_dir(uploads_dir, deployment_id)
    if not folder.is_dir():
        return []
    parts = [(int(p.stem), p) for p in folder.glob("*.part") if p.stem.isdigit()]
    return sorted(parts)


def assemble_chunks(uploads_dir: Path, deployment_id: str, target: Path, chunks: int) -> int:
    """Concatenate chunks 1..`chunks` into `target`, as Appwrite's storage device joins them; remove them. Returns the size."""
    parts = dict(stored_chunks(uploads_dir, deployment_id))
    missing = [number for number in range(1, chunks + 1) if number not in parts]
    if missing:
        raise AppwriteError("storage_invalid_content_range", f"Chunk {missing[0]} of {chunks} was never uploaded.")
    private_dir(target.parent)
    partial = target.with_name(target.name + ".partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as out:
        for number in range(1, chunks + 1):
            with parts[number].open("rb") as src:
                shutil.copyfileobj(src, out, length=1024 * 1024)
        size = out.tell()
    os.replace(partial, target)
    shutil.rmtree(chunk_dir(uploads_dir, deployment_id), ignore_errors=True)
    return size


def discard_chunks(uploads_dir: Path, deployment_id: str) -> None:
    shutil.rmtree(chunk_dir(uploads_dir, deployment_id), ignore_errors=True)
