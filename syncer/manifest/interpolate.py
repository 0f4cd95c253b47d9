"""`${NAME}` and `${NAME:-default}` in manifest values, from the process environment or a `.env` file.

The process environment wins over `.env` (so CI can override a developer's file). `${NAME:-default}` uses the
default when NAME is unset *or empty*, as in the shell. `$${` writes a literal `${`; any other `$` is literal.
Only values are interpolated, never keys. A default is literal text up to the first `}`: nesting is an error.

Every path whose value took text from the environment or `.env` is returned, because variable values built
that way are sensitive (masked everywhere). A `:-default` written in the manifest is not: it is already in git.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv.parser import parse_stream

from syncer.manifest.errors import ManifestIssue
from syncer.manifest.loader import Document, FieldPath

_TOKEN = re.compile(
    r"\$\$\{"  # escape: `$${` -> `${`
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
    r"|\$\{"  # anything else after `${` is malformed
)


@dataclass
class Interpolated:
    data: Any
    sensitive_paths: set[FieldPath]  # values that took text from the environment or `.env`
    failed_paths: set[FieldPath]  # values with an interpolation problem (already reported)


def read_dotenv(text: str, file: str) -> tuple[dict[str, str], list[ManifestIssue]]:
    """Parse `.env` text (python-dotenv's grammar: `KEY=value`, `export`, quotes, `#` comments)."""
    values: dict[str, str] = {}
    issues: list[ManifestIssue] = []
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            issues.append(ManifestIssue(file=file, line=binding.original.line, message="can't parse this line of .env"))
        elif binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values, issues


def load_dotenv_file(path: Path) -> tuple[dict[str, str], list[ManifestIssue]]:
    """`.env` beside the manifest, if there is one."""
    try:
        if not path.is_file():
            return {}, []
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not valid UTF-8 text"
        return {}, [ManifestIssue(file=str(path), message=f"can't read .env: {reason}")]
    return read_dotenv(text, str(path))


def interpolate_document(document: Document, variables: Mapping[str, str]) -> Interpolated:
    """Replace `${...}` in every string value of `document.data`; problems are added to `document.issues`."""
    sensitive: set[FieldPath] = set()
    failed: set[FieldPath] = set()

    def walk(value: Any, path: FieldPath) -> Any:
        if isinstance(value, dict):
            return {key: walk(item, path + (key,)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, path + (index,)) for index, item in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            result, from_environment, problems = interpolate_text(value, variables)
            for problem in problems:
                document.add_issue(path, problem)
                failed.add(path)
            if from_environment:
                sensitive.add(path)
            return result
        return value

    data = walk(document.data, ())
    return Interpolated(data=data, sensitive_paths=sensitive, failed_paths=failed)


def interpolate_text(text: str, variables: Mapping[str, str]) -> tuple[str, bool, list[str]]:
    """Returns (result, whether any text came from `variables`, problems). Problems never quote values."""
    problems: list[str] = []
    from_environment = False

    def replace(match: re.Match[str]) -> str:
        nonlocal from_environment
        token = match.group(0)
        if token == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            problems.append("malformed interpolation: use ${NAME} or ${NAME:-default} (write $${ for a literal ${)")
            return token
        default = match.group("default")
        if default is not None and "${" in default:
            problems.append(f"nested interpolation in the default of ${{{name}}} is not supported")
            return token
        value = variables.get(name)
        if default is not None and not value:
            return default
        if value is None:
            problems.append(f"environment variable {name} is not set (set it, add it to .env, or use ${{{name}:-default}})")
            return ""
        from_environment = True
        return value

    result = _TOKEN.sub(replace, text)
    return result, from_environment, problems
