"""How `POST /v1/functions/{id}/executions` reads its params and writes its reply, byte for byte as 1.6.2 does.

Params come as the request's content type says, like utopia-php/swoole's `Request::generateInput`: JSON for
`application/json`, the form fields for `multipart/form-data` and `application/x-www-form-urlencoded` (PHP's
`$_POST`: only parts without a filename, `name[key]` fields gathered into an array), nothing for any other type.
A multipart `body` keeps its raw bytes, whatever they are.

The reply follows the first `Accept` entry (split on ", ", as the handler does) naming `application/json` /
`application/*` or `multipart/form-data` / `multipart/*`. Multipart replies are Appwrite's `BodyMultipart`: one
part per model field, arrays as JSON, `responseBody` as raw bytes. JSON can only carry a `responseBody` that is
valid UTF-8: otherwise an explicit JSON Accept gets 1.6.2's `400 Failed to parse response: …`, and a request with
no matching Accept (the default branch, which catches nothing) gets its `500 Server Error`.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, Response
from python_multipart.multipart import MultipartParser, parse_options_header

from localserver.errors import AppwriteError
from localserver.versions import chain

MALFORMED_UTF8 = "Malformed UTF-8 characters, possibly incorrectly encoded"  # PHP's JsonException text
_ARRAY_FIELD = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")


async def read_params(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """The request's params, and the raw `body` bytes when a form sent them (None for JSON: its body is text)."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    raw = await request.body()
    if content_type == b"application/json":
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return (data if isinstance(data, dict) else {}), None
    if content_type == b"multipart/form-data" and options.get(b"boundary"):
        fields = _multipart_fields(raw, options[b"boundary"])
    elif content_type == b"application/x-www-form-urlencoded":
        fields = [(key.encode("latin-1"), value.encode("latin-1")) for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")]
    else:
        return {}, None
    return _php_post(fields)


def _multipart_fields(raw: bytes, boundary: bytes) -> list[tuple[bytes, bytes]]:
    """(name, value) of each part without a filename, in order; file parts go to PHP's $_FILES, not the params."""
    fields: list[tuple[bytes, bytes]] = []
    current: dict[str, Any] = {}
    header_name = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        current.clear()
        current.update(headers={}, data=bytearray())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        current["headers"][bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current["data"].extend(data[start:end])

    def on_part_end() -> None:
        _, disposition = parse_options_header(current["headers"].get(b"content-disposition", b""))
        if b"filename" not in disposition and disposition.get(b"name"):
            fields.append((disposition[b"name"], bytes(current["data"])))

    parser = MultipartParser(boundary, callbacks={
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    try:
        parser.write(raw)
        parser.finalize()
    except Exception:  # noqa: BLE001 - a broken form gives PHP no fields either
        return []
    return fields


def _php_post(fields: list[tuple[bytes, bytes]]) -> tuple[dict[str, Any], bytes | None]:
    """PHP's $_POST from form fields: `name[key]` builds an array, a later plain field replaces an earlier one."""
    params: dict[str, Any] = {}
    body: bytes | None = None
    for raw_name, value in fields:
        name = raw_name.decode("utf-8", "replace")
        array = _ARRAY_FIELD.match(name)
        if array:
            target = params.get(array.group(1))
            target = target if isinstance(target, dict) else {}
            key = array.group(2) or str(len(target))
            target[key] = value.decode("utf-8", "replace")
            params[array.group(1)] = target
            continue
        if name == "body":
            body = value
        params[name] = value.decode("utf-8", "replace")
    return params, body


# --- the reply -----------------------------------------------------------------------------------


def accepted_type(request: Request) -> str | None:
    """"json", "multipart", or None when no Accept entry names either (1.6.2 then takes its default branch)."""
    for entry in request.headers.get("accept", "").split(", "):
        if entry.startswith(("application/json", "application/*")):
            return "json"
        if entry.startswith(("multipart/form-data", "multipart/*")):
            return "multipart"
    return None


def execution_reply(request: Request, model: dict[str, Any], body: bytes, status_code: int) -> Response[Any]:
    """The Execution model with `responseBody` = `body`, as JSON or multipart per the Accept header."""
    kind = accepted_type(request)
    if kind == "multipart":
        boundary = "-----------------------------" + _uniqid()
        return Response(
            content=multipart_body({**_lowered(request, model), "responseBody": body}, boundary),
            status_code=status_code,
            media_type=f"multipart/form-data; boundary={boundary}",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        if kind == "json":
            raise AppwriteError("general_unknown", f"Failed to parse response: {MALFORMED_UTF8}", 400) from None
        raise AppwriteError("general_unknown", "Server Error", 500) from None
    return Response(content={**model, "responseBody": text}, status_code=status_code)


def _lowered(request: Request, model: dict[str, Any]) -> dict[str, Any]:
    """The Execution as the client's format shows it. The filter chain lowers JSON replies on their way out; a
    multipart one it cannot read, so it is lowered here, before encoding, as Appwrite filters before it encodes."""
    version = request.app.state.ctx.config.profile.version
    fmt, _ = chain.client_format(request.headers.get("x-appwrite-response-format"), version)
    return dict(chain.lower_response("execution", model, fmt, version))


def multipart_body(fields: dict[str, Any], boundary: str) -> bytes:
    """Appwrite's BodyMultipart::exportBody: arrays as JSON parts, false as 0, other scalars as PHP prints them."""
    eol = b"\r\n"
    out = bytearray(b"--" + boundary.encode())
    for key, value in fields.items():
        out += eol + f'Content-Disposition: form-data; name="{key}"'.encode()
        if isinstance(value, (list, dict)):
            out += eol + b"Content-Type: application/json"
            value = json.dumps(value, separators=(",", ":")).replace("/", "\\/")  # PHP escapes slashes
        out += eol + eol + _php_string(value) + eol + b"--" + boundary.encode()
    out += b"--" + eol
    return bytes(out)


def _php_string(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if value is False:
        return b"0"
    if value is True:
        return b"1"
    if value is None:
        return b""
    if isinstance(value, float):
        return _php_float(value).encode()
    return str(value).encode("utf-8")


def _php_float(value: float) -> str:
    """(string) $float under PHP 8's precision 14: '0.5', '3', '1.0E-5'."""
    text = f"{value:.14G}"
    if "E" in text:
        mantissa, exponent = text.split("E")
        mantissa = mantissa if "." in mantissa else mantissa + ".0"
        return f"{mantissa}E{'-' if exponent.startswith('-') else '+'}{int(exponent.lstrip('+-'))}"
    return text


def _uniqid() -> str:
    """PHP's uniqid(): 13 hex digits of the current time in microseconds."""
    micros = time.time_ns() // 1000
    return f"{micros // 1_000_000:08x}{micros % 1_000_000:05x}"
