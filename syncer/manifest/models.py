"""The manifest as data: frozen pydantic models of `functions.yaml` after loading and interpolation.

Field names mirror Appwrite's so the docs map one to one. These models are the contract between the
loader (`syncer.manifest.loader`), packaging, the planner and the webhook.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VariableValue(Frozen):
    """A variable's value and whether it must be masked (it came from the environment or `.env`).

    `secret`: None = decided by sensitivity (sensitive values become secret variables where the server has them);
    `description`: None = left to the server (Appwrite 2.5+).
    """

    value: str
    sensitive: bool = False
    secret: bool | None = None
    description: str | None = None

    def display(self) -> str:
        return "(sensitive)" if self.sensitive else self.value


class GitSettings(Frozen):
    """A function's VCS provider settings (Appwrite's installationId/provider* fields)."""

    installation_id: str = ""
    repository_id: str = ""
    branch: str = ""
    root_directory: str = ""
    silent_mode: bool | None = None  # None = keep the server's
    branches: tuple[str, ...] | None = None  # Appwrite 1.9.5+; None = keep the server's
    paths: tuple[str, ...] | None = None  # Appwrite 1.9.5+; None = keep the server's


class FunctionSpec(Frozen):
    """One function as the manifest wants it. Defaults are Appwrite 1.6's create defaults.

    Settings that default to None are managed only when set: unset, every update keeps the server's value.
    """

    id: str
    name: str
    runtime: str
    path: Path | None = None  # absolute, resolved against the manifest's folder; None = settings only
    include: tuple[str, ...] = ()  # extra folders or globs, relative to the manifest's folder
    ignore: tuple[str, ...] = ()
    entrypoint: str = ""
    commands: str = ""
    execute: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    schedule: str = ""
    timeout: int = 15
    enabled: bool = True
    logging: bool = True
    scopes: tuple[str, ...] = ()
    specification: str | None = None  # shorthand for both specifications below
    build_specification: str | None = None  # Appwrite 1.9+
    runtime_specification: str | None = None  # Appwrite 1.9+
    deployment_retention: int | None = None  # days, Appwrite 1.9+
    description: str | None = None  # Appwrite 2.5
    interval: int | None = None  # minutes, Appwrite 2.5; exclusive with `schedule`
    variables: dict[str, VariableValue] = Field(default_factory=dict)
    git: GitSettings | None = None
    # Not from a manifest: the webhook's spec of a function no manifest describes (or of a preview) deploys code
    # only; the server's variables are neither compared nor written (secret ones cannot even be read back).
    keep_server_variables: bool = False
    line: int = 0  # where the function is declared in the manifest, for messages
    lines: dict[str, int] = Field(default_factory=dict)  # field name -> line where it is set (maybe under `defaults`)


class PruneSettings(Frozen):
    keep: tuple[str, ...] = ()  # function ID globs never deleted by --prune


class Manifest(Frozen):
    """A whole validated manifest. `functions` keeps the file's order.

    `environment` is the environment whose overrides were applied (None: the manifest as written);
    `environments` lists every environment the file defines, in file order.
    """

    source: Path  # absolute path of the manifest file
    version: int = 1
    endpoint: str | None = None
    project: str | None = None
    functions: dict[str, FunctionSpec] = Field(default_factory=dict)
    prune: PruneSettings = PruneSettings()
    environment: str | None = None
    environments: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        """The folder the manifest lives in; paths in it are relative to this."""
        return self.source.parent

    def sensitive_values(self) -> set[str]:
        """Every value that must never be printed (used to scrub logs and errors)."""
        return {v.value for f in self.functions.values() for v in f.variables.values() if v.sensitive and v.value}
