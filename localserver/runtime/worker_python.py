"""Worker process for Python functions, following the Open Runtimes v4 function contract.

Started by `localserver.runtime.worker` with the machine's Python, `-I` (isolated: no server packages,
no PYTHON* variables) and the deployment's build folder as working directory. It imports nothing but
the standard library. Requests arrive as JSON lines on an inherited socket (`--fd`), one at a time;
each reply is one JSON line. The function's prints are captured per execution, so whatever the
function writes can never corrupt the protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib
import inspect
import io
import json
import os
import socket
import sys
import traceback
import types

NATIVE_NOTE = "Native logs detected. Use context.log() or context.error() for better experience.\n"


class Capped:
    """A text sink that keeps at most the last `cap` characters, so endless output stays bounded."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.size = 0
        self.dropped = False

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * self.cap:
            joined = "".join(self.parts)[-self.cap :]
            self.parts, self.size, self.dropped = [joined], len(joined), True

    def value(self) -> str:
        text = "".join(self.parts)
        if len(text) > self.cap:
            text, self.dropped = text[-self.cap :], True
        return text


class NativeStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr during an execution: native prints land in the logs."""

    def __init__(self, logger: "Logger") -> None:
        self.logger = logger

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.logger.native(str(text))
        return len(text)

    def flush(self) -> None:
        pass


class Logger:
    def __init__(self, cap: int) -> None:
        self.logs = Capped(cap)
        self.errors = Capped(cap)
        self.noted = False

    def write(self, messages: tuple, error: bool = False) -> None:
        parts = []
        for message in messages:
            if isinstance(message, (list, dict, tuple)):
                try:
                    parts.append(json.dumps(message, separators=(",", ":")))
                except (TypeError, ValueError):
                    parts.append(str(message))
            else:
                parts.append(str(message))
        (self.errors if error else self.logs).add(" ".join(parts) + "\n")

    def native(self, text: str) -> None:
        if not self.noted:
            self.noted = True
            self.logs.add(NATIVE_NOTE)
        self.logs.add(text)


class Response:
    def binary(self, bytes, statusCode=200, headers=None):  # noqa: A002 - Open Runtimes' parameter names
        return {"body": bytes, "statusCode": statusCode, "headers": headers if headers is not None else {}}

    def text(self, body, statusCode=200, headers=None):
        return self.binary(str(body).encode("utf-8"), statusCode, headers)

    def send(self, body, statusCode=200, headers=None):
        return {"body": body, "statusCode": statusCode, "headers": headers if headers is not None else {}}

    def json(self, obj, statusCode=200, headers=None):
        headers = dict(headers or {})
        headers["content-type"] = "application/json"
        return self.text(json.dumps(obj, separators=(",", ":")), statusCode, headers)

    def empty(self):
        return self.text("", 204, {})

    def redirect(self, url, statusCode=301, headers=None):
        headers = dict(headers or {})
        headers["location"] = url
        return self.text("", statusCode, headers)


class Request:
    def __init__(self, message: dict) -> None:
        self.body_binary: bytes = base64.b64decode(message.get("body", ""))
        self.headers: dict = {k.lower(): v for k, v in message.get("headers", {}).items() if not k.lower().startswith("x-open-runtimes-")}
        self.method: str = message.get("method", "POST")
        self.scheme: str = self.headers.get("x-forwarded-proto", "http")
        default_port = 443 if self.scheme == "https" else 80
        raw_path: str = message.get("path", "/") or "/"
        self.path, _, self.query_string = raw_path.partition("?")
        self.query: dict = {}
        for param in self.query_string.split("&"):
            key, _, value = param.partition("=")
            if key:
                self.query[key] = value
        host = self.headers.get("host", "")
        if ":" in host:
            self.host, port = host.split(":", 1)
            self.port = int(port) if port.isdigit() else default_port
        else:
            self.host, self.port = host, default_port
        self.url = f"{self.scheme}://{self.host}" + ("" if self.port == default_port else f":{self.port}") + self.path
        if self.query_string:
            self.url += "?" + self.query_string

    @property
    def body_text(self) -> str:
        return self.body_binary.decode("utf-8")

    @property
    def body_json(self):
        return json.loads(self.body_text)

    @property
    def body_raw(self) -> str:
        return self.body_text

    @property
    def body(self):
        content_type = self.headers.get("content-type", "text/plain").lower()
        if content_type.startswith("application/json"):
            return self.body_json if self.body_binary else {}
        return self.body_text


class Context:
    def __init__(self, message: dict, logger: Logger) -> None:
        self.req = Request(message)
        self.res = Response()
        self._logger = logger

    def log(self, *messages) -> None:
        self._logger.write(messages)

    def error(self, *messages) -> None:
        self._logger.write(messages, error=True)


class Function:
    """Imports the entrypoint as `function.<path>` (so relative imports work, as in Open Runtimes)."""

    def __init__(self, root: str, entrypoint: str) -> None:
        self.root = root
        self.entrypoint = entrypoint
        self.main = None
        package = types.ModuleType("function")
        package.__path__ = [root]  # type: ignore[attr-defined]
        sys.modules["function"] = package
        sys.path.insert(0, root)
        for extra in ("runtime-env", ".venv", "venv"):  # dependencies installed by the build, if any
            lib = os.path.join(root, extra, "lib")
            if os.path.isdir(lib):
                for name in sorted(os.listdir(lib)):
                    site = os.path.join(lib, name, "site-packages")
                    if os.path.isdir(site):
                        sys.path.insert(1, site)

    def load(self):
        if self.main is None:
            module_path = self.entrypoint[:-3] if self.entrypoint.endswith(".py") else self.entrypoint
            module = importlib.import_module("function." + module_path.strip("/").replace("/", "."))
            main = getattr(module, "main", None)
            if not callable(main):
                raise TypeError(f"{self.entrypoint} must define a main(context) function.")
            self.main = main
        return self.main


def normalise(output) -> tuple[int, dict, bytes]:
    if not isinstance(output, dict):
        raise TypeError("The function must return a context.res response (e.g. return context.res.text('...')), got " + type(output).__name__)
    body = output.get("body", "")
    if body is None:
        body = b""
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    else:
        data = str(body).encode("utf-8")
    status = output.get("statusCode", 200)
    headers = {}
    for key, value in (output.get("headers") or {}).items():
        if not str(key).lower().startswith("x-open-runtimes-"):
            headers[str(key).lower()] = str(value)
    content_type = headers.get("content-type", "text/plain").lower()
    if not content_type.startswith("multipart/") and "charset=" not in content_type:
        content_type += "; charset=utf-8"
    headers["content-type"] = content_type
    return int(status), headers, data


def user_traceback(exc: BaseException) -> str:
    """The function's own traceback: this worker's frames (the caller of `main`) are left out."""
    trace = traceback.TracebackException.from_exception(exc)
    trace.stack = traceback.StackSummary.from_list([frame for frame in trace.stack if frame.filename != __file__])
    return "".join(trace.format())


async def invoke(function: Function, message: dict, log_cap: int, body_cap: int) -> dict:
    logger = Logger(log_cap)
    context = Context(message, logger)
    stream = NativeStream(logger)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = stream
    output = None
    try:
        main = function.load()
        output = main(context)
        if inspect.isawaitable(output):
            output = await output
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        context.error(user_traceback(exc))
        output = context.res.text("", 500, {})
    finally:
        sys.stdout, sys.stderr = saved
    if output is None:
        context.error("Return statement missing. return context.res.empty() if no response is expected.")
        output = context.res.text("", 500, {})
    try:
        status, headers, body = normalise(output)
    except Exception as exc:  # noqa: BLE001
        context.error(str(exc))
        status, headers, body = normalise(context.res.text("", 500, {}))
    if len(body) > body_cap:
        context.error(f"Response body of {len(body)} bytes exceeds the limit of {body_cap} bytes.")
        status, headers, body = normalise(context.res.text("", 500, {}))
    return {
        "id": message.get("id"),
        "statusCode": status,
        "headers": headers,
        "body": base64.b64encode(body).decode("ascii"),
        "logs": logger.logs.value(),
        "errors": logger.errors.value(),
        "logsTruncated": logger.logs.dropped,
        "errorsTruncated": logger.errors.dropped,
    }


async def serve(args: argparse.Namespace) -> None:
    sock = socket.socket(fileno=args.fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=args.line_limit)
    function = Function(os.getcwd(), args.entrypoint)
    writer.write((json.dumps({"ready": True, "pid": os.getpid()}) + "\n").encode())
    await writer.drain()
    while True:
        line = await reader.readline()
        if not line:
            return
        reply = await invoke(function, json.loads(line), args.log_cap, args.body_cap)
        writer.write((json.dumps(reply) + "\n").encode())
        await writer.drain()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--log-cap", type=int, default=1_000_000)
    parser.add_argument("--body-cap", type=int, default=20_971_520)
    parser.add_argument("--line-limit", type=int, default=64 * 1024 * 1024)
    args = parser.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
