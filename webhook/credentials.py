"""Which token git may send where: each provider's token to its own host only, every other host gets none.

GitHub's host comes from --github-api-url (`api.github.com` serves `github.com`, Enterprise `https://HOST/api/v3`
serves HOST, `api.NAME.ghe.com` serves NAME.ghe.com), GitLab's from --gitlab-api-url, Gitea's from --gitea-api-url
(without it, no Gitea token reaches git: the payload must not choose where it goes). Only `https` URLs get one,
and only for deliveries of that provider (a GitHub delivery never carries GITLAB_TOKEN, whatever its URL).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from webhook.config import WebhookConfig

DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class HostToken:
    provider: str
    host: str  # normalised `host:port`
    username: str
    token: str

    def header(self) -> str:
        basic = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        return f"Authorization: Basic {basic}"

    def secrets(self) -> set[str]:
        """The token and its encoded form, for scrubbing git's output."""
        return {self.token, self.header().removeprefix("Authorization: Basic ")}


def host_of(url: str) -> str | None:
    """`host:port` of an https URL, lower case, default port made explicit; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return None
    return f"{parts.hostname.lower()}:{port}"


def github_git_host(api_url: str) -> str | None:
    """The git host a GitHub REST API base serves."""
    host = host_of(api_url)
    if host is None:
        return None
    name, port = host.rsplit(":", 1)
    if name.startswith("api."):  # api.github.com, api.NAME.ghe.com
        name = name.removeprefix("api.")
    return f"{name}:{port}"


@dataclass(frozen=True)
class CloneCredentials:
    tokens: tuple[HostToken, ...] = ()

    @classmethod
    def from_config(cls, config: WebhookConfig) -> CloneCredentials:
        wanted = (
            ("github", config.github_token, github_git_host(config.github_api_url), "x-access-token"),
            ("gitlab", config.gitlab_token, host_of(config.gitlab_api_url), "oauth2"),
            ("gitea", config.gitea_token, host_of(config.gitea_api_url) if config.gitea_api_url else None, "oauth2"),
        )
        return cls(tuple(HostToken(p, host, user, _value(t)) for p, t, host, user in wanted if host and _value(t)))

    def for_url(self, url: str, provider: str) -> HostToken | None:
        """The token for cloning `url` for a delivery from `provider`: that provider's, if the URL is on its host."""
        host = host_of(url)
        return next((t for t in self.tokens if t.provider == provider and t.host == host), None)

    def secrets(self) -> set[str]:
        return {value for token in self.tokens for value in token.secrets()}


def _value(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""
