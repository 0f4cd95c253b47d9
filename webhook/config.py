"""Settings of one receiver. Secrets come from the environment (see `from_environ`), never from flags."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_CLONE_URLS = ("https://github.com/*",)


class WebhookConfig(BaseModel):
    """What `fnsync webhook` was started with. Frozen: workers and handlers share one instance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretStr
    data_dir: Path
    admin_token: SecretStr | None = None
    github_token: SecretStr | None = None
    allow_clone_urls: tuple[str, ...] = DEFAULT_CLONE_URLS
    manifest_path: str = "functions.yaml"
    github_api_url: str = "https://api.github.com"
    queue_size: int = Field(default=100, ge=1)
    workers: int = Field(default=2, ge=1)
    allow_fork_prs: bool = False
    max_body_size: int = Field(default=25 * 1024 * 1024, ge=1024)  # GitHub caps payloads at 25 MB
    max_attempts: int = Field(default=5, ge=1)
    retry_base: float = Field(default=2.0, gt=0)  # seconds; doubled per attempt
    retry_cap: float = Field(default=60.0, gt=0)
    job_timeout: float = Field(default=900.0, gt=0)  # one delivery's whole reconcile, build waits included
    fsync: bool = False  # synchronous=FULL for the queue: survives power loss too, ~10x slower commits
    link_refresh: float = Field(default=15.0, gt=0)  # how often the function→repository index is re-read
    link_miss_ttl: float = Field(default=3.0, ge=0)  # how long a fresh read that found no link for a pair is trusted
    # Appwrite connection (resolved by syncer.connection in the CLI; passed explicitly here).
    endpoint: str = ""
    project: str = ""
    api_key: SecretStr | None = None

    @field_validator("secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the webhook secret must not be empty")
        return value

    @field_validator("manifest_path")
    @classmethod
    def _relative_manifest(cls, value: str) -> str:
        path = Path(value)
        if path.is_absolute() or ".." in path.parts or not value.strip():
            raise ValueError("--manifest-path must be a relative path inside the repository")
        return path.as_posix()

    @property
    def db_path(self) -> Path:
        return self.data_dir / "deliveries.sqlite3"

    @property
    def mirrors_dir(self) -> Path:
        return self.data_dir / "mirrors"

    @property
    def work_dir(self) -> Path:
        """Exported trees of commits being deployed (emptied on start)."""
        return self.data_dir / "work"

    def clone_url_allowed(self, url: str) -> bool:
        """Glob match against the allow-list; a URL carrying credentials is never allowed."""
        if "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            return False
        return any(fnmatch.fnmatchcase(url, pattern) for pattern in self.allow_clone_urls)

    def secrets(self) -> set[str]:
        """Values scrubbed from every stored error and log line."""
        values = {self.secret.get_secret_value()}
        for item in (self.admin_token, self.github_token, self.api_key):
            if item is not None and item.get_secret_value():
                values.add(item.get_secret_value())
        return values

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **settings: object) -> WebhookConfig:
        """Secrets from FNSYNC_WEBHOOK_SECRET, FNSYNC_ADMIN_TOKEN and GITHUB_TOKEN; the rest from `settings`."""
        extra: dict[str, object] = {"secret": environ.get("FNSYNC_WEBHOOK_SECRET", "")}
        if environ.get("FNSYNC_ADMIN_TOKEN"):
            extra["admin_token"] = environ["FNSYNC_ADMIN_TOKEN"]
        if environ.get("GITHUB_TOKEN"):
            extra["github_token"] = environ["GITHUB_TOKEN"]
        return cls(**extra, **settings)  # type: ignore[arg-type]


def scrub(text: str, secrets: set[str]) -> str:
    """Replace every secret in `text` with *** (errors from git or httpx may echo URLs or headers)."""
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, "***")
    return text
