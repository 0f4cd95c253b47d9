"""Client errors in plain words: what was tried, and what to change so the next run works.

Used by `common.handle_errors` for every command that talks to a server; the texts are listed with their fixes
in docs/troubleshooting.md.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from syncer.client import AppwriteError
from syncer.client.errors import AppwriteConnectionError, AppwriteResponseError
from syncer.connection import ENV_API_KEY, ENV_ENDPOINT, ENV_PROJECT

MISSING_SCOPE = re.compile(r"missing scope \(([^)]+)\)")


def endpoint_problem(endpoint: str, source: str) -> str | None:
    """A configured endpoint that cannot work (no scheme, no `/v1`), with the value it most likely meant."""
    where = {"flag": "--endpoint", "env": ENV_ENDPOINT, "manifest": "`endpoint:` in the manifest"}.get(source, "the endpoint")
    if not re.match(r"https?://", endpoint):
        bare = endpoint.split("://", 1)[-1]
        return (
            f"{where} is {endpoint!r}, which has no http:// or https:// in front: "
            f"use https://{_with_v1(bare)} (or http:// for a server without TLS)"
        )
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return f"{where} is {endpoint!r}, which names no host: use e.g. https://cloud.appwrite.io/v1"
    if not parts.path.rstrip("/").endswith("/v1"):
        return f"{where} is {endpoint!r}, which lacks the API path: Appwrite answers under /v1, use {_with_v1(endpoint)}"
    return None


def _with_v1(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1") else endpoint + "/v1"


def explain(exc: AppwriteError, endpoint: str | None = None) -> str:
    """One message for a failed exchange: the request, what the server (or the network) said, and the fix."""
    if isinstance(exc, AppwriteConnectionError):
        return _connection(exc, endpoint)
    if isinstance(exc, AppwriteResponseError):
        fix = _response_fix(exc)
        return f"server request failed: {str(exc).rstrip('.')}" + (f". {fix}" if fix else "")
    return f"server request failed: {exc}"


def _connection(exc: AppwriteConnectionError, endpoint: str | None) -> str:
    target = _host_port(endpoint) if endpoint else "the server"
    text = exc.message
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        what = (
            f"the TLS certificate of {target} is not trusted (self-signed, expired, or for another host name). "
            "Use a certificate from a public authority, or point SSL_CERT_FILE at your CA bundle"
        )
    elif "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer failure" in text:
        what = f"{target} does not speak TLS (https) on that port: if the server has no TLS, use http:// in the endpoint"
    elif "SSL" in text or "TLS" in text:
        what = f"the TLS handshake with {target} failed ({_short(text)}); check the endpoint's scheme and port"
    elif exc.timeout:
        what = f"{target} did not answer in time; check that the server is up and reachable from here"
    elif "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        what = f"the host of {target} cannot be resolved; check the spelling of the endpoint"
    elif "refused" in text.lower() or "All connection attempts failed" in text:
        what = f"nothing answers at {target} (connection refused); check the endpoint's host and port, and that the server is running"
    else:
        what = f"the connection to {target} broke ({_short(text)}); check the endpoint and the network"
    return f"cannot reach the server: {what}. Endpoint: {endpoint or '?'} (--endpoint or {ENV_ENDPOINT})."


def _host_port(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _short(text: str) -> str:
    """The transport error without the exception class name in front (`ConnectError: ...`)."""
    return re.sub(r"^[A-Za-z]+Error: ", "", text).strip() or "no details"


def _response_fix(exc: AppwriteResponseError) -> str:
    """What to check for the refusals a misconfigured key or project gives (never retried: they cannot heal)."""
    if exc.type == "general_unauthorized_scope":
        scope = MISSING_SCOPE.search(exc.message)
        if scope and "role: guests" in exc.message:
            return f"No API key was accepted for this project: check {ENV_API_KEY}, and that {ENV_PROJECT} is the key's project"
        if scope:
            return f"The API key lacks the scope {scope.group(1)}: add it to the key in the Appwrite console (project → Overview → API keys)"
        return f"The API key lacks a scope this needs: check the key's scopes (functions.read, functions.write, execution.write)"
    if exc.type in ("user_unauthorized", "project_key_expired", "user_jwt_invalid") or exc.status == 401:
        return f"The server refused the API key: check {ENV_API_KEY} (an API key of the project in {ENV_PROJECT}, not expired)"
    if exc.type == "project_not_found":
        return f"Check {ENV_PROJECT} (or --project / `project:`): it must be the project's ID, not its name"
    if exc.status == 403:
        return f"The server forbids this: check the key's scopes and {ENV_PROJECT}"
    if exc.type == "general_route_not_found":
        return "The endpoint may lack /v1 or point at another service: check --endpoint/" + ENV_ENDPOINT
    return ""
