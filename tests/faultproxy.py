"""A fault-injecting HTTP/1.1 reverse proxy for tests: 127.0.0.1, port 0, its own event loop in a thread.

    with FaultProxy(local_server.endpoint) as proxy:          # proxy.endpoint = "http://127.0.0.1:<port>/v1"
        proxy.fail(status=503, method="GET", path="/v1/functions*", times=2)
        proxy.rate_limit(retry_after=3, times=1)
        proxy.delay(0.2, path="*/deployments*")
        proxy.drop(method="POST", path="/v1/functions", times=1, after_forward=True)  # applied, but no answer
        ...
        assert proxy.hits("POST", "/v1/functions") == 2

Rules are tried in order; the first whose method/path glob matches and which has faults left acts. `skip=N`
lets the first N matching requests through first; `times=None` faults forever. Actions:

- `fail`: answer `status` with an Appwrite error envelope, without forwarding (the server never sees it);
  `after_forward=True` forwards first, so the server applied the request but the client sees the error.
- `rate_limit`: 429 `general_rate_limit_exceeded` with `Retry-After` and `X-RateLimit-*` headers, not forwarded.
- `drop`: close the connection without an answer; before forwarding, or after it with `after_forward=True`.
- `truncate`: forward, then send the headers and half of the body and close.
- `delay`: wait, then forward normally.

Parsing is h11's (the HTTP/1.1 state machine httpx's stack uses); forwarding uses httpx. Every request is logged in
`proxy.events` with what was done to it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

import h11
import httpx

Action = Literal["fail", "rate_limit", "drop", "truncate", "delay"]
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length"}
)


@dataclass
class FaultRule:
    action: Action
    method: str | None = None  # None = any
    path: str = "*"  # fnmatch glob over the path (no query string)
    times: int | None = 1  # faults left; None = unlimited
    skip: int = 0  # matching requests to let through first
    status: int = 503
    retry_after: float = 1.0
    seconds: float = 0.0
    after_forward: bool = False
    matched: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class ProxyEvent:
    method: str
    path: str
    action: str  # "forward" or the fault's action
    forwarded: bool
    status: int | None  # status the client received (None = connection dropped)
    target: str = ""  # path with the query string, as sent
    headers: tuple[tuple[str, str], ...] = ()  # request headers as sent (names lower-case)
    body: bytes = b""  # request body as sent


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncate: bool = False


@dataclass
class FaultProxy:
    upstream: str  # e.g. local_server.endpoint, "http://127.0.0.1:1234/v1"
    rules: list[FaultRule] = field(default_factory=list)
    events: list[ProxyEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        url = httpx.URL(self.upstream)
        self._origin = f"{url.scheme}://{url.host}:{url.port}"
        self._base_path = url.path.rstrip("/")
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """The upstream endpoint, through the proxy (same path, e.g. /v1)."""
        return self.url + self._base_path

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=self._origin, timeout=60) as upstream:
            self._upstream = upstream
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            async with server:
                await self._stop.wait()
                server.close()

    # -- rules ------------------------------------------------------------------------------------------------------

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail(self, status: int = 503, *, method: str | None = None, path: str = "*", times: int | None = 1, skip: int = 0, after_forward: bool = False) -> FaultRule:
        return self.add(FaultRule("fail", method, path, times, skip, status=status, after_forward=after_forward))

    def rate_limit(self, retry_after: float = 1.0, *, method: str | None = None, path: str = "*", times: int | None = 1, skip: int = 0) -> FaultRule:
        return self.add(FaultRule("rate_limit", method, path, times, skip, status=429, retry_after=retry_after))

    def drop(self, *, method: str | None = None, path: str = "*", times: int | None = 1, skip: int = 0, after_forward: bool = False) -> FaultRule:
        return self.add(FaultRule("drop", method, path, times, skip, after_forward=after_forward))

    def truncate(self, *, method: str | None = None, path: str = "*", times: int | None = 1, skip: int = 0) -> FaultRule:
        return self.add(FaultRule("truncate", method, path, times, skip, after_forward=True))

    def delay(self, seconds: float, *, method: str | None = None, path: str = "*", times: int | None = None, skip: int = 0) -> FaultRule:
        return self.add(FaultRule("delay", method, path, times, skip, seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def hits(self, method: str | None = None, path: str = "*") -> int:
        """How many requests matching method/path glob reached the proxy (faulted or not)."""
        with self._lock:
            return sum(1 for e in self.events if (method is None or e.method == method) and fnmatch.fnmatchcase(e.path, path))

    def forwarded(self, method: str | None = None, path: str = "*") -> int:
        """How many of those reached the upstream server."""
        with self._lock:
            return sum(
                1 for e in self.events if e.forwarded and (method is None or e.method == method) and fnmatch.fnmatchcase(e.path, path)
            )

    def _pick(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path) or rule.times == 0:
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None

    def _log(self, event: ProxyEvent) -> None:
        with self._lock:
            self.events.append(event)

    # -- connection handling ----------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await self._read_request(conn, reader)
                if request is None:
                    return
                keep_open = await self._respond(conn, writer, request, body)
                if not keep_open or conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader) -> tuple[h11.Request | None, bytes]:
        request: h11.Request | None = None
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return request, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                return None, b""

    async def _respond(self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes) -> bool:
        method = request.method.decode()
        target = request.target.decode()
        path = target.split("?", 1)[0]
        rule = self._pick(method, path)
        action = rule.action if rule else "forward"
        if rule and rule.action == "delay":
            await asyncio.sleep(rule.seconds)
        forwarded = rule is None or rule.action == "delay" or rule.after_forward
        reply = await self._forward(method, target, request.headers, body) if forwarded else None
        sent = {"target": target, "headers": tuple((k.decode().lower(), v.decode("latin-1")) for k, v in request.headers), "body": body}
        if rule and rule.action == "drop":
            self._log(ProxyEvent(method, path, action, forwarded, None, **sent))
            return False
        if rule and rule.action == "fail":
            reply = _error_reply(rule.status, "general_server_error" if rule.status >= 500 else "fault_injected", "Injected fault")
        elif rule and rule.action == "rate_limit":
            reply = _error_reply(429, "general_rate_limit_exceeded", "Rate limit for the current endpoint has been exceeded.")
            reset = str(int(time.time() + rule.retry_after))
            reply.headers += [("Retry-After", f"{rule.retry_after:g}"), ("X-RateLimit-Limit", "50"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset)]
        elif rule and rule.action == "truncate":
            assert reply is not None
            reply.truncate = True
        assert reply is not None
        self._log(ProxyEvent(method, path, action, forwarded, reply.status, **sent))
        headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
        writer.write(conn.send(h11.Response(status_code=reply.status, headers=headers)) or b"")
        if reply.truncate:
            writer.write(conn.send(h11.Data(data=reply.body[: len(reply.body) // 2])) or b"")
            await writer.drain()
            return False
        if reply.body:
            writer.write(conn.send(h11.Data(data=reply.body)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        return True

    async def _forward(self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes) -> _Reply:
        out = [(k.decode(), v.decode("latin-1")) for k, v in headers if k.decode().lower() not in HOP_BY_HOP]
        try:
            response = await self._upstream.request(method, target, headers=out, content=body)
        except httpx.TransportError as exc:
            return _error_reply(502, "general_server_error", f"upstream unreachable: {type(exc).__name__}")
        reply_headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}]
        return _Reply(response.status_code, reply_headers, response.content)


def _error_reply(status: int, type_: str, message: str) -> _Reply:
    body = json.dumps({"message": message, "code": status, "type": type_, "version": "1.6.2"}).encode()
    return _Reply(status, [("Content-Type", "application/json")], body)
