"""Turn imported functions into files: draft everything, validate it as `fnsync validate` would, then write.

Nothing touches the destination until the whole draft is valid: the manifest text is parsed with the manifest
loader against the `.env` text it will sit beside and the (staged) code folders, and every variable is checked to
load back to its exact value. Only then are code folders moved into place, `.env` and `.gitignore` extended, and
the manifest written last (atomically), so an interrupted import never leaves a manifest pointing at nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from syncer.importer.model import ImportedFunction, ImporterError, ImportResult
from syncer.importer.render import (
    DOTENV_NAME,
    GITIGNORE_NAME,
    assign_env_names,
    dotenv_text,
    gitignore_text,
    manifest_text,
)
from syncer.importer.unpack import remove_tree
from syncer.manifest import ManifestError, parse_manifest_text
from syncer.manifest.interpolate import read_dotenv
from syncer.manifest.models import Manifest


@dataclass
class Draft:
    out: Path
    functions: list[ImportedFunction]
    manifest_text: str
    manifest: Manifest  # the text, loaded back
    dotenv_text: str | None  # the whole new `.env`, None = leave it alone
    dotenv_added: int
    gitignore_text: str | None  # the whole new `.gitignore`, None = leave it alone
    inline_values: bool = False


def check_free(out: Path, code_paths: Iterable[str], force: bool) -> None:
    """Refuse (before any download) to overwrite the manifest or a non-empty code folder without `force`."""
    if force:
        return
    if out.exists():
        raise ImporterError(f"{out} already exists; use --force to overwrite it (or --out another file)")
    busy = []
    for relative in code_paths:
        folder = out.parent / relative
        if folder.is_file() or (folder.is_dir() and any(folder.iterdir())):
            busy.append(str(folder))
    if busy:
        raise ImporterError(f"code folder(s) not empty: {', '.join(busy)}; use --force to replace their contents")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImporterError(f"can't read {path}: {exc}") from None


def make_draft(
    out: Path,
    functions: list[ImportedFunction],
    *,
    inline_values: bool,
    environ: Mapping[str, str],
    files_root: Path,
    endpoint: str | None = None,
    project: str | None = None,
    header: str = "",
) -> Draft:
    """Render and validate; raises `ImporterError` (nothing written) when the result would not load."""
    out = Path(os.path.abspath(out))
    dotenv_path = out.parent / DOTENV_NAME
    existing_env_text = _read_text(dotenv_path) or ""
    existing_env, problems = read_dotenv(existing_env_text, str(dotenv_path))
    has_variables = any(function.variables for function in functions)
    names: dict[tuple[str, str], str] | None = None
    new_env: str | None = None
    added: dict[str, str] = {}
    if not inline_values and has_variables:
        if problems:
            raise ImporterError(f"{dotenv_path} has lines python-dotenv cannot parse; fix it or use --inline-values")
        names = assign_env_names(functions, existing_env, reserved=environ.keys())
        values = {(function.id, key): value for function in functions for key, value in function.variables.items()}
        for ref, name in names.items():
            if name not in existing_env and name not in added:
                added[name] = values[ref]
        new_env = dotenv_text(existing_env_text, added, "written by `fnsync import` (keep this file out of git)")
    text = manifest_text(functions, names, endpoint=endpoint, project=project, header=header)
    try:
        manifest = parse_manifest_text(
            text, out, environ={}, dotenv_text=new_env if new_env is not None else existing_env_text, files_root=files_root
        )
    except ManifestError as exc:
        issues = "\n".join(f"  {issue.field or 'manifest'}: {issue.message}" for issue in exc.issues)
        raise ImporterError(f"the imported functions do not make a valid manifest; nothing was written:\n{issues}") from None
    for function in functions:
        loaded = manifest.functions[function.id].variables
        if {key: value.value for key, value in loaded.items()} != function.variables:
            raise ImporterError(f"internal error: variables of {function.id} would not load back exactly; nothing was written")
    gitignore = None
    if new_env is not None and added:
        gitignore = gitignore_text(_read_text(out.parent / GITIGNORE_NAME))
    return Draft(
        out=out,
        functions=functions,
        manifest_text=text,
        manifest=manifest,
        dotenv_text=new_env if added else None,
        dotenv_added=len(added),
        gitignore_text=gitignore,
        inline_values=inline_values,
    )


def commit(draft: Draft, *, force: bool) -> ImportResult:
    """Write the draft: code folders, `.env`, `.gitignore`, then the manifest."""
    root = draft.out.parent
    check_free(draft.out, [f.settings["path"] for f in draft.functions if f.code is not None], force)
    root.mkdir(parents=True, exist_ok=True)
    folders: list[Path] = []
    for function in draft.functions:
        if function.code is None:
            continue
        target = root / function.settings["path"]
        if target.exists() or target.is_symlink():
            remove_tree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(function.code), str(target))
        folders.append(target)
    dotenv = gitignore = None
    if draft.dotenv_text is not None:
        dotenv = root / DOTENV_NAME
        _write(dotenv, draft.dotenv_text, mode=0o600)
    if draft.gitignore_text is not None:
        gitignore = root / GITIGNORE_NAME
        _write(gitignore, draft.gitignore_text)
    _write(draft.out, draft.manifest_text)
    return ImportResult(
        manifest=draft.out,
        functions=draft.functions,
        inline_values=draft.inline_values,
        dotenv=dotenv,
        dotenv_names=draft.dotenv_added,
        gitignore=gitignore,
        code_folders=folders,
    )


def _write(path: Path, text: str, mode: int | None = None) -> None:
    """Write beside, then rename: a reader never sees half a file."""
    partial = path.with_name(path.name + ".fnsync-tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        if mode is not None:
            partial.chmod(mode)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
