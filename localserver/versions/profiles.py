"""What differs between the Appwrite servers the local server emulates, as one table of named facts.

Handlers ask the profile of the running server (`ctx.profile`) questions by name and never compare
version strings. Shape differences of the models live in `versions.shapes`; what an old-format client
sees on a newer server lives in the filter modules (`v19` ...). Sources: NEWER-SERVERS.md (§ numbers below).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from localserver.runtimes import RUNTIME_IDS as RUNTIMES_1_6
from localserver.versions.runtime_ids import RUNTIMES_1_9, RUNTIMES_2_5
from localserver.versions.routes import LEGACY_MODELS
from localserver.versions.scopes import SCOPES_ADDED_1_9

# Filterable attributes per list, in the newest names the handlers speak (§5).
_FUNCTION_QUERIES: dict[str, type] = {
    "name": str, "enabled": bool, "runtime": str, "deploymentId": str, "schedule": str, "timeout": int,
    "entrypoint": str, "commands": str, "installationId": str,
}
_DEPLOYMENT_QUERIES_1_6: dict[str, type] = {
    "sourceSize": int, "buildId": str, "activate": bool, "entrypoint": str, "commands": str, "type": str,
}
_DEPLOYMENT_QUERIES_1_7: dict[str, type] = {
    "buildSize": int, "sourceSize": int, "totalSize": int, "buildDuration": int, "status": str, "activate": bool, "type": str,
}
_EXECUTION_QUERIES: dict[str, type] = {
    "trigger": str, "status": str, "responseStatusCode": int, "duration": float, "requestMethod": str,
    "requestPath": str, "deploymentId": str,
}
_VARIABLE_QUERIES: dict[str, type] = {"key": str, "resourceType": str, "resourceId": str, "secret": bool}

# Routes (handler names) every emulated version has: the 1.6 paths, kept as aliases later (§2).
ROUTES_1_6: frozenset[str] = frozenset({
    "functions.list", "functions.create", "functions.listRuntimes", "functions.listSpecifications", "functions.get",
    "functions.update", "functions.delete", "functions.listDeployments", "functions.createDeployment",
    "functions.getDeployment", "functions.deleteDeployment", "functions.updateDeployment", "functions.createBuild",
    "functions.createBuild.builds", "functions.updateDeploymentBuild", "functions.getDeploymentDownload",
    "functions.listExecutions", "functions.createExecution", "functions.getExecution", "functions.deleteExecution",
    "functions.listVariables", "functions.createVariable", "functions.getVariable", "functions.updateVariable",
    "functions.deleteVariable",
})
# Paths new in 1.7.0 (the 1.6 ones stay as aliases).
ROUTES_1_7: frozenset[str] = ROUTES_1_6 | {
    "functions.updateFunctionDeployment", "functions.createDuplicateDeployment", "functions.updateDeploymentStatus",
    "functions.getDeploymentDownload.build", "functions.createVcsDeployment", "functions.createTemplateDeployment",
}

_CLOUD_FUNCTION_PARAMS = frozenset({"description", "interval", "emailEnabled"})
_FUNCTION_PARAMS_1_9 = frozenset({"buildSpecification", "runtimeSpecification", "deploymentRetention"})
_FUNCTION_PARAMS_1_9_5 = frozenset({"providerBranches", "providerPaths"})
UNKNOWN_PARAMS_1_9: Mapping[str, frozenset[str]] = MappingProxyType({
    "functions.listExecutions": frozenset({"search"}),  # gone since 1.7.0
    "functions.create": _CLOUD_FUNCTION_PARAMS,
    "functions.update": _CLOUD_FUNCTION_PARAMS,
    "functions.createVariable": frozenset({"description"}),
    "functions.updateVariable": frozenset({"description"}),
})
UNKNOWN_PARAMS_1_8: Mapping[str, frozenset[str]] = MappingProxyType({
    "functions.listExecutions": frozenset({"search"}),
    "functions.create": _CLOUD_FUNCTION_PARAMS | _FUNCTION_PARAMS_1_9 | _FUNCTION_PARAMS_1_9_5,
    "functions.update": _CLOUD_FUNCTION_PARAMS | _FUNCTION_PARAMS_1_9 | _FUNCTION_PARAMS_1_9_5,
    "functions.createVariable": frozenset({"description", "variableId"}),
    "functions.updateVariable": frozenset({"description"}),
})
UNKNOWN_PARAMS_1_6: Mapping[str, frozenset[str]] = MappingProxyType({
    **{method: params for method, params in UNKNOWN_PARAMS_1_8.items() if method != "functions.listExecutions"},
    "functions.createVariable": frozenset({"description", "variableId", "secret"}),
    "functions.updateVariable": frozenset({"description", "secret"}),
    "functions.getDeploymentDownload": frozenset({"type"}),
})
PUBLIC_ROUTES_1_7: frozenset[str] = frozenset({"functions.listRuntimes", "functions.listTemplates", "functions.getTemplate"})


@dataclass(frozen=True)
class ServerProfile:
    """One emulated Appwrite server. Every field is a fact a handler or filter looks up by name."""

    version: str
    runtimes: tuple[str, ...]
    routes: frozenset[str]
    # Runtime image tag and the `version` a new function stores: v4 on 1.6, v5 since 1.7 (§9).
    open_runtimes: str = "v5"
    # Routes with scope `public` (runtimes, templates since 1.7.0): API keys lack that scope, so a keyed call is 401 (§0.10).
    public_routes: frozenset[str] = PUBLIC_ROUTES_1_7
    # Scopes a function may request beyond 1.6.2's list (1.9.0 validates against projectScopes).
    scopes_added: tuple[str, ...] = SCOPES_ADDED_1_9
    # Variables carry `secret` (create default true, cannot be unset) since 1.7.0 (§0.5).
    secret_variables: bool = True
    # Error type for a taken function id: document_already_exists up to 1.7, function_already_exists from 1.8.0 (§0.12).
    duplicate_function_error: str = "function_already_exists"
    # Spec a create/PUT uses when none is sent: fixed s-1vcpu-512mb up to 1.8.0, largest allowed on self-hosted
    # since 1.8.1, the plan's first on Cloud (§0.2).
    default_specification: str = "s-8vcpu-8gb"
    # GET .../variables pages (25 by default) and takes queries since 1.9.5; before it lists all (§0.6).
    variable_page_size: int | None = 25
    # PUT .../variables/{id} requires `key` up to 1.9.0; optional since 1.9.5 (§3).
    variable_update_key_required: bool = False
    # Params a version does not know (newest names, by SDK method id): dropped before the filters, as Appwrite
    # ignores undeclared params.
    unknown_params: Mapping[str, frozenset[str]] = field(default_factory=lambda: UNKNOWN_PARAMS_1_9)
    # PUT keeps installationId/providerBranch/providerRootDirectory of a connected function when
    # providerRepositoryId is omitted (1.9.5+); before, they reset to "" (§3).
    put_keeps_vcs_settings: bool = True
    # Filterable list attributes (newest names) and the internal sequence attribute (§5).
    function_queries: Mapping[str, type] = field(default_factory=lambda: MappingProxyType(_FUNCTION_QUERIES))
    deployment_queries: Mapping[str, type] = field(default_factory=lambda: MappingProxyType(_DEPLOYMENT_QUERIES_1_7))
    execution_queries: Mapping[str, type] = field(default_factory=lambda: MappingProxyType(_EXECUTION_QUERIES))
    variable_queries: Mapping[str, type] = field(default_factory=lambda: MappingProxyType(_VARIABLE_QUERIES))
    sequence_attribute: str = "$sequence"
    # Status of a deployment whose build has not started: 1.6 computed it per route; 1.7+ store `waiting` (§10).
    unbuilt_status: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({"upload": "waiting", "get": "waiting", "list": "waiting"}))
    # Variable keys: 1-255 chars anywhere; Cloud 2.5 allows letters, digits, underscores, not starting with a digit.
    strict_variable_keys: bool = False
    # Execution `method` values; HEAD since 1.8.0 (§2).
    execution_methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
    # List routes take `total` (false: skip counting, answer total 0) since 1.8.1 (§5).
    list_total_param: bool = True
    # One `specification` param (before 1.9.0) instead of buildSpecification/runtimeSpecification.
    single_specification: bool = False
    # Reply models that differ from the route's usual one (before 1.7: rebuild answered 204, cancel a Build).
    route_models: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Download file name `<id>-<type>.tar.gz` (1.7+, when `type` exists) instead of `<id>.tar.gz`.
    download_names_type: bool = True
    # Largest `scopes` list accepted on create/update (2.5: 200).
    scopes_limit: int = 100

    def has_route(self, name: str) -> bool:
        return name in self.routes


PROFILE_1_6_2 = ServerProfile(
    version="1.6.2", runtimes=RUNTIMES_1_6, routes=ROUTES_1_6, open_runtimes="v4", public_routes=frozenset(), scopes_added=(),
    variable_update_key_required=True, unknown_params=UNKNOWN_PARAMS_1_6, secret_variables=False,
    duplicate_function_error="document_already_exists", default_specification="s-1vcpu-512mb", variable_page_size=None,
    put_keeps_vcs_settings=False, download_names_type=False, single_specification=True, list_total_param=False, execution_methods=("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"), deployment_queries=MappingProxyType(_DEPLOYMENT_QUERIES_1_6), sequence_attribute="$internalId",
    unbuilt_status=MappingProxyType({"upload": "", "get": "waiting", "list": "processing"}),
    route_models=MappingProxyType(LEGACY_MODELS),
)
PROFILES: dict[str, ServerProfile] = {
    # Test value only: reports 1.5.0 (clients refuse it); otherwise answers as 1.6.2.
    "1.5.0": replace(PROFILE_1_6_2, version="1.5.0"),
    "1.6.2": PROFILE_1_6_2,
    "1.8.1": ServerProfile(
        version="1.8.1", runtimes=RUNTIMES_1_9, routes=ROUTES_1_7, variable_page_size=None, put_keeps_vcs_settings=False,
        scopes_added=(), variable_update_key_required=True, unknown_params=UNKNOWN_PARAMS_1_8, single_specification=True,
    ),
    "1.9.6": ServerProfile(version="1.9.6", runtimes=RUNTIMES_1_9, routes=ROUTES_1_7),
    # Cloud 2.5: server code not public; SDK 27.0.0's models and docs are the reference (§0.11).
    "2.5.0": ServerProfile(
        version="2.5.0", runtimes=RUNTIMES_2_5, routes=ROUTES_1_7, default_specification="s-0.5vcpu-512mb",
        strict_variable_keys=True, scopes_limit=200,
        unknown_params=MappingProxyType({"functions.listExecutions": frozenset({"search"})}),
    ),
}
APPWRITE_VERSIONS: tuple[str, ...] = tuple(PROFILES)


def profile_for(version: str) -> ServerProfile:
    return PROFILES[version]
