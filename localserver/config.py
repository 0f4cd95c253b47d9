"""Settings of one local server instance."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from localserver.versions import APPWRITE_VERSIONS, ServerProfile, profile_for

# Versions the local server answers as (`--appwrite-version`); 1.5.0 is a test value that only reports
# its version (clients refuse it) and otherwise answers as 1.6.2.
EMULATED_VERSIONS: tuple[str, ...] = APPWRITE_VERSIONS
# `fnsync local-server` / `python -m localserver` default.
DEFAULT_APPWRITE_VERSION = "1.9.6"
# What a ServerConfig built in code answers as when not told (the embedded server of plan/apply/watch and
# the test fixtures): stays 1.6.2 until the fnsync client speaks the newer formats natively.
EMBEDDED_APPWRITE_VERSION = "1.6.2"
# Appwrite's default `_APP_FUNCTIONS_CREATION_ABUSE_LIMIT`.
CREATION_ABUSE_LIMIT = 50


class ServerConfig(BaseModel):
    """What `fnsync local-server` was started with; mirrors the `_APP_FUNCTIONS_*` knobs of Appwrite."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    data_dir: Path
    project_id: str = "local"
    api_key: str
    public_endpoint: str = "http://127.0.0.1:8080/v1"
    runtimes: tuple[str, ...] | None = Field(default=None, description="Allow-list like _APP_FUNCTIONS_RUNTIMES; None = all")
    size_limit: int = 30_000_000
    timeout_max: int = 900
    build_timeout: int = 900
    appwrite_version: str = Field(
        default=EMBEDDED_APPWRITE_VERSION,
        validation_alias=AliasChoices("appwrite_version", "emulate_version"),
        description="The Appwrite version this server answers as",
    )
    creation_abuse_limit: int | None = Field(
        default=None,
        description="Function creations allowed per project per day (_APP_FUNCTIONS_CREATION_ABUSE_LIMIT); None = no limit",
    )
    installations: tuple[str, ...] = Field(default=(), description="VCS installation ids that exist (e.g. for webhook tests)")

    @field_validator("appwrite_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value not in EMULATED_VERSIONS:
            raise ValueError(f"can emulate Appwrite {', '.join(EMULATED_VERSIONS)}, not {value!r}")
        return value

    @property
    def version(self) -> str:
        """The Appwrite version this server reports (health, errors, the runtime's APPWRITE_VERSION)."""
        return self.appwrite_version

    @property
    def emulate_version(self) -> str:
        """Former name of `appwrite_version`, kept for callers that still use it."""
        return self.appwrite_version

    @property
    def profile(self) -> ServerProfile:
        """The facts of the emulated version (`localserver.versions.profiles`)."""
        return profile_for(self.appwrite_version)

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
