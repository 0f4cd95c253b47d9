"""Settings of one local server instance."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Versions the local server can answer as (`emulate_version`, a test switch; see localserver.compat).
EMULATED_VERSIONS: tuple[str, ...] = ("1.5.0", "1.6.2", "1.7.4", "1.8.1")


class ServerConfig(BaseModel):
    """What `fnsync local-server` was started with; mirrors the `_APP_FUNCTIONS_*` knobs of Appwrite."""

    model_config = ConfigDict(frozen=True)

    data_dir: Path
    project_id: str = "local"
    api_key: str
    public_endpoint: str = "http://127.0.0.1:8080/v1"
    runtimes: tuple[str, ...] | None = Field(default=None, description="Allow-list like _APP_FUNCTIONS_RUNTIMES; None = all")
    size_limit: int = 30_000_000
    timeout_max: int = 900
    build_timeout: int = 900
    emulate_version: str = Field(default="1.6.2", description="Test switch: answer as this Appwrite version")
    installations: tuple[str, ...] = Field(default=(), description="VCS installation ids that exist (e.g. for webhook tests)")
    sandbox: Literal["auto", "bwrap", "user", "none"] = Field(default="auto", description="How user code is isolated; docs/sandbox.md")

    @field_validator("emulate_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value not in EMULATED_VERSIONS:
            raise ValueError(f"can emulate Appwrite {', '.join(EMULATED_VERSIONS)}, not {value!r}")
        return value

    @property
    def version(self) -> str:
        """The Appwrite version this server reports (health, errors, the runtime's APPWRITE_VERSION)."""
        return self.emulate_version

    @property
    def db_path(self) -> Path:
        return self.data_dir / "state.sqlite3"

    @property
    def code_dir(self) -> Path:
        """Uploaded archives, one file per deployment."""
        return self.data_dir / "code"

    @property
    def builds_dir(self) -> Path:
        """Unpacked and built deployments, one folder per deployment."""
        return self.data_dir / "builds"

    @property
    def uploads_dir(self) -> Path:
        """Chunks of uploads still in progress."""
        return self.data_dir / "uploads"
