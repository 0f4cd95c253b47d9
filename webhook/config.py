"""Settings of one receiver. Secrets come from the environment (see `from_environ`), never from flags."""

from __future__ import annotations

import fnmatch
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from syncer import redact
from syncer.manifest.environments import NAME_PATTERN

DEFAULT_CLONE_URLS = ("https://github.com/*",)
BRANCH_ENV_VAR = "FNSYNC_WEBHOOK_BRANCH_ENV"
DATABASE_VAR = "FNSYNC_DATABASE_URL"
SECRET_VAR = "FNSYNC_WEBHOOK_SECRET"
# A shorter shared secret can be guessed offline from one signed delivery; GitHub suggests a long random one.
MIN_SECRET_LENGTH = 16
# The receiver's own credentials: never shown to a manifest from git, scrubbed from every log line.
TOKEN_VARS = ("GITHUB_TOKEN", "GITLAB_TOKEN", "GITEA_TOKEN")


def secret_problem(secret: str) -> str | None:
    """Why `secret` cannot sign deliveries (unset, or shorter than MIN_SECRET_LENGTH), with what to do; None if fine."""
    if not secret.strip():
        return f"{SECRET_VAR} is not set: refusing to accept unsigned deliveries"
    if len(secret) < MIN_SECRET_LENGTH:
        return (
            f"{SECRET_VAR} is {len(secret)} characters long; use at least {MIN_SECRET_LENGTH} "
            "(e.g. `openssl rand -hex 32`), and set the same value as the webhook's secret in GitHub, GitLab or Gitea"
        )
    return None


def parse_branch_envs(items: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`BRANCH=ENV` items (BRANCH may be a glob) -> ordered pairs; ValueError names the bad item.

    Split at the last `=`: environment names cannot contain one, branch names can."""
    pairs: list[tuple[str, str]] = []
    for item in items:
        branch, sep, env = item.strip().rpartition("=")
        if not sep or not branch.strip() or not env.strip():
            raise ValueError(f"--branch-env {item.strip()!r}: expected BRANCH=ENV, e.g. main=production")
        pairs.append((branch.strip(), env.strip()))
    return tuple(pairs)


class WebhookConfig(BaseModel):
    """What `fnsync webhook` was started with. Frozen: workers and handlers share one instance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretStr
    data_dir: Path
    admin_token: SecretStr | None = None
    github_token: SecretStr | None = None
    gitlab_token: SecretStr | None = None
    gitea_token: SecretStr | None = None
    allow_clone_urls: tuple[str, ...] = DEFAULT_CLONE_URLS
    manifest_path: str = "functions.yaml"
    github_api_url: str = "https://api.github.com"
    gitlab_api_url: str = "https://gitlab.com"  # the instance; `/api/v4` is added unless already there
    gitea_api_url: str | None = None  # the instance; None = the host of the payload's repository html_url
    branch_envs: tuple[tuple[str, str], ...] = ()  # (branch glob, manifest environment), first match wins
    queue_size: int = Field(default=100, ge=1)
    workers: int = Field(default=2, ge=1)
    allow_fork_prs: bool = False
    max_body_size: int = Field(default=25 * 1024 * 1024, ge=1024)  # GitHub caps payloads at 25 MB
    # Bodies read at once (each up to max_body_size): the receiver's memory for bodies is bounded by their product.
    max_concurrent_bodies: int = Field(default=4, ge=1)
    body_timeout: float = Field(default=30.0, gt=0)  # seconds to wait for a slot and read one body (408 after)
    report_timeout: float = Field(default=5.0, gt=0)  # one VCS API call (statuses, comments), in the background
    max_attempts: int = Field(default=5, ge=1)
    retry_base: float = Field(default=2.0, gt=0)  # seconds; doubled per attempt
    retry_cap: float = Field(default=60.0, gt=0)
    job_timeout: float = Field(default=900.0, gt=0)  # one delivery's whole reconcile, build waits included
    lock_wait: float = Field(default=60.0, ge=0)  # seconds to wait for another fnsync's project lock per attempt
    # The project lock's TTL, refreshed every third of it: how long a receiver killed on another host blocks applies.
    lock_ttl: float = Field(default=120.0, gt=0)
    fsync: bool = False  # synchronous=FULL for the queue: survives power loss too, ~10x slower commits
    # The queue and delivery log: None = SQLite in the data dir; `sqlite:///path`; `postgresql://…` (shared by replicas).
    database: SecretStr | None = None
    # How long a job claimed by a receiver that stopped renewing it (killed, cut off) waits before another takes it.
    lease: float = Field(default=30.0, ge=1)
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

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value().strip()
        scheme = url.split(":", 1)[0].lower()
        if scheme in ("postgresql", "postgres") and url[len(scheme):].startswith("://"):
            return SecretStr(url)
        if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
            return SecretStr(url)
        raise ValueError(
            f"--database {url.rsplit('@', 1)[-1] if '@' in url else url[:40]!r}: expected sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DBNAME (or FNSYNC_DATABASE_URL)"
        )

    @field_validator("manifest_path")
    @classmethod
    def _relative_manifest(cls, value: str) -> str:
        path = Path(value)
        if path.is_absolute() or ".." in path.parts or not value.strip():
            raise ValueError("--manifest-path must be a relative path inside the repository")
        return path.as_posix()

    @field_validator("branch_envs")
    @classmethod
    def _environment_names(cls, value: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        for branch, env in value:
            if not NAME_PATTERN.fullmatch(env):
                raise ValueError(
                    f"--branch-env {branch}={env}: environment names are 1-64 letters, digits, '-' and '_', "
                    "starting with a letter or a digit"
                )
        return value

    def environment_for(self, branch: str) -> str | None:
        """The manifest environment a branch deploys (`--branch-env`, first matching glob), or None."""
        for pattern, env in self.branch_envs:
            if fnmatch.fnmatchcase(branch, pattern):
                return env
        return None

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
        for item in (self.admin_token, self.github_token, self.gitlab_token, self.gitea_token, self.api_key):
            if item is not None and item.get_secret_value():
                values.add(item.get_secret_value())
        password = self.database_password()
        if password:
            values.add(password)
        return values

    def database_password(self) -> str | None:
        """The password inside `database` (postgresql://user:PASSWORD@host/db), scrubbed like any secret."""
        if self.database is None:
            return None
        try:
            return urlsplit(self.database.get_secret_value()).password
        except ValueError:
            return None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **settings: object) -> WebhookConfig:
        """Secrets from FNSYNC_WEBHOOK_SECRET, FNSYNC_ADMIN_TOKEN, GITHUB_TOKEN, GITLAB_TOKEN and GITEA_TOKEN; the
        database URL from FNSYNC_DATABASE_URL unless given;
        `branch_envs` from FNSYNC_WEBHOOK_BRANCH_ENV (a comma list) unless given; the rest from `settings`.
        Raises ValueError (pydantic's ValidationError included) on bad values."""
        extra: dict[str, object] = {"secret": environ.get(SECRET_VAR, "")}
        if "database" not in settings and environ.get(DATABASE_VAR, "").strip():
            extra["database"] = environ[DATABASE_VAR].strip()
        if environ.get("FNSYNC_ADMIN_TOKEN"):
            extra["admin_token"] = environ["FNSYNC_ADMIN_TOKEN"]
        for name in TOKEN_VARS:
            if environ.get(name):
                extra[name.lower()] = environ[name]
        if "branch_envs" not in settings and environ.get(BRANCH_ENV_VAR, "").strip():
            extra["branch_envs"] = parse_branch_envs(i for i in environ[BRANCH_ENV_VAR].split(",") if i.strip())
        return cls(**extra, **settings)  # type: ignore[arg-type]


def scrub(text: str, secrets: set[str]) -> str:
    """Replace every secret in `text` with ***, in every form (errors from git or httpx may echo URLs or headers,
    URL-encoded or base64 in a Basic header): `syncer.redact.scrub`."""
    return redact.scrub(text, secrets, mask="***")


def scrubbed_traceback(exc: BaseException, secrets: set[str]) -> str:
    """The traceback for a log line, scrubbed: `log.exception` would print the exception's message as is."""
    return scrub("".join(traceback.format_exception(exc)), secrets).rstrip()
