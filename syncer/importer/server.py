"""Adopt a server's functions: settings, variables and the active deployment's code, so the next plan is empty.

Settings are read from the same `Function` model the planner compares, and written under the manifest's key
names with Appwrite's defaults left out. The code is downloaded, unpacked into a staging folder and packaged
again exactly as `fnsync plan` will package it; when the two code hashes differ the function is still imported,
and the result says why its code will show as a change.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncer.client.errors import AppwriteResponseError
from syncer.client.models import Function
from syncer.importer.model import ImportedFunction, ImporterError, ImportResult
from syncer.importer.render import short_settings
from syncer.importer.unpack import (
    UnsafeArchiveError,
    Unpacked,
    explain_mismatch,
    try_package,
    unpack_archive,
)
from syncer.importer.write import check_free, commit, make_draft
from syncer.reserved import is_reserved
from syncer.manifest.models import FunctionSpec, Manifest
from syncer.packaging import archive_code_hash
from syncer.client.capabilities import Capabilities
from syncer.plan import desired_settings, same_setting, server_settings
from syncer.state import ServerState
from syncer.secret_digests import RECORD_KEY

if TYPE_CHECKING:
    from syncer.client import AppwriteClient

CODE_ROOT = "functions"


def code_path(function_id: str) -> str:
    """Where a function's code goes, relative to the manifest."""
    return f"{CODE_ROOT}/{function_id}"


def function_values(fn: Function) -> dict[str, Any]:
    """A server function's settings under manifest key names (before defaults are left out)."""
    return {
        "name": fn.name,
        "runtime": fn.runtime,
        "entrypoint": fn.entrypoint,
        "commands": fn.commands,
        "execute": list(fn.execute),
        "events": list(fn.events),
        "schedule": fn.schedule,
        "timeout": fn.timeout,
        "enabled": fn.enabled,
        "logging": fn.logging,
        "scopes": list(fn.scopes),
        **_specifications(fn),
        "deploymentRetention": fn.deployment_retention,
        "description": fn.description or None,
        "interval": int(fn.interval) if fn.interval else None,
        "git": {
            "installationId": fn.installation_id,
            "repositoryId": fn.provider_repository_id,
            "branch": fn.provider_branch,
            "rootDirectory": fn.provider_root_directory,
            "silentMode": fn.provider_silent_mode,
            "branches": list(fn.provider_branches) if fn.provider_branches else None,
            "paths": list(fn.provider_paths) if fn.provider_paths else None,
        },
    }


def _specifications(fn: Function) -> dict[str, Any]:
    """`specification` when build and runtime agree (or the server has one), else the two (1.9+)."""
    build, runtime = fn.build_specification, fn.runtime_specification
    if build and runtime and build != runtime:
        return {"buildSpecification": build, "runtimeSpecification": runtime}
    return {"specification": fn.specification or None}


async def import_from_server(
    client: AppwriteClient,
    out: Path,
    *,
    targets: Iterable[str] = (),
    inline_values: bool = False,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
    endpoint: str | None = None,
    project: str | None = None,
    concurrency: int = 4,
) -> ImportResult:
    """Write `out` (and code folders, `.env`, `.gitignore` beside it) from the server's functions."""
    out = Path(os.path.abspath(out))
    environ = os.environ if environ is None else environ
    listed, specifications = await asyncio.gather(client.list_functions(), client.list_specifications())
    functions = [fn for fn in listed if not is_reserved(fn.id)]  # fnsync's own apply lock is never adopted
    default_specification = ServerState(specifications=tuple(specifications)).default_specification
    wanted = list(dict.fromkeys(targets))
    unknown = [target for target in wanted if target not in {fn.id for fn in functions}]
    if unknown:
        raise ImporterError(f"unknown --target: {', '.join(unknown)} (no such function on the server); nothing was written")
    selected = [fn for fn in functions if not wanted or fn.id in wanted]
    check_free(out, [code_path(fn.id) for fn in selected if fn.deployment], force)

    limit = asyncio.Semaphore(max(1, concurrency))
    with tempfile.TemporaryDirectory(prefix="fnsync-import-") as tmp:
        staging = Path(tmp) / "tree"
        archives = Path(tmp) / "archives"
        archives.mkdir()

        capabilities = await client.capabilities()

        async def one(fn: Function) -> ImportedFunction:
            async with limit:
                imported = await _import_function(client, fn, staging, archives, default_specification)
                imported.variable_options = _variable_options(fn, capabilities, in_dotenv=not inline_values)
                return imported

        imported = list(await asyncio.gather(*(one(fn) for fn in selected)))
        header = f"Imported by `fnsync import` from {endpoint}" + (f" (project {project})" if project else "") if endpoint else ""
        draft = make_draft(
            out,
            imported,
            inline_values=inline_values,
            environ=environ,
            files_root=staging,
            endpoint=endpoint,
            project=project,
            header=header,
        )
        _check_settings(draft.manifest, {fn.id: fn for fn in selected}, imported, capabilities)
        return commit(draft, force=force)


async def _import_function(
    client: AppwriteClient, fn: Function, staging: Path, archives: Path, default_specification: str
) -> ImportedFunction:
    values = function_values(fn)
    function = ImportedFunction(
        id=fn.id,
        settings=short_settings(values, default_specification),
        variables={variable.key: variable.value for variable in fn.vars if variable.key != RECORD_KEY},
    )
    secret = [variable.key for variable in fn.vars if getattr(variable, "secret", False)]
    if secret:
        function.notes.append(
            f"the server does not reveal secret variables ({', '.join(secret)}): their values were written empty; fill them in"
        )
    if not fn.live:
        function.notes.append("the server marks it not live, so `fnsync plan` will show a rebuild")
    if not fn.deployment:
        return function
    archive = archives / f"{fn.id}.tar.gz"
    try:
        deployment = await client.get_deployment(fn.id, fn.deployment)
        await client.download_deployment_to(fn.id, fn.deployment, archive)
    except AppwriteResponseError as exc:
        if exc.status not in (404, 416):
            raise
        function.notes.append(f"code not imported: the active deployment's archive can't be downloaded ({exc.message})")
        return function
    folder = staging / code_path(fn.id)
    try:
        unpacked = unpack_archive(archive, folder)
    except UnsafeArchiveError as exc:
        function.notes.append(f"code not imported (settings only): {exc}")
        return function
    problem = _unusable(unpacked, fn.entrypoint)
    if problem:
        function.notes.append(f"code not imported (settings only): {problem}")
        return function
    _settle_code(function, fn, folder, archive, unpacked, deployment.entrypoint)
    return function


def _variable_options(fn: Function, capabilities: Capabilities, *, in_dotenv: bool) -> dict[str, dict[str, Any]]:
    """What the long variable form must say so the manifest plans no change: a secret stays `secret: true`; a
    plain variable whose value goes to `.env` (so it loads as sensitive) stays `secret: false`; a description."""
    options: dict[str, dict[str, Any]] = {}
    for variable in fn.vars:
        if variable.key == RECORD_KEY:  # fnsync's own record, never a manifest variable
            continue
        extra: dict[str, Any] = {}
        if capabilities.secret_variables and (variable.secret or in_dotenv):
            extra["secret"] = variable.secret
        if capabilities.variable_descriptions and variable.description:
            extra["description"] = variable.description
        if extra:
            options[variable.key] = extra
    return options


def _unusable(unpacked: Unpacked, entrypoint: str) -> str | None:
    if not unpacked.files:
        return "the active deployment's archive holds no files"
    if entrypoint and entrypoint not in unpacked.files:
        return f"the entrypoint {entrypoint!r} is not in the active deployment's archive"
    return None


def _settle_code(
    function: ImportedFunction, fn: Function, folder: Path, archive: Path, unpacked: Unpacked, deployed_entrypoint: str
) -> None:
    """Attach the unpacked folder and say whether it packages back to what the server runs."""
    function.settings = _with_path(function.settings, code_path(fn.id))
    function.code = folder
    function.file_count = len(unpacked.files)
    if unpacked.skipped_links:
        names = ", ".join(unpacked.skipped_links[:5])
        function.notes.append(f"links in the archive were not unpacked ({names}); fnsync packages regular files only")
    spec = FunctionSpec(id=fn.id, name=fn.name, runtime=fn.runtime, path=folder, entrypoint=fn.entrypoint, commands=fn.commands)
    local_hash, packaged, failure = try_package(spec)
    try:
        server_hash = archive_code_hash(
            archive, entrypoint=deployed_entrypoint or fn.entrypoint, commands=fn.commands, runtime=fn.runtime
        )
    except Exception as exc:  # noqa: BLE001 - the planner treats an unhashable archive as unknown code, so do we
        server_hash = None
        failure = failure or f"the server's archive can't be hashed ({type(exc).__name__})"
    function.round_trip = local_hash is not None and local_hash == server_hash
    if function.round_trip:
        return
    if failure:
        reason = failure
    elif deployed_entrypoint and deployed_entrypoint != fn.entrypoint:
        reason = f"the deployment was made with entrypoint {deployed_entrypoint!r}, the function's is {fn.entrypoint!r}"
    else:
        reason = explain_mismatch(unpacked, packaged)
    function.notes.append(f"its code does not round-trip, so `fnsync plan` will show a deploy: {reason}")


def _with_path(settings: dict[str, Any], path: str) -> dict[str, Any]:
    """Insert `path` after `runtime`, where the manifest reference lists it."""
    result: dict[str, Any] = {}
    for key, value in settings.items():
        result[key] = value
        if key == "runtime":
            result["path"] = path
    return result


def _check_settings(
    manifest: Manifest, functions: dict[str, Function], imported: list[ImportedFunction], capabilities: Capabilities
) -> None:
    """Belt and braces: compare the loaded manifest with the server exactly as the planner will."""
    for function in imported:
        current = server_settings(functions[function.id], capabilities)
        desired = desired_settings(manifest.functions[function.id], capabilities, current)
        differing = [name for name in desired if not same_setting(name, current.get(name), desired[name])]
        if differing:
            function.notes.append(f"`fnsync plan` will show these settings as changes: {', '.join(differing)}")
