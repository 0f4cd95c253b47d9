"""What the connected Appwrite server can do: negotiated once from its version, then asked by name.

The client reads the version once (`GET /v1/health/version`) and builds one frozen `Capabilities`. Every
per-version difference fnsync knows lives in this module's tables; the rest of the code asks questions
(`caps.keyless_runtimes`, `caps.has_setting("deploymentRetention")`, `caps.since("interval")`), never compares
version strings (STYLE.md §6; Docker's `NegotiateAPIVersion`).

Format: fnsync speaks each server's own response format (NEWER-SERVERS.md §11): 1.6.0 to 1.6.x, otherwise the
newest format it knows that is not above the server's version. A newer server than fnsync knows gets the newest
known format (and a one-line notice); a server older than 1.6 is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncer.client.version import MINIMUM_VERSION, ServerVersion

# Response formats fnsync implements, oldest first (the shapes and params of each are handled by this client).
KNOWN_FORMATS: tuple[ServerVersion, ...] = tuple(
    ServerVersion.parse(text) for text in ("1.6.0", "1.7.0", "1.8.0", "1.9.0", "1.9.5", "2.5.0")
)
NEWEST_KNOWN = KNOWN_FORMATS[-1]

# Function settings (API names, in the order PUT documents them) and the version that introduced each.
# `until` marks a setting a later version replaced (1.9.0 split `specification` into two).
SETTINGS_SINCE: dict[str, str] = {
    "name": "1.6.0",
    "description": "2.5.0",
    "runtime": "1.6.0",
    "execute": "1.6.0",
    "events": "1.6.0",
    "schedule": "1.6.0",
    "interval": "2.5.0",
    "timeout": "1.6.0",
    "enabled": "1.6.0",
    "logging": "1.6.0",
    "entrypoint": "1.6.0",
    "commands": "1.6.0",
    "scopes": "1.6.0",
    "specification": "1.6.0",
    "buildSpecification": "1.9.0",
    "runtimeSpecification": "1.9.0",
    "deploymentRetention": "1.9.0",
    "installationId": "1.6.0",
    "providerRepositoryId": "1.6.0",
    "providerBranch": "1.6.0",
    "providerRootDirectory": "1.6.0",
    "providerSilentMode": "1.6.0",
    "providerBranches": "1.9.5",
    "providerPaths": "1.9.5",
    "emailEnabled": "2.5.0",
}
SETTINGS_UNTIL: dict[str, str] = {"specification": "1.9.0"}
# Variable fields beyond key and value.
VARIABLE_FIELDS_SINCE: dict[str, str] = {"secret": "1.7.0", "description": "2.5.0"}

# Filterable deployment attributes (NEWER-SERVERS.md §5): 1.7+ renamed and dropped some; using a removed one is a 400.
_DEPLOYMENT_QUERY_ATTRIBUTES_16 = frozenset({"size", "buildId", "activate", "entrypoint", "commands", "type"})
_DEPLOYMENT_QUERY_ATTRIBUTES_17 = frozenset(
    {"buildSize", "sourceSize", "totalSize", "buildDuration", "status", "activate", "type"}
)
_INTERNAL_ATTRIBUTES = frozenset({"$id", "$createdAt", "$updatedAt"})


def _v(text: str) -> ServerVersion:
    return ServerVersion.parse(text)


@dataclass(frozen=True)
class Capabilities:
    """One server's answers to every question the client asks about versions. Build with `Capabilities.negotiate`."""

    server: ServerVersion
    response_format: str
    newer_than_known: bool = False

    @classmethod
    def negotiate(cls, server: ServerVersion) -> Capabilities:
        """The format to send and everything that follows from the server's version (raises ValueError below 1.6)."""
        if server < MINIMUM_VERSION:
            raise ValueError(f"Appwrite {server} is older than {MINIMUM_VERSION}")
        chosen = max(fmt for fmt in KNOWN_FORMATS if fmt.key <= server.key)
        return cls(server=server, response_format=str(chosen), newer_than_known=server.key > NEWEST_KNOWN.key
                   and (server.major, server.minor) != (NEWEST_KNOWN.major, NEWEST_KNOWN.minor))

    @property
    def _format(self) -> ServerVersion:
        return _v(self.response_format)

    def _at_least(self, text: str) -> bool:
        return self._format >= _v(text)

    @property
    def notice(self) -> str:
        """A one-line notice for a server newer than fnsync knows ("" otherwise)."""
        if not self.newer_than_known:
            return ""
        return (
            f"note: the server runs Appwrite {self.server}, newer than fnsync knows; "
            f"speaking its newest known format {self.response_format}"
        )

    # -- routes -------------------------------------------------------------------------------------------------

    @property
    def deployment_routes(self) -> bool:
        """1.7+: `PATCH /functions/{id}/deployment`, `POST …/deployments/duplicate`, `PATCH …/deployments/{id}/status`."""
        return self._at_least("1.7.0")

    @property
    def download_type_param(self) -> bool:
        """1.7+: `…/download?type=source` (and a ≥1.7 format, or 1.9.5+ returns the build output: §0.1)."""
        return self._at_least("1.7.0")

    @property
    def keyless_runtimes(self) -> bool:
        """1.7+: `GET /functions/runtimes` is a public route an API key is refused on (§0.10)."""
        return self._at_least("1.7.0")

    @property
    def deployment_models(self) -> bool:
        """1.7+: rebuild answers 202 + Deployment, cancel answers a Deployment."""
        return self._at_least("1.7.0")

    # -- queries ------------------------------------------------------------------------------------------------

    @property
    def deployment_query_attributes(self) -> frozenset[str]:
        """Attributes a deployments query may filter or order on (besides `$id`, `$createdAt`, `$updatedAt`)."""
        own = _DEPLOYMENT_QUERY_ATTRIBUTES_17 if self._at_least("1.7.0") else _DEPLOYMENT_QUERY_ATTRIBUTES_16
        return own | _INTERNAL_ATTRIBUTES | {self.internal_sequence_attribute}

    @property
    def internal_sequence_attribute(self) -> str:
        """The insertion-order attribute: `$internalId` until 1.8.0 renamed it `$sequence`."""
        return "$sequence" if self._at_least("1.8.0") else "$internalId"

    # -- settings -----------------------------------------------------------------------------------------------

    @property
    def settings(self) -> tuple[str, ...]:
        """The function settings this server has, in PUT order (a PUT must carry every one: omitted ones reset)."""
        return tuple(name for name in SETTINGS_SINCE if self.has_setting(name))

    def has_setting(self, name: str) -> bool:
        since = SETTINGS_SINCE.get(name)
        if since is None or not self._at_least(since):
            return False
        until = SETTINGS_UNTIL.get(name)
        return until is None or not self._at_least(until)

    @staticmethod
    def since(name: str) -> str:
        """The Appwrite version that introduced a function setting or variable field."""
        return SETTINGS_SINCE.get(name) or VARIABLE_FIELDS_SINCE.get(name, "1.6.0")

    @property
    def split_specifications(self) -> bool:
        """1.9+: `buildSpecification` and `runtimeSpecification` replace `specification`."""
        return self.has_setting("buildSpecification")

    # -- variables ----------------------------------------------------------------------------------------------

    @property
    def secret_variables(self) -> bool:
        """1.7+: variables carry `secret` (create defaults to true; secret values read back empty; never unset)."""
        return self._at_least(VARIABLE_FIELDS_SINCE["secret"])

    @property
    def variable_descriptions(self) -> bool:
        return self._at_least(VARIABLE_FIELDS_SINCE["description"])

    @property
    def variable_paging(self) -> bool:
        """1.9.5+: the variables list pages (25 by default) and takes `queries`."""
        return self._at_least("1.9.5")

    @property
    def variable_id_on_create(self) -> bool:
        """1.9.5+: createVariable requires `variableId`."""
        return self._at_least("1.9.5")

    # -- executions ---------------------------------------------------------------------------------------------

    @property
    def execution_resource_id(self) -> bool:
        """2.5: executions name their function in `resourceId` (+ `resourceType`) instead of `functionId`."""
        return self._at_least("2.5.0")
