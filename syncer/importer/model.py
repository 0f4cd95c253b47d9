"""What an import produces before anything is written: functions under manifest key names, and what we learned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ImporterError(Exception):
    """The import cannot go ahead (bad input, unknown target, something in the way); nothing was written."""


class ImportedFunction(BaseModel):
    """One function as it will appear in the manifest.

    `settings` holds manifest keys (defaults already left out) in writing order; `variables` the real values
    (written as `${NAME}` plus `.env`, or inline). `code` is a staged folder to move into `settings["path"]`
    (server imports), None when the code stays where it is or there is none.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    settings: dict[str, Any]
    variables: dict[str, str] = Field(default_factory=dict)
    # Per variable key, the long form's other fields (`secret`, `description`) when they must be written.
    variable_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    code: Path | None = None
    file_count: int = 0
    round_trip: bool | None = None  # None: no code imported; False: `fnsync plan` will show a code change
    notes: list[str] = Field(default_factory=list)  # warnings for people (never a variable's value)


class ImportResult(BaseModel):
    """What was written, for the CLI's summary."""

    manifest: Path
    functions: list[ImportedFunction]
    inline_values: bool = False  # variable values are in the manifest, not in .env
    dotenv: Path | None = None  # written or extended
    dotenv_names: int = 0
    gitignore: Path | None = None  # created or extended
    code_folders: list[Path] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # about the import as a whole

    @property
    def not_round_trip(self) -> list[ImportedFunction]:
        return [function for function in self.functions if function.round_trip is False]
