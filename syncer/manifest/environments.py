"""`environments:`: named overrides laid over the raw manifest data before interpolation.

One manifest describes several deployments (staging, production, ...). Each environment may override
`endpoint`, `project`, `defaults` and per-function keys. The selected one is merged into the raw data and the
section is removed, so interpolation, validation and the defaults merge treat the result as one ordinary
manifest; `Document.aliases` keeps each overriding value's own place, so its issues point at its line.

Merging: a key set in the override replaces the manifest's value; `variables` and `git` merge key by key;
an empty override (`timeout:`) overrides nothing. The shape of *every* environment (names, keys, function
IDs) is checked on every load; the values of an environment are checked when it is selected (what
`fnsync validate` does for each environment in turn).
"""

from __future__ import annotations

import re
from typing import Any

from syncer.manifest.errors import ManifestIssue
from syncer.manifest.loader import Document, FieldPath
from syncer.manifest.rules import suggest
from syncer.manifest.schema import ALLOWED_KEYS
from syncer.manifest.schema import _kind  # one wording for "must be X, not Y" everywhere

SECTION = "environments"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
ENVIRONMENT_KEYS = ("endpoint", "project", "defaults", "functions")
MERGED_BY_KEY = ("variables", "git")  # function keys whose mappings merge key by key


def environment_names(data: Any) -> tuple[str, ...]:
    """The environment names in raw manifest data, in file order (empty when there is no valid section)."""
    section = data.get(SECTION) if isinstance(data, dict) else None
    return tuple(name for name in section if NAME_PATTERN.fullmatch(name)) if isinstance(section, dict) else ()


def check_environments(document: Document) -> tuple[str, ...]:
    """Check the shape of every environment (issues go to `document`); returns the valid names."""
    section = document.data.get(SECTION)
    if section is None:
        return ()
    if not isinstance(section, dict):
        document.add_issue((SECTION,), f"must be a mapping of environment names to overrides, not {_kind(section)}")
        return ()
    functions = document.data.get("functions")
    function_ids = tuple(functions) if isinstance(functions, dict) else ()
    for name, overrides in section.items():
        path: FieldPath = (SECTION, name)
        if not NAME_PATTERN.fullmatch(name):
            document.add_issue(path, "an environment name is 1-64 letters, digits, `-` or `_`, starting with a letter or digit")
        if overrides is None:
            continue
        if not _mapping(document, path, overrides):
            continue
        _check_keys(document, path, overrides, ENVIRONMENT_KEYS)
        if _mapping(document, path + ("defaults",), overrides.get("defaults")):
            _check_keys(document, path + ("defaults",), overrides["defaults"], ALLOWED_KEYS["function"])
        if _mapping(document, path + ("functions",), overrides.get("functions")):
            for function_id, override in overrides["functions"].items():
                where = path + ("functions", function_id)
                if function_id not in function_ids:
                    document.add_issue(where, f"no function {function_id!r} in `functions:`{suggest(function_id, function_ids)}; an environment can only override functions the manifest declares")
                elif _mapping(document, where, override):
                    _check_keys(document, where, override, ALLOWED_KEYS["function"])
    return environment_names(document.data)


def select_environment(document: Document, name: str | None, known: tuple[str, ...]) -> bool:
    """Merge environment `name`'s overrides into `document.data` and drop the section.

    Returns False (with an issue) when `name` is not one of `known`; `name=None` only drops the section.
    """
    data: dict[str, Any] = document.data
    section = data.pop(SECTION, None)
    if name is None:
        return True
    if name not in known:
        if section is None:
            document.issues.append(ManifestIssue(file=document.file, message=_unknown(name, known)))
        else:
            document.add_issue((SECTION,), _unknown(name, known))
        return False
    overrides = section.get(name) if isinstance(section, dict) else None
    if not isinstance(overrides, dict):
        return True
    origin: FieldPath = (SECTION, name)
    for key in ("endpoint", "project"):
        if overrides.get(key) is not None:
            data[key] = overrides[key]
            document.aliases[(key,)] = origin + (key,)
    if isinstance(overrides.get("defaults"), dict):
        data["defaults"] = _merge_function(document, data.get("defaults"), overrides["defaults"], ("defaults",), origin + ("defaults",))
    functions = data.get("functions")
    if isinstance(overrides.get("functions"), dict) and isinstance(functions, dict):
        data["functions"] = dict(functions)
        for function_id, override in overrides["functions"].items():
            if function_id in functions and isinstance(override, dict):
                target: FieldPath = ("functions", function_id)
                data["functions"][function_id] = _merge_function(
                    document, functions[function_id], override, target, origin + target
                )
    return True


def _merge_function(document: Document, base: Any, override: dict[str, Any], target: FieldPath, origin: FieldPath) -> Any:
    """One function (or `defaults`) with `override` laid over it; records where each overriding value was written."""
    if base is None:
        base = {}
    if not isinstance(base, dict):
        return base  # already wrong in the manifest itself, and reported there
    merged = dict(base)
    for key, value in override.items():
        if key not in ALLOWED_KEYS["function"] or value is None:
            continue
        if key in MERGED_BY_KEY and isinstance(value, dict) and isinstance(base.get(key), dict):
            inner = dict(base[key])
            for inner_key, inner_value in value.items():
                inner[inner_key] = inner_value
                document.aliases[target + (key, inner_key)] = origin + (key, inner_key)
            merged[key] = inner
        else:
            merged[key] = value
            document.aliases[target + (key,)] = origin + (key,)
    return merged


def _unknown(name: str, known: tuple[str, ...]) -> str:
    if not known:
        return f"unknown environment {name!r}: the manifest has no `{SECTION}:` section"
    return f"unknown environment {name!r}{suggest(name, known)}; the manifest defines: {', '.join(known)}"


def _mapping(document: Document, path: FieldPath, value: Any) -> bool:
    """True for a mapping; None is fine but holds nothing; anything else is an issue."""
    if isinstance(value, dict):
        return True
    if value is not None:
        document.add_issue(path, f"must be a mapping, not {_kind(value)}")
    return False


def _check_keys(document: Document, path: FieldPath, mapping: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in mapping:
        if key not in allowed:
            hint = suggest(key, allowed) or f" (allowed: {', '.join(allowed)})"
            document.add_issue(path + (key,), f"unknown key {key!r}{hint}")

