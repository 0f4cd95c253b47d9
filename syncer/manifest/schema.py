"""The manifest file as written: strict pydantic input models, and their conversion to the contract models.

Input models use the file's own key names (camelCase under `git`), forbid unknown keys, and take values
as the loader gives them (text or None), so `timeout: 30` and `timeout: "30"` both mean 30 while
`enabled: yes` is an error. Every field is optional here because `defaults` fills the gaps; what is
required after merging (name, runtime) is checked in `build_functions`, together with the rules that span
fields and the checks against the code folder on disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictStr,
    Tag,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from syncer.manifest import rules
from syncer.manifest.loader import Document, FieldPath
from syncer.manifest.models import FunctionSpec, GitSettings, Manifest, PruneSettings, VariableValue

T = TypeVar("T")
CUSTOM_ERROR = "fnsync"


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError(CUSTOM_ERROR, "{reason}", {"reason": message})


def _rule(check: Callable[[T], str | None]) -> AfterValidator:
    """Turn a `rules` check into a pydantic validator, so pydantic collects every failure with its location."""

    def validate(value: T) -> T:
        problem = check(value)
        if problem:
            raise _fail(problem)
        return value

    return AfterValidator(validate)


def _whole_number(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,30}\s*", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _fail("must be a whole number")


def _true_false(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail("must be true or false")


def _variable_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        raise _fail("a variable's value must be a single value (text, number or true/false) or a mapping with `value:`, not a list")
    return value


Whole = Annotated[int, BeforeValidator(_whole_number)]
Flag = Annotated[bool, BeforeValidator(_true_false)]
Text = StrictStr
NonEmpty = Annotated[StrictStr, _rule(rules.not_empty)]


def _items(check: Callable[[str], str | None]) -> Any:
    """A list of at most 100 strings (Appwrite's array limit), each checked by `check`."""
    return Annotated[list[Annotated[StrictStr, _rule(check)]], Field(max_length=rules.MAX_ARRAY)]


Roles = _items(rules.role)
Events = _items(rules.event)
Scopes = _items(rules.scope)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GitInput(Input):
    installationId: Annotated[Text, _rule(rules.max_length(128))] | None = None
    repositoryId: Annotated[Text, _rule(rules.max_length(128))] | None = None
    branch: Annotated[Text, _rule(rules.max_length(128))] | None = None
    rootDirectory: Annotated[Text, _rule(rules.max_length(128))] | None = None
    silentMode: Flag | None = None
    branches: Annotated[list[Annotated[StrictStr, _rule(rules.max_length(255))]], Field(max_length=rules.MAX_ARRAY)] | None = None
    paths: Annotated[list[Annotated[StrictStr, _rule(rules.max_length(255))]], Field(max_length=rules.MAX_ARRAY)] | None = None


class VariableInput(Input):
    """The long form of a variable: `KEY: {value: ..., secret: true, description: ...}`."""

    value: Annotated[Text, BeforeValidator(_variable_value), _rule(rules.max_length(8192))] = ""
    secret: Flag | None = None
    description: Annotated[Text, _rule(rules.max_length(255))] | None = None


# Tags of the two variable forms; error locations drop them (`_location`), so messages point at the variable.
SHORT_FORM, LONG_FORM = "<value>", "<mapping>"


def _variable_form(value: Any) -> str:
    return LONG_FORM if isinstance(value, dict) else SHORT_FORM


VariableEntry = Annotated[
    Annotated[VariableInput, Tag(LONG_FORM)]
    | Annotated[Text, BeforeValidator(_variable_value), _rule(rules.max_length(8192)), Tag(SHORT_FORM)],
    Discriminator(_variable_form),
]


class FunctionInput(Input):
    name: Annotated[Text, _rule(rules.name)] | None = None
    runtime: NonEmpty | None = None
    path: NonEmpty | None = None
    include: list[NonEmpty] | None = None
    ignore: list[NonEmpty] | None = None
    entrypoint: Annotated[Text, _rule(rules.max_length(1028))] | None = None
    commands: Annotated[Text, _rule(rules.max_length(8192))] | None = None
    execute: Roles | None = None
    events: Events | None = None
    schedule: Annotated[Text, _rule(rules.cron)] | None = None
    timeout: Annotated[Whole, _rule(rules.timeout)] | None = None
    enabled: Flag | None = None
    logging: Flag | None = None
    scopes: Scopes | None = None
    specification: NonEmpty | None = None
    buildSpecification: NonEmpty | None = None
    runtimeSpecification: NonEmpty | None = None
    deploymentRetention: Annotated[Whole, _rule(rules.retention)] | None = None
    description: Annotated[Text, _rule(rules.max_length(255))] | None = None
    interval: Annotated[Whole, _rule(rules.interval)] | None = None
    variables: dict[Annotated[Text, _rule(rules.variable_key)], VariableEntry] | None = None
    git: GitInput | None = None


class PruneInput(Input):
    keep: list[NonEmpty] = []


def _version(value: int) -> str | None:
    return None if value == 1 else f"unsupported manifest version {value}; this fnsync reads version 1"


class ManifestInput(Input):
    version: Annotated[Whole, _rule(_version)]
    endpoint: Annotated[Text, _rule(rules.endpoint)] | None = None
    project: Annotated[Text, _rule(rules.appwrite_id)] | None = None
    defaults: FunctionInput | None = None
    functions: dict[Annotated[Text, _rule(rules.function_id)], FunctionInput]
    prune: PruneInput | None = None


ALLOWED_KEYS: dict[str, tuple[str, ...]] = {
    "manifest": (*ManifestInput.model_fields, "environments"),  # `environments` is merged away before validation
    "function": tuple(FunctionInput.model_fields),
    "git": tuple(GitInput.model_fields),
    "variable": tuple(VariableInput.model_fields),
    "prune": tuple(PruneInput.model_fields),
}


def allowed_keys(parent: FieldPath) -> tuple[str, ...]:
    """The keys valid in the mapping at `parent`, for did-you-mean on unknown keys."""
    if parent == ():
        return ALLOWED_KEYS["manifest"]
    if parent == ("defaults",) or (len(parent) == 2 and parent[0] == "functions"):
        return ALLOWED_KEYS["function"]
    if parent[-1] == "git":
        return ALLOWED_KEYS["git"]
    if len(parent) >= 2 and parent[-2] == "variables":
        return ALLOWED_KEYS["variable"]
    if parent == ("prune",):
        return ALLOWED_KEYS["prune"]
    return ()


def validate_input(data: Any, document: Document, skip: set[FieldPath]) -> tuple[ManifestInput | None, set[FieldPath]]:
    """Validate raw data. Each pydantic error becomes an issue at its place, except at paths in `skip`, which
    already have an issue that explains them (e.g. a missing environment variable). Returns the model, or
    None and the paths of the errors."""
    try:
        return ManifestInput.model_validate(data), set()
    except ValidationError as exc:
        failed: set[FieldPath] = set()
        for error in exc.errors(include_url=False):
            path: FieldPath = tuple(part for part in error["loc"] if part not in ("[key]", SHORT_FORM, LONG_FORM))
            failed.add(path)
            if path not in skip:
                document.add_issue(path, _describe(error, path))
        return None, failed


def salvage_functions(data: Any, failed: set[FieldPath]) -> tuple[FunctionInput | None, dict[str, FunctionInput]]:
    """After a failed validation, the functions valid on their own (with valid defaults), so their
    cross-field and file checks still run and every issue is reported in one pass."""
    functions = data.get("functions") if isinstance(data, dict) else None
    if not isinstance(functions, dict) or any(path[:1] == ("defaults",) or path in ((), ("functions",)) for path in failed):
        return None, {}
    try:
        defaults = FunctionInput.model_validate(data["defaults"]) if data.get("defaults") is not None else None
        valid = {
            function_id: FunctionInput.model_validate(raw)
            for function_id, raw in functions.items()
            if not any(path[:2] == ("functions", function_id) for path in failed)
        }
    except ValidationError:  # pragma: no cover - these parts passed the full validation already
        return None, {}
    return defaults, valid


def _describe(error: Any, path: FieldPath) -> str:
    """A short message for one pydantic error that never quotes the input value."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = allowed_keys(path[:-1])
        hint = rules.suggest(key, allowed) or (f" (allowed: {', '.join(allowed)})" if allowed else "")
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return "required"
    if kind == "string_type":
        return f"must be text, not {_kind(value)}"
    if kind == "list_type":
        return f"must be a list, not {_kind(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping, not {_kind(value)}"
    if kind == "too_long":
        return f"at most {error.get('ctx', {}).get('max_length')} entries are allowed"
    return str(error["msg"])


def _kind(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    return "text"


# --- conversion ------------------------------------------------------------------------------------------


class _Merged:
    """One function's fields with `defaults` underneath, remembering where each value was written."""

    def __init__(self, function_id: str, own: FunctionInput, defaults: FunctionInput | None) -> None:
        self.base: FieldPath = ("functions", function_id)
        self.own = own
        self.defaults = defaults

    def get(self, field: str) -> tuple[Any, FieldPath]:
        value = getattr(self.own, field)
        if value is not None or self.defaults is None or getattr(self.defaults, field) is None:
            return value, self.base + (field,)
        return getattr(self.defaults, field), ("defaults", field)

    def variables(self) -> dict[str, tuple[str | VariableInput, FieldPath]]:
        merged: dict[str, tuple[str | VariableInput, FieldPath]] = {}
        for source, base in ((self.defaults, ("defaults",)), (self.own, self.base)):
            for key, value in ((source.variables if source else None) or {}).items():
                merged[key] = (value, base + ("variables", key))
        return merged

    def git(self) -> dict[str, tuple[Any, FieldPath]]:
        merged: dict[str, tuple[Any, FieldPath]] = {}
        for source, base in ((self.defaults, ("defaults",)), (self.own, self.base)):
            if source is None or source.git is None:
                continue
            for key in GitInput.model_fields:
                value = getattr(source.git, key)
                if value is not None:
                    merged[key] = (value, base + ("git", key))
        return merged


def build_manifest(
    parsed: ManifestInput,
    document: Document,
    source: Path,
    sensitive_paths: set[FieldPath],
    files_root: Path | None,
    *,
    environment: str | None = None,
    environments: tuple[str, ...] = (),
) -> Manifest | None:
    """Merge defaults, check what spans fields or touches the disk; problems go to `document.issues`."""
    functions = build_functions(parsed.defaults, parsed.functions, document, source, sensitive_paths, files_root)
    if document.issues:
        return None
    return Manifest(
        source=source,
        version=parsed.version,
        endpoint=parsed.endpoint,
        project=parsed.project,
        functions=functions,
        prune=PruneSettings(keep=tuple(parsed.prune.keep) if parsed.prune else ()),
        environment=environment,
        environments=environments,
    )


def build_functions(
    defaults: FunctionInput | None,
    functions: dict[str, FunctionInput],
    document: Document,
    source: Path,
    sensitive_paths: set[FieldPath],
    files_root: Path | None,
) -> dict[str, FunctionSpec]:
    """Each function merged over `defaults`, with its cross-field and file checks (issues go to `document`)."""
    specs: dict[str, FunctionSpec] = {}
    for function_id, own in functions.items():
        merged = _Merged(function_id, own, defaults)
        spec = _build_function(function_id, merged, document, source.parent, sensitive_paths, files_root)
        if spec is not None:
            specs[function_id] = spec
    return specs


# Manifest keys whose `FunctionSpec` attribute is spelled differently; `lines` keeps the manifest's spelling.
SPEC_FIELDS = {
    "buildSpecification": "build_specification",
    "runtimeSpecification": "runtime_specification",
    "deploymentRetention": "deployment_retention",
}


def _build_function(
    function_id: str,
    merged: _Merged,
    document: Document,
    root: Path,
    sensitive_paths: set[FieldPath],
    files_root: Path | None,
) -> FunctionSpec | None:
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for field in FunctionInput.model_fields:
        if field in ("variables", "git"):
            continue
        value, path = merged.get(field)
        if value is not None:
            values[SPEC_FIELDS.get(field, field)] = tuple(value) if isinstance(value, list) else value
            lines[field] = document.locate(path)[0]
    for required in ("name", "runtime"):
        if required not in values:
            document.add_issue(merged.base + (required,), "required (set it here or under `defaults`)")

    variables: dict[str, VariableValue] = {}
    for key, (value, path) in merged.variables().items():
        if isinstance(value, VariableInput):
            variables[key] = VariableValue(
                value=value.value,
                sensitive=path + ("value",) in sensitive_paths,
                secret=value.secret,
                description=value.description,
            )
        else:
            variables[key] = VariableValue(value=value, sensitive=path in sensitive_paths)
    schedule, schedule_path = merged.get("schedule")
    interval, interval_path = merged.get("interval")
    if schedule and schedule.strip() and interval is not None:
        document.add_issue(interval_path, "`interval` cannot be combined with `schedule` (Appwrite refuses both): keep one")

    git = _build_git(merged, document)
    if files_root is not None:
        _check_files(merged, document, files_root)
    if "name" not in values or "runtime" not in values:
        return None
    if "path" in values:
        values["path"] = Path(os.path.normpath(root / values["path"]))
    return FunctionSpec(
        id=function_id,
        variables=variables,
        git=git,
        line=document.locate(merged.base)[0],
        lines=lines,
        **values,
    )


def _build_git(merged: _Merged, document: Document) -> GitSettings | None:
    git = merged.git()
    if not git:
        return None
    repository, repository_path = git.get("repositoryId", ("", ()))
    if repository:
        missing = [key for key in ("installationId", "branch") if not git.get(key, ("", ()))[0]]
        if missing:
            needs = " and ".join(f"`git.{key}`" for key in missing)
            document.add_issue(repository_path, f"a repository needs {needs} too (Appwrite requires them)")
    return GitSettings(
        installation_id=git.get("installationId", ("", ()))[0],
        repository_id=repository,
        branch=git.get("branch", ("", ()))[0],
        root_directory=git.get("rootDirectory", ("", ()))[0],
        silent_mode=git.get("silentMode", (None, ()))[0],
        branches=tuple(git["branches"][0]) if "branches" in git else None,
        paths=tuple(git["paths"][0]) if "paths" in git else None,
    )


def _check_files(merged: _Merged, document: Document, files_root: Path) -> None:
    """`path` is a folder, `entrypoint` a file inside it, each `include` matches something (all relative to the manifest)."""
    code, code_path = merged.get("path")
    entrypoint, entrypoint_path = merged.get("entrypoint")
    folder_ok = False
    if code is not None:
        folder = files_root / code
        if _probe(folder.is_dir):
            folder_ok = True
        elif _probe(folder.exists):
            document.add_issue(code_path, f"{code!r} is not a folder")
        else:
            document.add_issue(code_path, f"folder {code!r} not found (paths are relative to the manifest's folder)")
    if folder_ok and entrypoint:
        if Path(entrypoint).is_absolute():
            document.add_issue(entrypoint_path, "must be relative to the function's `path`")
        elif not _probe((files_root / code / entrypoint).is_file):
            document.add_issue(entrypoint_path, f"file {entrypoint!r} not found in {code!r}")
    include, include_path = merged.get("include")
    for index, entry in enumerate(include or []):
        problem = _include_problem(files_root, entry)
        if problem:
            document.add_issue(include_path + (index,), problem)


def _include_problem(files_root: Path, entry: str) -> str | None:
    if Path(entry).is_absolute():
        return "must be relative to the manifest's folder"
    if not any(char in entry for char in "*?["):
        return None if _probe((files_root / entry).exists) else f"{entry!r} not found"
    try:
        matched = next(iter(files_root.glob(entry)), None) is not None
    except (ValueError, OSError, NotImplementedError):
        return "not a valid glob pattern"
    return None if matched else f"the pattern {entry!r} matches nothing"


def _probe(check: Callable[[], bool]) -> bool:
    """A filesystem predicate that treats unreadable or impossible paths (NUL bytes, too long) as absent."""
    try:
        return check()
    except (OSError, ValueError):
        return False
