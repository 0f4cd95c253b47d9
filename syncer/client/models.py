"""Appwrite's response models as the client returns them, for every format it speaks (1.6.0 … 2.5.0).

`extra="ignore"` keeps the client working when newer servers add fields. Fields that 1.7+ renamed are read
under either name (`deployment`/`deploymentId`, `size`/`sourceSize`, `buildTime`/`buildDuration`,
`functionId`/`resourceId`); fields a server's version lacks keep their defaults (`None` = "this server has no such
setting", so nothing compares or echoes it).
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Variable(Model):
    id: str = Field(alias="$id")
    created_at: str = Field(default="", alias="$createdAt")
    updated_at: str = Field(default="", alias="$updatedAt")
    key: str
    value: str = ""  # always "" for a secret variable
    secret: bool = False  # 1.7+
    description: str = ""  # 2.5+
    resource_id: str = Field(default="", alias="resourceId")


class Function(Model):
    id: str = Field(alias="$id")
    created_at: str = Field(default="", alias="$createdAt")
    updated_at: str = Field(default="", alias="$updatedAt")
    execute: tuple[str, ...] = ()
    name: str
    enabled: bool = True
    live: bool = True
    logging: bool = True
    runtime: str
    deployment: str = Field(  # active deployment id ("" if none); `deploymentId` from 1.7 on
        default="", validation_alias=AliasChoices("deployment", "deploymentId"), serialization_alias="deployment"
    )
    scopes: tuple[str, ...] = ()
    vars: tuple[Variable, ...] = ()
    events: tuple[str, ...] = ()
    schedule: str = ""
    timeout: int = 15
    entrypoint: str = ""
    commands: str = ""
    version: str = ""
    installation_id: str = Field(default="", alias="installationId")
    provider_repository_id: str = Field(default="", alias="providerRepositoryId")
    provider_branch: str = Field(default="", alias="providerBranch")
    provider_root_directory: str = Field(default="", alias="providerRootDirectory")
    provider_silent_mode: bool = Field(default=False, alias="providerSilentMode")
    specification: str = ""  # up to 1.8; on 1.9+ filled from buildSpecification (for readers that want one)
    description: str | None = None  # 2.5+
    interval: float | None = None  # 2.5+ (minutes)
    email_enabled: bool | None = Field(default=None, alias="emailEnabled")  # 2.5+
    deployment_retention: int | None = Field(default=None, alias="deploymentRetention")  # 1.9+
    build_specification: str | None = Field(default=None, alias="buildSpecification")  # 1.9+
    runtime_specification: str | None = Field(default=None, alias="runtimeSpecification")  # 1.9+
    provider_branches: tuple[str, ...] | None = Field(default=None, alias="providerBranches")  # 1.9.5+
    provider_paths: tuple[str, ...] | None = Field(default=None, alias="providerPaths")  # 1.9.5+
    # 1.7+ only (informational; "" from 1.6 servers)
    deployment_created_at: str = Field(default="", alias="deploymentCreatedAt")
    latest_deployment_id: str = Field(default="", alias="latestDeploymentId")
    latest_deployment_created_at: str = Field(default="", alias="latestDeploymentCreatedAt")
    latest_deployment_status: str = Field(default="", alias="latestDeploymentStatus")

    @model_validator(mode="before")
    @classmethod
    def _one_specification(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("specification") and data.get("buildSpecification"):
            data = {**data, "specification": data["buildSpecification"]}
        return data

    def setting(self, name: str) -> Any:
        """A setting by its API name (`deploymentRetention`), as PUT takes it (lists as lists)."""
        value = getattr(self, SETTING_ATTRIBUTES.get(name, name))
        return list(value) if isinstance(value, tuple) else value


# API setting name -> attribute of `Function`, where they differ.
SETTING_ATTRIBUTES: dict[str, str] = {
    "installationId": "installation_id",
    "providerRepositoryId": "provider_repository_id",
    "providerBranch": "provider_branch",
    "providerRootDirectory": "provider_root_directory",
    "providerSilentMode": "provider_silent_mode",
    "providerBranches": "provider_branches",
    "providerPaths": "provider_paths",
    "deploymentRetention": "deployment_retention",
    "buildSpecification": "build_specification",
    "runtimeSpecification": "runtime_specification",
    "emailEnabled": "email_enabled",
}


# Fields only newer servers fill; left out of anything that compares functions across reads.
NEWER_FUNCTION_FIELDS = frozenset(
    {"deployment_created_at", "latest_deployment_id", "latest_deployment_created_at", "latest_deployment_status"}
)


class Deployment(Model):
    id: str = Field(alias="$id")
    created_at: str = Field(default="", alias="$createdAt")
    updated_at: str = Field(default="", alias="$updatedAt")
    type: str = ""
    resource_id: str = Field(default="", alias="resourceId")
    entrypoint: str = ""
    size: int = Field(  # bytes of the uploaded archive; `sourceSize` from 1.7 on
        default=0, validation_alias=AliasChoices("size", "sourceSize"), serialization_alias="size"
    )
    build_size: int = Field(default=0, alias="buildSize")
    total_size: int = Field(default=0, alias="totalSize")  # 1.7+
    build_id: str = Field(default="", alias="buildId")
    activate: bool = False
    status: str = ""
    build_logs: str = Field(default="", alias="buildLogs")
    build_time: int = Field(  # seconds; `buildDuration` from 1.7 on
        default=0, validation_alias=AliasChoices("buildTime", "buildDuration"), serialization_alias="buildTime"
    )
    provider_commit_hash: str = Field(default="", alias="providerCommitHash")
    provider_branch: str = Field(default="", alias="providerBranch")

    @property
    def finished(self) -> bool:
        return self.status in ("ready", "failed", "canceled")


class Header(Model):
    name: str
    value: str


class Execution(Model):
    id: str = Field(alias="$id")
    created_at: str = Field(default="", alias="$createdAt")
    function_id: str = Field(  # `resourceId` on 2.5
        default="", validation_alias=AliasChoices("functionId", "resourceId"), serialization_alias="functionId"
    )
    deployment_id: str = Field(default="", alias="deploymentId")  # 1.8+
    trigger: str = ""
    status: str = ""
    request_method: str = Field(default="", alias="requestMethod")
    request_path: str = Field(default="", alias="requestPath")
    response_status_code: int = Field(default=0, alias="responseStatusCode")
    response_body: str = Field(default="", alias="responseBody")
    response_headers: tuple[Header, ...] = Field(default=(), alias="responseHeaders")
    logs: str = ""
    errors: str = ""
    duration: float = 0.0
    scheduled_at: str | None = Field(default=None, alias="scheduledAt")


class Runtime(Model):
    id: str = Field(alias="$id")
    key: str = ""
    name: str = ""
    version: str = ""


class Specification(Model):
    slug: str
    memory: int = 0
    cpus: float = 0
    enabled: bool = True


# --- additions (client helper) -------------------------------------------------------------------------------------


class Build(Model):
    """What 1.6's cancel-build answers. 1.7+ answers a Deployment, which the client turns into this (`from_deployment`)."""

    id: str = Field(default="", alias="$id")
    deployment_id: str = Field(default="", alias="deploymentId")
    status: str = ""
    duration: int = 0
    size: int = 0

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> Build:
        return cls(id=deployment.build_id, deployment_id=deployment.id, status=deployment.status,
                   duration=deployment.build_time, size=deployment.build_size)


class FunctionSettings(BaseModel):
    """The body of create/update function, under API names when dumped (`to_api`). `None` = not sent.

    PUT is a full replacement (§6): build this from the desired state, not from a partial change.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str
    runtime: str | None = None
    execute: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    schedule: str = ""
    timeout: int = 15
    enabled: bool = True
    logging: bool = True
    entrypoint: str = ""
    commands: str = ""
    scopes: tuple[str, ...] = ()
    specification: str | None = None
    description: str | None = None
    interval: float | None = None
    email_enabled: bool | None = Field(default=None, alias="emailEnabled")
    deployment_retention: int | None = Field(default=None, alias="deploymentRetention")
    build_specification: str | None = Field(default=None, alias="buildSpecification")
    runtime_specification: str | None = Field(default=None, alias="runtimeSpecification")
    provider_branches: tuple[str, ...] | None = Field(default=None, alias="providerBranches")
    provider_paths: tuple[str, ...] | None = Field(default=None, alias="providerPaths")
    installation_id: str | None = Field(default=None, alias="installationId")
    provider_repository_id: str | None = Field(default=None, alias="providerRepositoryId")
    provider_branch: str | None = Field(default=None, alias="providerBranch")
    provider_root_directory: str | None = Field(default=None, alias="providerRootDirectory")
    provider_silent_mode: bool | None = Field(default=None, alias="providerSilentMode")

    def to_api(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @classmethod
    def from_function(cls, function: Function) -> FunctionSettings:
        """The settings a server function currently has (to PUT back unchanged, or to compare)."""
        return cls.model_validate(
            {name: getattr(function, name) for name in cls.model_fields if hasattr(function, name)}
        )


FUNCTION_SETTING_KEYS = frozenset(f.alias or n for n, f in FunctionSettings.model_fields.items())


class UploadProgress(Model):
    """Reported after each uploaded chunk (one report for a single-request upload)."""

    deployment_id: str
    uploaded: int  # bytes sent so far
    total: int
    chunks_uploaded: int
    chunks_total: int
