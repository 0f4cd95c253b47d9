"""Imported functions -> the text of `functions.yaml` and `.env`, written so they load back to exactly those values.

Short and readable: keys equal to Appwrite's defaults are left out, functions keep the server's (or the config's)
order, lists of roles/events/scopes are written inline (`execute: [any]`), mappings as blocks. Exact: every scalar
goes through PyYAML's quoting (so `1.10`, `yes` or `~` stay text), `${` in an inline value is escaped as `$${`,
and `.env` values are double-quoted with python-dotenv's escapes.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

import pathspec
import yaml

from syncer.importer.model import ImportedFunction

DOTENV_NAME = ".env"
GITIGNORE_NAME = ".gitignore"

# Manifest keys in the order they are written (the order of docs/manifest.md), with the default that omits them.
DEFAULTS: dict[str, Any] = {
    "name": None,
    "runtime": None,
    "path": None,
    "ignore": [],
    "entrypoint": "",
    "commands": "",
    "execute": [],
    "events": [],
    "schedule": "",
    "timeout": 15,
    "enabled": True,
    "logging": True,
    "scopes": [],
    "specification": None,
    "buildSpecification": None,
    "runtimeSpecification": None,
    "deploymentRetention": 0,
    "description": None,
    "interval": None,
}
GIT_DEFAULTS: dict[str, Any] = {
    "installationId": "",
    "repositoryId": "",
    "branch": "",
    "rootDirectory": "",
    "silentMode": False,
    "branches": None,
    "paths": None,
}


def short_settings(values: Mapping[str, Any], default_specification: str | None = None) -> dict[str, Any]:
    """The manifest keys of `values` that differ from the defaults, in manifest order (`git` last)."""
    settings: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        value = values.get(key)
        if value is None or value == default or (key == "specification" and value == default_specification):
            continue
        settings[key] = list(value) if isinstance(value, (list, tuple)) else value
    git = {key: values.get("git", {}).get(key) for key in GIT_DEFAULTS}
    git = {key: value for key, value in git.items() if value is not None and value != GIT_DEFAULTS[key]}
    if git:
        settings["git"] = git
    return settings


# --- variable names for .env ---------------------------------------------------------------------------------------


def env_name(function_id: str, key: str) -> str:
    """`my-api` + `db.url` -> `MY_API_DB_URL`: letters, digits and `_`, never starting with a digit."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", f"{function_id}_{key}").upper()
    name = re.sub(r"_+", "_", name)
    return f"FN_{name}" if name[:1].isdigit() else name


def assign_env_names(
    functions: Iterable[ImportedFunction], taken: Mapping[str, str], reserved: Iterable[str] = ()
) -> dict[tuple[str, str], str]:
    """(function ID, key) -> a unique `.env` name. A name already in `.env` (`taken`) is reused only when it holds
    the same value; names in `reserved` (the process environment, which wins over `.env`) are never used."""
    blocked = set(reserved)
    used: dict[str, str] = {}
    names: dict[tuple[str, str], str] = {}
    for function in functions:
        for key, value in function.variables.items():
            base = env_name(function.id, key)
            candidate, n = base, 1
            while True:
                current = used.get(candidate, taken.get(candidate))
                if candidate not in blocked and (current is None or (current == value and candidate not in used)):
                    break
                n += 1
                candidate = f"{base}_{n}"
            used[candidate] = value
            names[(function.id, key)] = candidate
    return names


def dotenv_line(name: str, value: str) -> str:
    """`NAME="value"` with python-dotenv's double-quote escapes, on one line."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'{name}="{escaped}"'


def dotenv_text(existing: str, additions: Mapping[str, str], header: str) -> str:
    """`existing` with the new names appended under a comment (nothing appended when there is nothing new)."""
    if not additions:
        return existing
    text = existing
    if text and not text.endswith("\n"):
        text += "\n"
    if text:
        text += "\n"
    text += f"# {header}\n"
    text += "".join(dotenv_line(name, value) + "\n" for name, value in additions.items())
    return text


def gitignore_text(existing: str | None) -> str | None:
    """The `.gitignore` text that keeps `.env` out of git, or None when `existing` already does."""
    if existing is not None and pathspec.GitIgnoreSpec.from_lines(existing.splitlines()).match_file(DOTENV_NAME):
        return None
    text = existing or ""
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "# secrets written by `fnsync import`\n" + DOTENV_NAME + "\n"


# --- the manifest --------------------------------------------------------------------------------------------------


def escape_literal(value: str) -> str:
    """A value that interpolation turns back into `value`: every `${` becomes `$${`."""
    return value.replace("${", "$${")


class _Dumper(yaml.SafeDumper):
    """Block mappings, inline lists, no folding of long lines, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False)


class Quoted(str):
    """Text always written in double quotes (cron schedules read better that way, as the manifest docs advise)."""


def _represent_quoted(dumper: yaml.SafeDumper, data: Quoted) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


_Dumper.add_representer(Quoted, _represent_quoted)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)


def manifest_text(
    functions: Iterable[ImportedFunction],
    env_names: Mapping[tuple[str, str], str] | None,
    *,
    endpoint: str | None = None,
    project: str | None = None,
    header: str = "",
) -> str:
    """The manifest; variables as `${NAME}` (`env_names`) or, when that is None, inline and escaped."""
    top: dict[str, Any] = {"version": 1}
    if endpoint:
        top["endpoint"] = endpoint
    if project:
        top["project"] = project
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    text = comment + _dump(top)
    blocks: list[str] = []
    for function in functions:
        entry = dict(function.settings)
        if entry.get("schedule"):
            entry["schedule"] = Quoted(entry["schedule"])
        if function.variables:
            entry["variables"] = {}
            for key, value in function.variables.items():
                written = f"${{{env_names[(function.id, key)]}}}" if env_names is not None else escape_literal(value)
                options = function.variable_options.get(key)
                entry["variables"][key] = {"value": written, **options} if options else written
        blocks.append(textwrap.indent(_dump({function.id: entry}), "  ", lambda line: True))
    if not blocks:
        return text + "functions: {}\n"
    return text + "\nfunctions:\n" + "\n".join(blocks)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=2**31 - 1)
