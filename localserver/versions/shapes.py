"""Each emulated server's own response models, derived from the newest ones the handlers emit.

A server answers a client that sends no format (or its own) in its own shapes: the newest model
projected onto that version's field list (order, renames, defaults). Older *client* formats are then
handled by the filters (`versions.v19` ...), exactly as Appwrite layers them.
Field lists: NEWER-SERVERS.md §4; FUNCTIONS-API.md §5 for 1.6.2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from localserver.versions import semver

Document = dict[str, Any]
# (emitted name, name in the newest model, default when missing)
Shape = tuple[tuple[str, str, Any], ...]


def _shape(*names: str | tuple[str, str], defaults: Mapping[str, Any] | None = None) -> Shape:
    out = []
    for entry in names:
        emitted, source = (entry, entry) if isinstance(entry, str) else entry
        out.append((emitted, source, (defaults or {}).get(emitted, "")))
    return tuple(out)


_FN_DEFAULTS = {
    "execute": [], "enabled": True, "live": True, "logging": True, "deploymentRetention": 0, "scopes": [], "vars": [],
    "events": [], "interval": None, "timeout": 15, "providerSilentMode": False, "providerBranches": [], "providerPaths": [],
    "emailEnabled": False,
}
_FN_HEAD = ("$id", "$createdAt", "$updatedAt", "execute", "name")
_FN_DEPLOYMENT = ("deploymentId", "deploymentCreatedAt", "latestDeploymentId", "latestDeploymentCreatedAt", "latestDeploymentStatus")
_FN_MIDDLE = ("scopes", "vars", "events", "schedule")
_FN_TAIL = ("timeout", "entrypoint", "commands", "version", "installationId", "providerRepositoryId", "providerBranch",
            "providerRootDirectory", "providerSilentMode")

FUNCTION_1_6 = _shape(*_FN_HEAD, "enabled", "live", "logging", "runtime", ("deployment", "deploymentId"), *_FN_MIDDLE,
                      *_FN_TAIL, ("specification", "buildSpecification"), defaults=_FN_DEFAULTS)
FUNCTION_1_8 = _shape(*_FN_HEAD, "enabled", "live", "logging", "runtime", *_FN_DEPLOYMENT, *_FN_MIDDLE, *_FN_TAIL,
                      ("specification", "buildSpecification"), defaults=_FN_DEFAULTS)
FUNCTION_1_9 = _shape(*_FN_HEAD, "enabled", "live", "logging", "runtime", "deploymentRetention", *_FN_DEPLOYMENT, *_FN_MIDDLE,
                      *_FN_TAIL, "providerBranches", "providerPaths", "buildSpecification", "runtimeSpecification",
                      defaults=_FN_DEFAULTS)
FUNCTION_2_5 = _shape(*_FN_HEAD, "description", "enabled", "live", "logging", "runtime", "deploymentRetention", *_FN_DEPLOYMENT,
                      *_FN_MIDDLE, "interval", *_FN_TAIL, "providerBranches", "providerPaths", "buildSpecification",
                      "runtimeSpecification", "emailEnabled", defaults=_FN_DEFAULTS)

_VAR_DEFAULTS = {"secret": False, "resourceType": "function"}
VARIABLE_1_6 = _shape("$id", "$createdAt", "$updatedAt", "key", "value", "resourceType", "resourceId", defaults=_VAR_DEFAULTS)
VARIABLE_1_7 = _shape("$id", "$createdAt", "$updatedAt", "key", "value", "secret", "resourceType", "resourceId", defaults=_VAR_DEFAULTS)
VARIABLE_2_5 = _shape("$id", "$createdAt", "$updatedAt", "key", "description", "value", "secret", "resourceType", "resourceId",
                      defaults=_VAR_DEFAULTS)

_DEP_DEFAULTS = {"type": "manual", "resourceType": "functions", "sourceSize": 0, "buildSize": 0, "totalSize": 0,
                 "activate": False, "buildDuration": 0, "size": 0, "buildTime": 0}
DEPLOYMENT_1_6 = _shape(
    "$id", "$createdAt", "$updatedAt", "type", "resourceId", "resourceType", "entrypoint", ("size", "sourceSize"), "buildSize",
    "buildId", "activate", "status", "buildLogs", ("buildTime", "buildDuration"), "providerRepositoryName",
    "providerRepositoryOwner", "providerRepositoryUrl", "providerBranch", "providerCommitHash", "providerCommitAuthorUrl",
    "providerCommitAuthor", "providerCommitMessage", "providerCommitUrl", "providerBranchUrl", defaults=_DEP_DEFAULTS,
)
DEPLOYMENT_1_7 = _shape(
    "$id", "$createdAt", "$updatedAt", "type", "resourceId", "resourceType", "entrypoint", "sourceSize", "buildSize", "totalSize",
    "buildId", "activate", "screenshotLight", "screenshotDark", "status", "buildLogs", "buildDuration", "providerRepositoryName",
    "providerRepositoryOwner", "providerRepositoryUrl", "providerCommitHash", "providerCommitAuthorUrl", "providerCommitAuthor",
    "providerCommitMessage", "providerCommitUrl", "providerBranch", "providerBranchUrl", defaults=_DEP_DEFAULTS,
)

_EXE_DEFAULTS = {"$permissions": [], "trigger": "http", "status": "waiting", "requestHeaders": [], "responseStatusCode": 0,
                 "responseHeaders": [], "duration": 0.0, "scheduledAt": None, "resourceType": "functions"}
_EXE_TAIL = ("trigger", "status", "requestMethod", "requestPath", "requestHeaders", "responseStatusCode", "responseBody",
             "responseHeaders", "logs", "errors", "duration", "scheduledAt")
EXECUTION_1_6 = _shape("$id", "$createdAt", "$updatedAt", "$permissions", ("functionId", "resourceId"), *_EXE_TAIL, defaults=_EXE_DEFAULTS)
EXECUTION_1_8 = _shape("$id", "$createdAt", "$updatedAt", "$permissions", ("functionId", "resourceId"), "deploymentId", *_EXE_TAIL,
                       defaults=_EXE_DEFAULTS)
EXECUTION_2_5 = _shape("$id", "$createdAt", "$updatedAt", "$permissions", "resourceId", "resourceType", "deploymentId", *_EXE_TAIL,
                       defaults=_EXE_DEFAULTS)

# (model, first version with this shape, shape), newest first per model.
_SHAPES: dict[str, Sequence[tuple[str, Shape]]] = {
    "function": (("2.5.0", FUNCTION_2_5), ("1.9.0", FUNCTION_1_9), ("1.7.0", FUNCTION_1_8), ("0.0.0", FUNCTION_1_6)),
    "variable": (("2.5.0", VARIABLE_2_5), ("1.7.0", VARIABLE_1_7), ("0.0.0", VARIABLE_1_6)),
    "deployment": (("1.7.0", DEPLOYMENT_1_7), ("0.0.0", DEPLOYMENT_1_6)),
    "execution": (("2.0.0", EXECUTION_2_5), ("1.8.0", EXECUTION_1_8), ("0.0.0", EXECUTION_1_6)),
}
# Fields of the newest models, for handlers building documents.
NEWEST: dict[str, Shape] = {model: shapes[0][1] for model, shapes in _SHAPES.items()}


def shape_of(model: str, version: str) -> Shape | None:
    for since, shape in _SHAPES.get(model, ()):
        if semver.at_least(version, since):
            return shape
    return None


def project(doc: Mapping[str, Any], shape: Shape) -> Document:
    """`doc` (a newest-shape model) on `shape`: its fields in order, renamed, missing ones defaulted."""
    out: Document = {}
    for emitted, source, default in shape:
        value = doc.get(source, doc.get(emitted)) if source in doc or emitted in doc else None
        out[emitted] = value if value is not None or default is None else (list(default) if isinstance(default, list) else default)
    return out


def to_version(model: str, doc: Document, version: str) -> Document:
    """One newest-shape model as server `version` emits it (nested `vars` too); unknown models pass through."""
    shape = shape_of(model, version)
    if shape is None:
        return doc
    out = project(doc, shape)
    if model == "function" and isinstance(out.get("vars"), list):
        out["vars"] = [to_version("variable", var, version) for var in out["vars"]]
    return out


# Response model of a route -> (item model, list key) for lists.
LISTS: dict[str, tuple[str, str]] = {
    "functionList": ("function", "functions"),
    "variableList": ("variable", "variables"),
    "deploymentList": ("deployment", "deployments"),
    "executionList": ("execution", "executions"),
}


def map_items(model: str, body: Any, convert: Callable[[str, Document], Document]) -> Any:
    """Apply `convert(item_model, item)` to a single model or to every item of a list model."""
    if not isinstance(body, dict):
        return body
    if model in LISTS:
        item_model, key = LISTS[model]
        if isinstance(body.get(key), list):
            return {**body, key: [convert(item_model, item) for item in body[key]]}
        return body
    return convert(model, body)
