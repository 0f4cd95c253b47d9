"""A function's settings as Appwrite's create/update take them: from the manifest, from the server, and compared.

`desired_settings` builds the whole body a POST/PUT sends: PUT replaces a function's settings, so every setting
the server has (`Capabilities.settings`) is in it, taken from the manifest where the manifest says, else from
what the server has now. Nothing the manifest leaves alone is ever reset.
"""

from __future__ import annotations

from typing import Any

from syncer.client.capabilities import Capabilities
from syncer.client.models import Function
from syncer.manifest.models import FunctionSpec

# Fields whose change makes Appwrite mark the function not `live` (FUNCTIONS-API.md §6 PUT).
REBUILD_FIELDS: frozenset[str] = frozenset({"name", "entrypoint", "commands", "providerRootDirectory", "runtime"})
# Fields whose order carries no meaning: compared as sets so a reorder on the server is not a change.
SET_FIELDS: frozenset[str] = frozenset({"execute", "events", "scopes", "providerBranches", "providerPaths"})


GIT_FIELDS = ("installationId", "providerRepositoryId", "providerBranch", "providerRootDirectory")


def manifest_settings(spec: FunctionSpec) -> dict[str, Any]:
    """Every setting by API name: the manifest's value, or None where it leaves the setting to the server.

    `specification` is shorthand for both specifications (1.9+ split it); a `git:` block manages the connection
    (unset keys there mean "none"; `git: {}` disconnects), while silent mode, branches and paths are managed
    only when set. Without a `git:` block the connection is left to whoever made it (the console, the webhook).
    """
    git = spec.git
    connection = (
        {
            "installationId": git.installation_id,
            "providerRepositoryId": git.repository_id,
            "providerBranch": git.branch,
            "providerRootDirectory": git.root_directory,
        }
        if git
        else dict.fromkeys(GIT_FIELDS)
    )
    return {
        "name": spec.name,
        "description": spec.description,
        "runtime": spec.runtime,
        "execute": list(spec.execute),
        "events": list(spec.events),
        "schedule": spec.schedule,
        "interval": spec.interval,
        "timeout": spec.timeout,
        "enabled": spec.enabled,
        "logging": spec.logging,
        "entrypoint": spec.entrypoint,
        "commands": spec.commands,
        "scopes": list(spec.scopes),
        "specification": spec.specification,
        "buildSpecification": spec.build_specification or spec.specification,
        "runtimeSpecification": spec.runtime_specification or spec.specification,
        "deploymentRetention": spec.deployment_retention,
        **connection,
        "providerSilentMode": git.silent_mode if git else None,
        "providerBranches": list(git.branches) if git and git.branches is not None else None,
        "providerPaths": list(git.paths) if git and git.paths is not None else None,
        "emailEnabled": None,
    }


def desired_settings(
    spec: FunctionSpec, capabilities: Capabilities, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body POST/PUT sends for `spec`: every setting the server has, from the manifest where it says, else the
    server's `current` value (PUT resets what it is not sent, so nothing the manifest leaves alone may be omitted).
    On create (`current` None) what the manifest leaves unset is omitted: the server's default applies."""
    wanted = manifest_settings(spec)
    settings: dict[str, Any] = {}
    for name in capabilities.settings:
        value = wanted.get(name)
        if value is None and current is not None:
            value = current.get(name)
            if name == "interval" and wanted["schedule"]:
                value = None  # a schedule replaces an interval the manifest does not manage
        if value is not None:
            settings[name] = value
    if not settings.get("providerRepositoryId") and not (current or {}).get("providerRepositoryId"):
        # Not connected and not to be: leave the id out. An explicit "" means "disconnect" to Appwrite, which on
        # 1.8.1+ also switches silent mode on; omitted, the (absent) connection is simply kept.
        settings.pop("providerRepositoryId", None)
    return settings


def server_settings(function: Function, capabilities: Capabilities) -> dict[str, Any]:
    """The settings `desired_settings` covers, read from the server's model (None: the server has none)."""
    return {name: function.setting(name) for name in capabilities.settings}


def unchanged_settings(function: Function, capabilities: Capabilities) -> dict[str, Any]:
    """A PUT body that changes nothing (to make Appwrite recompute `live`): every setting as the server has it,
    without an empty repository id (which Appwrite reads as "disconnect")."""
    settings = {name: value for name, value in server_settings(function, capabilities).items() if value is not None}
    if not settings.get("providerRepositoryId"):
        settings.pop("providerRepositoryId", None)
    return settings


def same_setting(name: str, current: Any, desired: Any) -> bool:
    """Equality after normalising what the server normalises (set-like lists, empty entrypoint = keep)."""
    if name in SET_FIELDS:
        return sorted(set(current or ())) == sorted(set(desired or ()))
    if name == "entrypoint" and desired == "":
        return True  # PUT falls back to the stored entrypoint when it is empty
    return bool(current == desired)


def resolve_settings(desired: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Fill the fields the manifest leaves to the server (an empty entrypoint keeps the stored one)."""
    resolved = dict(desired)
    if not resolved.get("entrypoint"):
        resolved["entrypoint"] = current.get("entrypoint", "")
    return resolved
