"""Where to connect: endpoint, project and API key, resolved with one documented precedence.

1. command-line flags (`--endpoint`, `--project`);
2. the environment (`APPWRITE_ENDPOINT`, `APPWRITE_PROJECT_ID`, `APPWRITE_API_KEY`);
3. the manifest's `endpoint` / `project`.

The API key is never read from the manifest (manifests live in git). When no endpoint is configured at all the
CLI falls back to the embedded local server; that wiring lives in `syncer.cli.common`, not here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from syncer.manifest.models import Manifest

Source = Literal["flag", "env", "manifest", "none"]

ENV_ENDPOINT = "APPWRITE_ENDPOINT"
ENV_PROJECT = "APPWRITE_PROJECT_ID"
ENV_API_KEY = "APPWRITE_API_KEY"


class ConnectionSettings(BaseModel):
    """Resolved connection; `api_key` is a `SecretStr` so it never shows in a repr, log or error."""

    model_config = ConfigDict(frozen=True)

    endpoint: str | None = None
    project: str | None = None
    api_key: SecretStr | None = None
    endpoint_source: Source = "none"
    project_source: Source = "none"
    api_key_source: Source = "none"

    @property
    def configured(self) -> bool:
        """False when nothing names an endpoint: the cue for the embedded local server."""
        return self.endpoint is not None

    def missing(self) -> list[str]:
        """What is still needed to talk to a remote server, phrased as what to set."""
        needs = []
        if not self.endpoint:
            needs.append(f"an endpoint (--endpoint, {ENV_ENDPOINT} or `endpoint:` in the manifest)")
        if not self.project:
            needs.append(f"a project (--project, {ENV_PROJECT} or `project:` in the manifest)")
        if self.api_key is None:
            needs.append(f"an API key ({ENV_API_KEY})")
        return needs

    def describe(self) -> str:
        """One line for people, without the key."""
        key = f"key from {self.api_key_source}" if self.api_key is not None else "no key"
        return f"{self.endpoint} (from {self.endpoint_source}), project {self.project} (from {self.project_source}), {key}"


def _pick(flag: str | None, env: str | None, manifest: str | None) -> tuple[str | None, Source]:
    for value, source in ((flag, "flag"), (env, "env"), (manifest, "manifest")):
        if value:
            return value.strip(), source  # type: ignore[return-value]
    return None, "none"


def resolve_connection(
    manifest: Manifest | None,
    *,
    endpoint: str | None = None,
    project: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ConnectionSettings:
    """Apply the precedence flags > environment > manifest; the key comes from the environment only."""
    env = os.environ if environ is None else environ
    resolved_endpoint, endpoint_source = _pick(endpoint, env.get(ENV_ENDPOINT), manifest.endpoint if manifest else None)
    resolved_project, project_source = _pick(project, env.get(ENV_PROJECT), manifest.project if manifest else None)
    key = env.get(ENV_API_KEY) or None
    return ConnectionSettings(
        endpoint=resolved_endpoint.rstrip("/") if resolved_endpoint else None,
        project=resolved_project,
        api_key=SecretStr(key) if key else None,
        endpoint_source=endpoint_source,
        project_source=project_source,
        api_key_source="env" if key else "none",
    )
