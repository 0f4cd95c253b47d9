"""Which functions a job concerns, and the FunctionSpec each one is reconciled from.

Functions are matched by the server's provider settings (repository id and branch). A function the
manifest describes is reconciled from the manifest (its paths resolved inside the exported tree); any
other matched function gets a spec built from its own server settings, with `path` = its
providerRootDirectory inside the export, so only its code can change.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from syncer.client.models import Function
from syncer.manifest.models import FunctionSpec, Manifest, VariableValue


def matched_functions(functions: list[Function], repo_id: str, branch: str) -> list[Function]:
    return [f for f in functions if f.provider_repository_id == repo_id and f.provider_branch == branch]


def root_in_tree(tree: Path, root_directory: str) -> Path:
    """`providerRootDirectory` inside the exported tree; refuses paths that leave it."""
    relative = PurePosixPath(root_directory.strip().strip("/") or ".")
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"providerRootDirectory {root_directory!r} leaves the repository")
    return (tree / relative).resolve()


def spec_from_server(function: Function, tree: Path) -> FunctionSpec:
    """A spec equal to the server's settings (so only code can differ). Its variables are left as they are on the
    server: not compared, not written (a secret one reads back empty, so copying it would wipe it)."""
    return FunctionSpec(
        id=function.id,
        name=function.name,
        runtime=function.runtime,
        path=root_in_tree(tree, function.provider_root_directory),
        entrypoint=function.entrypoint,
        commands=function.commands,
        execute=function.execute,
        events=function.events,
        schedule=function.schedule,
        timeout=function.timeout,
        enabled=function.enabled,
        logging=function.logging,
        scopes=function.scopes,
        specification=function.specification or None,
        # Copied as sensitive only so that their values are scrubbed from what the receiver reports.
        variables={v.key: VariableValue(value=v.value, sensitive=True) for v in function.vars},
        keep_server_variables=True,
        git=None,  # the planner keeps the server's VCS link when a spec has no git settings
    )


def watched_paths(function: Function, spec: FunctionSpec, tree: Path, manifest: Manifest | None) -> list[str]:
    """Repository-relative folders/globs whose changes concern `function` (root directory, spec path, includes)."""
    paths = [function.provider_root_directory.strip().strip("/")]
    if spec.path is not None:
        try:
            paths.append(spec.path.resolve().relative_to(tree.resolve()).as_posix())
        except ValueError:
            pass
    if manifest is not None:
        base = manifest.root.resolve().relative_to(tree.resolve()).as_posix()
        for include in spec.include:
            joined = PurePosixPath(base) / include if base != "." else PurePosixPath(include)
            paths.append(joined.as_posix())
    return [("" if p == "." else p) for p in paths]


def touches(paths: list[str], changed: tuple[str, ...]) -> bool:
    """True when a changed file lies under one of `paths` ('' = the whole repository) or matches a glob."""
    import fnmatch

    for path in paths:
        for name in changed:
            if path == "" or name == path or name.startswith(path.rstrip("/") + "/"):
                return True
            if any(ch in path for ch in "*?[") and (fnmatch.fnmatchcase(name, path) or fnmatch.fnmatchcase(name, path + "/*")):
                return True
    return False
