"""Test switch: answer like a newer (or older) Appwrite, so clients can be tested against other server versions.

`ServerConfig.emulate_version` (`fnsync local-server --emulate-version 1.8.1`) picks the version. The default,
1.6.2, changes nothing: no middleware is installed and every function here returns its input untouched.

Under 1.7+/1.8 emulation (FUNCTIONS-API.md §12), as a real server does:
- `/v1/health/version` and error envelopes report the emulated version;
- requests sending `X-Appwrite-Response-Format` older than 1.7.0 (the 1.6 SDKs send 1.6.0) get 1.6 shapes;
  requests with a newer or no response format get the 1.8 models of Function, Deployment and Variable;
- rebuild (old path) answers 202 + Deployment, cancel answers a Deployment; on 1.8 a duplicate function id is
  `function_already_exists`, and variables have `secret` (1.8 format: settable, default true on create, value
  returned empty, cannot be unset; 1.6 format: forced false, which fails on a secret variable).
Storage stays 1.6-shaped: the 1.8 fields are computed at read time (a variable's flag is the internal `_secret`).
Emulating 1.5.0 only changes the reported version (enough for clients to refuse it).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from localserver.config import ServerConfig
from localserver.context import ServerContext
from localserver.errors import AppwriteError, invalid_param

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

NEW_FORMAT_FROM = (1, 7, 0)
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")

# The server context of the current request when it wants 1.8 models; None (the default) means 1.6 shapes.
_new_models: ContextVar[ServerContext | None] = ContextVar("localserver_new_models", default=None)


def _version(text: str | None) -> tuple[int, int, int] | None:
    match = _VERSION.match(text or "")
    return tuple(int(part or 0) for part in match.groups()) if match else None  # type: ignore[return-value]


def newer_server(config: ServerConfig) -> bool:
    """Emulating 1.7+: renamed models for new-format clients, rebuild 202 + Deployment, cancel -> Deployment."""
    return (_version(config.emulate_version) or (0, 0, 0)) >= NEW_FORMAT_FROM


def secret_variables(config: ServerConfig) -> bool:
    """Emulating 1.8+: variables have `secret`, a duplicate function id is `function_already_exists`."""
    return (_version(config.emulate_version) or (0, 0, 0)) >= (1, 8, 0)


def wants_new_models(config: ServerConfig, response_format: str | None) -> bool:
    """A newer server answers 1.8 models unless the request asks for an older format (as the 1.6 SDKs do)."""
    if not newer_server(config):
        return False
    requested = _version(response_format) if response_format else None
    return requested is None or requested >= NEW_FORMAT_FROM


def middleware(ctx: ServerContext) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware noting, per request, whether responses take the 1.8 models (read by the serialisers)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def call(scope: Scope, receive: Any, send: Any) -> None:
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            header = next(
                (v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"x-appwrite-response-format"),
                None,
            )
            token = _new_models.set(ctx if wants_new_models(ctx.config, header) else None)
            try:
                await app(scope, receive, send)
            finally:
                _new_models.reset(token)

        return call

    return wrap


def new_models() -> bool:
    """True while serving a request that gets 1.8 models."""
    return _new_models.get() is not None


def duplicate_function_type(config: ServerConfig) -> str:
    return "function_already_exists" if secret_variables(config) else "document_already_exists"


# --- 1.8 models ----------------------------------------------------------------------------------


def function_out(out: dict[str, Any]) -> dict[str, Any]:
    """Function: `deployment` -> `deploymentId` plus the active/latest deployment fields, in 1.8.1 order."""
    ctx = _new_models.get()
    if ctx is None:
        return out
    deployments = ctx.store.all("deployments", parent=out["$id"])
    active = next((d for d in deployments if d["$id"] == out["deployment"]), None)
    latest = deployments[-1] if deployments else None
    shaped: dict[str, Any] = {}
    for name, value in out.items():
        if name != "deployment":
            shaped[name] = value
            continue
        shaped["deploymentId"] = value
        shaped["deploymentCreatedAt"] = active["$createdAt"] if active else ""
        shaped["latestDeploymentId"] = latest["$id"] if latest else ""
        shaped["latestDeploymentCreatedAt"] = latest["$createdAt"] if latest else ""
        shaped["latestDeploymentStatus"] = _status(ctx, latest) if latest else ""
    return shaped


def _status(ctx: ServerContext, deployment: dict[str, Any]) -> str:
    build = ctx.store.get("builds", deployment["buildId"]) if deployment.get("buildId") else None
    return (build or {}).get("status") or "waiting"


DEPLOYMENT_ORDER = (
    "$id", "$createdAt", "$updatedAt", "type", "resourceId", "resourceType", "entrypoint", "sourceSize", "buildSize",
    "totalSize", "buildId", "activate", "screenshotLight", "screenshotDark", "status", "buildLogs", "buildDuration",
    "providerRepositoryName", "providerRepositoryOwner", "providerRepositoryUrl", "providerCommitHash",
    "providerCommitAuthorUrl", "providerCommitAuthor", "providerCommitMessage", "providerCommitUrl", "providerBranch",
    "providerBranchUrl",
)


def deployment_out(out: dict[str, Any]) -> dict[str, Any]:
    """Deployment: `size` -> `sourceSize`, `buildTime` -> `buildDuration`, plus `totalSize` and screenshots.

    Status is a stored field from 1.7 on: a deployment without a build yet is `waiting` everywhere.
    """
    if _new_models.get() is None:
        return out
    values = {
        **out,
        "sourceSize": out["size"],
        "buildDuration": out["buildTime"],
        "totalSize": out["size"] + out["buildSize"],
        "screenshotLight": "",
        "screenshotDark": "",
        "status": out["status"] if out["buildId"] and out["status"] else "waiting",
    }
    return {name: values[name] for name in DEPLOYMENT_ORDER}


def variable_out(out: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """Variable: `secret` after `value` (the value is already blank for secrets, in every format)."""
    if _new_models.get() is None:
        return out
    shaped: dict[str, Any] = {}
    for name, value in out.items():
        shaped[name] = value
        if name == "value":
            shaped["secret"] = bool(doc.get("_secret"))
    return shaped


# --- variables' `secret` param -------------------------------------------------------------------


def secret_on_create(config: ServerConfig, body: object) -> bool:
    """The `secret` a create stores: default true for 1.8-format clients, forced false for 1.6-format ones."""
    if not secret_variables(config) or not new_models():
        return False
    return _secret_param(body, default=True) is True


def secret_on_update(config: ServerConfig, body: object, current: bool) -> bool:
    """The `secret` an update stores; unsetting a secret is refused (1.6-format requests always try to)."""
    if not secret_variables(config):
        return False
    requested = _secret_param(body, default=None) if new_models() else False
    if current and requested is False:
        raise AppwriteError("variable_cannot_unset_secret")
    return current if requested is None else requested


def _secret_param(body: object, default: bool | None) -> bool | None:
    value = body.get("secret") if isinstance(body, dict) else None
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid_param("secret", "Value must be a valid boolean")
    return value
