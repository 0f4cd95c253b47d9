"""Convert an Appwrite CLI 6.x project file (`appwrite.json`, or `appwrite.config.json`) into a manifest.

Both files have one shape at the level we read: `projectId`, optional `endpoint` and `projectName`, and a
`functions` list. What differs is how much of each function they carry. `appwrite init`/`pull` in CLI 6.x keep the
whitelisted keys (`$id, name, runtime, specification, execute, events, scopes, schedule, timeout, enabled,
logging, entrypoint, commands, path`, plus a hand-written `ignore`), while `appwrite.config.json` as the CLI
documents it holds the whole server model (`$createdAt`, `live`, `deployment`, `version`, `vars` with `$id`...,
VCS fields). Server-only keys are ignored; VCS fields become `git:`. `vars` may be the model's list of
`{key, value, ...}` or a plain `{KEY: value}` mapping. Other sections (databases, buckets, teams...) are not
functions and are skipped.

Paths in the CLI file are relative to its folder; they are rewritten relative to the new manifest, and the code
stays where it is.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from syncer.importer.model import ImportedFunction, ImporterError, ImportResult
from syncer.importer.render import short_settings
from syncer.importer.write import check_free, commit, make_draft

NON_FUNCTION_SECTIONS = ("settings", "databases", "collections", "tables", "tablesDB", "buckets", "teams", "topics", "messaging", "sites")


def _text(value: Any) -> Any:
    """JSON numbers and booleans in a variable's value become the text Appwrite would store."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return value


def _list(value: Any) -> Any:
    """`ignore: "node_modules"` is one pattern."""
    return [value] if isinstance(value, str) else value


ValueText = Annotated[str, BeforeValidator(_text)]


class CliVariable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1)
    value: ValueText = ""


class CliFunction(BaseModel):
    """One entry of `functions`; keys the server adds (`$createdAt`, `live`, `deployment`, `version`...) are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, strict=False)

    id: str = Field(alias="$id", min_length=1)
    name: str
    runtime: str
    execute: list[str] = []
    events: list[str] = []
    schedule: str = ""
    timeout: int = 15
    enabled: bool = True
    logging: bool = True
    entrypoint: str = ""
    commands: str = ""
    path: str | None = None
    ignore: Annotated[list[str], BeforeValidator(_list)] = []
    scopes: list[str] = []
    specification: str | None = None
    vars: list[CliVariable] | dict[str, ValueText] = []
    installationId: str = ""
    providerRepositoryId: str = ""
    providerBranch: str = ""
    providerRootDirectory: str = ""
    providerSilentMode: bool = False

    def variables(self) -> dict[str, str]:
        if isinstance(self.vars, dict):
            return dict(self.vars)
        return {variable.key: variable.value for variable in self.vars}


class CliConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    projectId: str | None = None
    projectName: str | None = None
    endpoint: str | None = None
    functions: list[CliFunction] = []


def _without_nulls(data: Any) -> Any:
    """`"schedule": null` means "not set", as in the CLI (which sends nothing for it)."""
    if isinstance(data, dict):
        return {key: _without_nulls(value) for key, value in data.items() if value is not None}
    if isinstance(data, list):
        return [_without_nulls(item) for item in data]
    return data


def read_cli_config(path: Path) -> tuple[CliConfig, list[str]]:
    """Parse and check the file; returns the config and notes about what was skipped."""
    try:
        raw = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ImporterError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise ImporterError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ImporterError(f"{path}: can't read it ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImporterError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ImporterError(f"{path}: an Appwrite CLI config is a JSON object with `projectId` and `functions`")
    if "functions" in data and not isinstance(data["functions"], list):
        raise ImporterError(f"{path}: `functions` must be a list of functions")
    try:
        config = CliConfig.model_validate(_without_nulls(data))
    except ValidationError as exc:
        raise ImporterError(f"{path}: not a valid Appwrite CLI config:\n" + _describe(exc, data)) from None
    if not config.functions:
        raise ImporterError(f"{path}: declares no functions; nothing to import")
    seen: set[str] = set()
    for function in config.functions:
        if function.id in seen:
            raise ImporterError(f"{path}: function {function.id!r} is declared twice")
        seen.add(function.id)
    notes = [f"skipped `{key}`: fnsync manages functions only" for key in NON_FUNCTION_SECTIONS if data.get(key)]
    return config, notes


def _describe(exc: ValidationError, data: Any) -> str:
    """`functions[1] (id "api").timeout: Input should be a valid integer`, one line each, never quoting values."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        where = ""
        for index, part in enumerate(loc):
            if isinstance(part, int):
                where += f"[{part}]"
                if loc[:index] == ("functions",):
                    where += _id_hint(data, part)
            else:
                where += f".{part}" if where else str(part)
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def _id_hint(data: Any, index: int) -> str:
    try:
        function_id = data["functions"][index]["$id"]
    except (KeyError, IndexError, TypeError):
        return ""
    return f" ($id {function_id!r})" if isinstance(function_id, str) else ""


def convert_function(function: CliFunction, config_dir: Path, manifest_dir: Path) -> ImportedFunction:
    values: dict[str, Any] = {
        "name": function.name,
        "runtime": function.runtime,
        "ignore": function.ignore,
        "entrypoint": function.entrypoint,
        "commands": function.commands,
        "execute": function.execute,
        "events": function.events,
        "schedule": function.schedule,
        "timeout": function.timeout,
        "enabled": function.enabled,
        "logging": function.logging,
        "scopes": function.scopes,
        "specification": function.specification,
        "git": {
            "installationId": function.installationId,
            "repositoryId": function.providerRepositoryId,
            "branch": function.providerBranch,
            "rootDirectory": function.providerRootDirectory,
            "silentMode": function.providerSilentMode,
        },
    }
    notes: list[str] = []
    if function.path is not None:
        folder = Path(os.path.normpath(config_dir / function.path))
        if folder.is_dir():
            values["path"] = Path(os.path.relpath(folder, manifest_dir)).as_posix()
        else:
            notes.append(f"code folder {function.path!r} not found next to the CLI config; imported as settings only")
    else:
        notes.append("no `path` in the CLI config; imported as settings only")
    if "path" not in values:
        values["ignore"] = []  # patterns for code that is not there: leave them out
    return ImportedFunction(id=function.id, settings=short_settings(values), variables=function.variables(), notes=notes)


def import_from_cli_config(
    config_path: Path,
    out: Path,
    *,
    targets: Iterable[str] = (),
    inline_values: bool = False,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ImportResult:
    """Write `out` (and `.env`, `.gitignore` beside it) from an Appwrite CLI config; the code is not copied."""
    config_path = Path(os.path.abspath(config_path))
    out = Path(os.path.abspath(out))
    config, notes = read_cli_config(config_path)
    wanted = list(dict.fromkeys(targets))
    unknown = [target for target in wanted if target not in {f.id for f in config.functions}]
    if unknown:
        raise ImporterError(f"unknown --target: {', '.join(unknown)} (not in {config_path.name}); nothing was written")
    check_free(out, [], force)
    functions = [
        convert_function(function, config_path.parent, out.parent)
        for function in config.functions
        if not wanted or function.id in wanted
    ]
    # Paths like `../app/functions/x` are checked on disk through the manifest's folder, so it must exist while
    # the draft is validated; a folder created only for that is removed again when validation fails.
    created = _missing_ancestor(out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        draft = make_draft(
            out,
            functions,
            inline_values=inline_values,
            environ=os.environ if environ is None else environ,
            files_root=out.parent,
            endpoint=config.endpoint,
            project=config.projectId,
            header=f"Converted by `fnsync import --from {config_path.name}`",
        )
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    result = commit(draft, force=force)
    result.notes.extend(notes)
    return result


def _missing_ancestor(folder: Path) -> Path | None:
    """The outermost folder of `folder`'s path that does not exist yet (None when `folder` exists)."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing
