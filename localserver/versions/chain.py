"""The filter chain as ASGI middleware: pick the client's format, lift its request, lower the response.

As appwrite/appwrite@1.9.6 app/controllers/general.php does: `X-Appwrite-Response-Format` selects the
filters whose threshold is above it; request filters run oldest first, response filters newest first; a
format newer than the server gets no filters and an `X-Appwrite-Warning`. Because the handlers speak the
newest models, a server answers in its own shapes too: without a format (or with its own) the request is
lifted from the server's version and the response projected onto its models (`versions.shapes`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from localserver.errors import AppwriteError
from localserver.versions import semver, shapes
from localserver.versions.base import Filter, Params
from localserver.versions.profiles import ServerProfile
from localserver.versions.routes import ROUTES, Route
from localserver.versions.v17 import V17
from localserver.versions.v18 import V18
from localserver.versions.v19 import V19
from localserver.versions.v20 import V20
from localserver.versions.v21 import V21
from localserver.versions.v25 import V25
from localserver.versions.v27 import V27

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

# Oldest first. V16 (format < 1.4.0) is not emulated; V22-V24 and V26 exist in Appwrite but change nothing for functions.
FILTERS: tuple[Filter, ...] = (V17(), V18(), V19(), V20(), V21(), V25(), V27())
WARNING = (
    "The current SDK is built for Appwrite {requested}. However, the current Appwrite server version is {server}. "
    "Please downgrade your SDK to match the Appwrite version: https://appwrite.io/docs/sdks"
)
_QUERIES_KEY = re.compile(r"^queries(\[\d*\])?$")
_BODY_METHODS = ("POST", "PUT", "PATCH")


def client_format(header: str | None, server: str) -> tuple[str, str | None]:
    """(format the request is in, warning or None). No header means the server's own format."""
    requested = semver.parse(header)
    if header is None or requested is None:
        return server, None
    if requested > (semver.parse(server) or (0, 0, 0)):
        return server, WARNING.format(requested=header.strip(), server=server)
    return header.strip(), None


def request_filters(fmt: str) -> list[Filter]:
    """Filters that lift a request in `fmt` to the newest params, oldest first."""
    return [f for f in FILTERS if not semver.at_least(fmt, f.threshold)]


def response_filters(fmt: str, server: str) -> list[Filter]:
    """Filters the server has (threshold not above its version) that lower its models to `fmt`, newest first."""
    return [f for f in reversed(FILTERS) if not semver.at_least(fmt, f.threshold) and semver.at_least(server, f.threshold)]


def lift_request(route: Route, params: Params, fmt: str, server: str) -> Params:
    for step in request_filters(fmt):
        params = step.request(route.method, params, server)
    return params


def lower_response(model: str, body: Any, fmt: str, server: str) -> Any:
    body = shapes.map_items(model, body, lambda item_model, item: shapes.to_version(item_model, item, server))
    for step in response_filters(fmt, server):
        body = step.response(model, body, server)
    return body


def _split_query(raw: bytes) -> Params:
    params: Params = {}
    queries: list[str] = []
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if _QUERIES_KEY.match(key):
            queries.append(value)
        else:
            params[key] = value
    if queries:
        params["queries"] = queries
    return params


def _join_query(params: Params) -> bytes:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if key == "queries" and isinstance(value, list):
            pairs.extend(("queries[]", str(v)) for v in value)
        else:
            pairs.append((key, json.dumps(value) if isinstance(value, bool) else str(value)))
    return urlencode(pairs).encode("latin-1")


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == name), None)


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def middleware(profile: ServerProfile, build_model: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[ASGIApp], ASGIApp]:
    """Wrap the app so every routed request passes the server's filter chain.

    `build_model(deployment)` answers the Build model for the 1.6 cancel route (it needs the store).
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def call(scope: Scope, receive: Any, send: Any) -> None:
            handler = scope.get("route_handler") if scope.get("type") == "http" else None
            name = getattr(handler, "name", None) or ""
            route = ROUTES.get(name)
            if route is None:
                await app(scope, receive, send)
                return
            if not profile.has_route(name):
                raise AppwriteError("general_route_not_found")
            fmt, warning = client_format(_header(scope, b"x-appwrite-response-format"), profile.version)
            scope, receive = await _lift(scope, receive, route, fmt, profile)
            model = profile.route_models.get(name, route.model)
            uncounted = profile.list_total_param and str(_split_query(scope.get("query_string", b"")).get("total", "")).lower() in ("false", "0")
            await app(scope, receive, _lowering_send(send, model, fmt, profile.version, warning, build_model, uncounted))

        return call

    return wrap


def lift_params(route: Route, params: Params, fmt: str, profile: ServerProfile) -> Params:
    """Drop the params the server's version does not know, then lift the rest through the request filters."""
    unknown = profile.unknown_params.get(route.method, frozenset())
    return lift_request(route, {k: v for k, v in params.items() if k not in unknown}, fmt, profile.version)


async def _lift(scope: Scope, receive: Any, route: Route, fmt: str, profile: ServerProfile) -> tuple[Scope, Any]:
    """The request with its params lifted (JSON body or query string); multipart bodies pass untouched."""
    content_type = (_header(scope, b"content-type") or "").lower()
    if scope.get("method") in _BODY_METHODS and not content_type.startswith("multipart/"):
        raw = await _read_body(receive)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return scope, _replay(raw)
        lifted = lift_params(route, body, fmt, profile)
        data = json.dumps(lifted).encode() if lifted != body else raw
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        return {**scope, "headers": headers}, _replay(data)
    if scope.get("method") in _BODY_METHODS:
        return scope, receive
    query = _split_query(scope.get("query_string", b""))
    lifted = lift_params(route, query, fmt, profile)
    if lifted == query:
        return scope, receive
    return {**scope, "query_string": _join_query(lifted)}, receive


def _replay(data: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": data, "more_body": False}

    return receive


def _lowering_send(
    send: Any, model: str, fmt: str, server: str, warning: str | None, build_model: Callable[[dict[str, Any]], dict[str, Any]],
    uncounted: bool = False,
) -> Any:
    """A `send` that buffers a JSON success reply and emits it lowered; everything else streams through.

    `uncounted`: the list was asked with `total=false`, so its `total` is 0 (1.8.1+).
    """
    start: dict[str, Any] | None = None
    chunks: list[bytes] = []

    async def lowered(message: dict[str, Any]) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if warning:
                headers.append((b"x-appwrite-warning", warning.encode("latin-1")))
            message = {**message, "headers": headers}
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if model and message["status"] < 300 and content_type.startswith(b"application/json"):
                start = message
                return
            await send(message)
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = json.loads(b"".join(chunks) or b"null")
        status = start["status"]
        if model == "none":
            data, status = b"", 204
            headers = [(k, v) for k, v in start["headers"] if k.lower() not in (b"content-length", b"content-type")]
            headers.append((b"content-type", b"text/html; charset=UTF-8"))
        else:
            body = build_model(body) if model == "build" else lower_response(model, body, fmt, server)
            if uncounted and isinstance(body, dict) and "total" in body:
                body = {**body, "total": 0}
            data = json.dumps(body, separators=(",", ":")).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(data)).encode()))
        await send({**start, "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data, "more_body": False})

    return lowered
