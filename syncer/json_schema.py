"""The manifest's JSON Schema, for editors (yaml-language-server) and other tools: `fnsync schema`.

Generated from the pydantic input models of `syncer.manifest.schema` (keys, types, list sizes, required keys),
then adapted to the file *as written*, which is what an editor validates:

- the loader reads every scalar as text, so a text field also takes numbers and true/false (`name: 123`);
- whole numbers and true/false may be written as text (`timeout: "30"`, `enabled: "True"`), and any value may
  be `${NAME}` interpolation, resolved only when fnsync loads the file;
- a key with no value means "not set" (null);
- `environments:` (merged away before validation) and `x-...` keys exist only in the file.

Descriptions and the per-version notes live here, keyed by model and field; a field without one makes
`tests/ci/test_schema.py` fail. Defaults shown are those of the contract models (`syncer.manifest.models`).
The schema is an editor aid: `fnsync validate` stays the authority (cron, events, roles, files, ...).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from syncer.manifest.environments import ENVIRONMENT_KEYS, NAME_PATTERN
from syncer.manifest.models import FunctionSpec, GitSettings
from syncer.manifest.rules import CRON_ALIASES, ID_PATTERN, MAX_TIMEOUT, SCOPES
from syncer.manifest.schema import ManifestInput

# draft-07: what every yaml-language-server release reads; the keywords used mean the same in 2020-12
DRAFT = "http://json-schema.org/draft-07/schema#"
INTERPOLATED = {"type": "string", "pattern": r"\$\{", "description": "Interpolated when fnsync loads the file."}
SCALAR = ["string", "number", "boolean"]
WHOLE_TEXT = {"type": "string", "pattern": r"^\s*[+-]?[0-9]{1,30}\s*$"}
FLAG_TEXT = {"type": "string", "pattern": r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\s*$"}

# Where the contract model keeps each input model's defaults (input key -> contract field).
DEFAULTS_FROM: dict[str, tuple[type[BaseModel], dict[str, str]]] = {
    "FunctionInput": (FunctionSpec, {}),
    "GitInput": (
        GitSettings,
        {"installationId": "installation_id", "repositoryId": "repository_id", "rootDirectory": "root_directory", "silentMode": "silent_mode"},
    ),
}

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "ManifestInput": {
        "version": "Always 1: the manifest format version.",
        "endpoint": "Appwrite API endpoint, e.g. https://cloud.appwrite.io/v1. --endpoint and APPWRITE_ENDPOINT win "
        "over it; with none at all fnsync uses its embedded local server.",
        "project": "Appwrite project ID. --project and APPWRITE_PROJECT_ID win over it.",
        "defaults": "Any function key, merged under every function: a function's own value wins; variables and git "
        "merge key by key; lists are replaced.",
        "functions": "Function ID -> settings. The ID is 1-36 characters of a-z A-Z 0-9 . - _, not starting with a "
        "special character. Order is kept.",
        "prune": "What `fnsync apply --prune` must never delete.",
    },
    "FunctionInput": {
        "name": "Display name, 1-128 characters. Required (here or under defaults).",
        "runtime": "Runtime, e.g. python-3.12, node-20.0. Required (here or under defaults).",
        "path": "The code folder, relative to the manifest's folder. Without it only settings are synced.",
        "include": "Extra folders, files or globs (relative to the manifest's folder) packaged with the code.",
        "ignore": "Globs of files left out of the package.",
        "entrypoint": "The file Appwrite runs, relative to `path` (0-1028 characters).",
        "commands": "Build commands, e.g. `npm install` (0-8192 characters).",
        "execute": "Roles that may execute the function: any, guests, users, users/verified, user:ID, team:ID, "
        "team:ID/ROLE, member:ID, label:NAME. Empty: nobody (API keys always can). At most 100.",
        "events": "Events that trigger the function, e.g. users.*.create, databases.*.collections.*.documents.*.create. "
        "Not functions.* events. At most 100.",
        "schedule": "Cron schedule (5 fields, or " + " ".join(CRON_ALIASES) + "); quote it. Empty: none.",
        "timeout": f"Seconds, 1-{MAX_TIMEOUT}.",
        "enabled": "Whether the function can run.",
        "logging": "Whether executions are logged.",
        "scopes": "Scopes of the function's execution API key. At most 100.",
        "specification": "Runtime size slug, e.g. s-1vcpu-512mb; checked against the server by `fnsync plan`. "
        "Omitted: the server's default.",
        "variables": "Environment variables, KEY: value (kept exactly as written) or the long form KEY: {value, "
        "secret, description}. Values that come from ${NAME} (the environment or .env) are sensitive: masked in "
        "plans, logs and comments.",
        "git": "Appwrite's VCS connection. Absent: left as it is on the server; `git: {}` disconnects.",
        "buildSpecification": "Size slug the code is built with, e.g. s-1vcpu-512mb (wins over `specification` for "
        "builds). Unset: an existing function keeps its own.",
        "runtimeSpecification": "Size slug executions run with, e.g. s-1vcpu-512mb (wins over `specification` for "
        "executions). Unset: an existing function keeps its own.",
        "deploymentRetention": "Days inactive deployments are kept, 0-36500 (0 = keep all). Unset: kept as on the server.",
        "description": "A description of the function (shown in the console). Unset: kept as on the server.",
        "interval": "Run every N minutes (a whole number of at least 1). Cannot be combined with a non-empty schedule.",
    },
    "GitInput": {
        "installationId": "VCS installation ID (0-128 characters).",
        "repositoryId": "Provider repository ID (0-128 characters); needs installationId and branch.",
        "branch": "Production branch (0-128 characters).",
        "rootDirectory": "The function's folder in the repository (0-128 characters).",
        "silentMode": "Whether Appwrite stays silent on commits and pull requests.",
        "branches": "Globs of the branches whose pushes deploy the function (at most 100). Unset: kept as on the server.",
        "paths": "Globs of changed paths that trigger a deployment (at most 100). Unset: kept as on the server.",
    },
    "VariableInput": {
        "value": "The value (0-8192 characters); ${NAME} takes it from the environment or .env and makes it sensitive.",
        "secret": "Write it as a secret variable (reads back empty; cannot be made plain again without a delete and "
        "re-create). Unset: sensitive values are secret, others plain.",
        "description": "A description of the variable (0-255 characters).",
    },
    "PruneInput": {
        "keep": "Function ID globs (e.g. legacy-*) that --prune never deletes.",
    },
}

VERSION_NOTES: dict[str, dict[str, str]] = {
    "FunctionInput": {
        "runtime": "The runtimes a server offers differ between Appwrite versions and Cloud; `fnsync plan` checks "
        "the name against the server's own list and suggests the closest.",
        "specification": "Appwrite 1.8.1+ resets an omitted specification to its default on every update (the "
        "largest allowed on self-hosted, the smallest on Cloud): set it if you rely on it. On 1.9+ it sets both "
        "the build and the runtime specification.",
        "variables": "Appwrite 1.7+: sensitive values (and `secret: true`) are written as secret variables, which "
        "read back empty; fnsync compares them through salted digests kept in the FNSYNC_SECRET_DIGESTS variable. "
        "On 1.6 they are plain variables, masked only in fnsync's output. `description`: Appwrite Cloud 2.5+.",
        "events": "Checked against Appwrite 1.6's event list, which later versions accept.",
        "scopes": "Appwrite 1.6's scope list, which later versions accept.",
        "buildSpecification": "Appwrite 1.9+; an omitted one is reset by Appwrite on every update, so fnsync sends "
        "the server's current value when the manifest leaves it unset.",
        "runtimeSpecification": "Appwrite 1.9+; kept like buildSpecification.",
        "deploymentRetention": "Appwrite 1.9+; Appwrite resets an omitted one to 0 on update, so fnsync sends the "
        "server's current value when unset.",
        "description": "Appwrite Cloud 2.5+.",
        "interval": "Appwrite Cloud 2.5+.",
        "timeout": f"{MAX_TIMEOUT} is self-hosted Appwrite's default maximum (_APP_FUNCTIONS_TIMEOUT).",
    },
    "GitInput": {
        "branches": "Appwrite 1.9.5+.",
        "paths": "Appwrite 1.9.5+.",
        "silentMode": "Appwrite resets an omitted silentMode to false on every update, so fnsync always sends it.",
    },
}


def manifest_json_schema() -> dict[str, Any]:
    """The whole schema (JSON Schema draft-07) as a dict, deterministic for a given fnsync."""
    raw = ManifestInput.model_json_schema(ref_template="#/$defs/{model}")
    defs = {name: _as_written(node) for name, node in raw.pop("$defs", {}).items()}
    root = _as_written(raw)
    for name, node in [("ManifestInput", root), *defs.items()]:
        _annotate(name, node)
    root["properties"]["version"] = {"description": DESCRIPTIONS["ManifestInput"]["version"], "enum": [1, "1"]}
    root["properties"]["functions"]["propertyNames"] = {"pattern": f"^{ID_PATTERN.pattern}$"}
    root["properties"]["environments"] = _environments(root)
    root["patternProperties"] = {"^x-": {"description": "Ignored by fnsync: a place for YAML anchors."}}
    function = defs["FunctionInput"]["properties"]
    function["variables"] = _variables(function["variables"])
    _item_choices(function["scopes"], list(SCOPES))
    function["runtime"]["examples"] = ["python-3.12", "node-20.0", "node-22"]
    function["specification"]["examples"] = ["s-1vcpu-512mb", "s-1vcpu-1gb", "s-2vcpu-2gb"]
    function["events"]["examples"] = [["users.*.create"], ["databases.*.collections.*.documents.*.create"]]
    _number_range(function["timeout"], 1, MAX_TIMEOUT)
    return {
        "$schema": DRAFT,
        "title": "fnsync manifest (functions.yaml)",
        "description": "Appwrite Functions kept in step with git by fnsync. Reference: docs/manifest.md; "
        "`fnsync validate` checks everything this schema cannot (cron, events, roles, files).",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def missing_descriptions() -> list[str]:
    """Keys of the schema with no description (`Model.key`): a new manifest key (or model) needs one here."""
    schema = manifest_json_schema()
    models = [("ManifestInput", schema), *schema["$defs"].items()]
    return [f"{name}.{key}" for name, node in models for key, prop in node.get("properties", {}).items() if not prop.get("description")]


# --- from the models' shape to the file as written -------------------------------------------------------------


def _as_written(node: Any) -> Any:
    """Recursively: drop pydantic's generated titles and null defaults; widen scalars as the loader reads them."""
    if isinstance(node, list):
        return [_as_written(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _as_written(value) for key, value in node.items() if key != "title" and not (key == "default" and value is None)}
    kind = node.get("type")
    if kind == "string":
        rest = {k: v for k, v in node.items() if k != "type"}
        return {"type": SCALAR, **rest}
    if kind == "integer":
        rest = {k: v for k, v in node.items() if k != "type"}
        return {"anyOf": [{"type": "integer", **rest}, WHOLE_TEXT, INTERPOLATED]}
    if kind == "boolean":
        return {"anyOf": [{"type": "boolean"}, FLAG_TEXT, INTERPOLATED]}
    return node


def _annotate(model: str, node: dict[str, Any]) -> None:
    """Descriptions, per-version notes and the contract models' defaults on each property."""
    spec, renames = DEFAULTS_FROM.get(model, (None, {}))
    for field, prop in node.get("properties", {}).items():
        text = DESCRIPTIONS.get(model, {}).get(field, "")
        note = VERSION_NOTES.get(model, {}).get(field)
        if note:
            text = f"{text} Appwrite versions: {note}".strip()
        if text:
            prop["description"] = text
        if spec is not None:
            target = spec.model_fields.get(renames.get(field, field))
            if target is not None and target.default not in (PydanticUndefined, None):
                default = target.default
                prop["default"] = list(default) if isinstance(default, tuple) else default


def _variables(prop: dict[str, Any]) -> dict[str, Any]:
    """Variable values: any single scalar, nothing (= empty text), or the long form {value, secret, description}."""
    value = {"anyOf": [{"type": SCALAR, "maxLength": 8192}, {"type": "null"}, {"$ref": "#/$defs/VariableInput"}]}
    mapping = {"type": "object", "propertyNames": {"minLength": 1, "maxLength": 255}, "additionalProperties": value}
    return {"description": prop.get("description", ""), "anyOf": [mapping, {"type": "null"}]}


def _item_choices(prop: dict[str, Any], choices: list[str]) -> None:
    """Offer `choices` for a list's items (editors complete them), still allowing interpolation."""
    for branch in prop.get("anyOf", []):
        if branch.get("type") == "array":
            branch["items"] = {"anyOf": [{"enum": choices}, INTERPOLATED]}


def _number_range(prop: dict[str, Any], low: int, high: int) -> None:
    for branch in prop.get("anyOf", []):
        for inner in branch.get("anyOf", []):
            if inner.get("type") == "integer":
                inner.update({"minimum": low, "maximum": high})


def _environments(root: dict[str, Any]) -> dict[str, Any]:
    """`environments:` as the loader checks its shape (environments.py): names, and the keys each may override."""
    function = {"anyOf": [{"$ref": "#/$defs/FunctionInput"}, {"type": "null"}]}
    properties = {
        "endpoint": root["properties"]["endpoint"],
        "project": root["properties"]["project"],
        "defaults": {"description": "Laid over the top-level defaults.", **function},
        "functions": {
            "description": "Overrides of functions the manifest declares; variables and git merge key by key.",
            "anyOf": [
                {"type": "object", "propertyNames": {"pattern": f"^{ID_PATTERN.pattern}$"}, "additionalProperties": function},
                {"type": "null"},
            ]
        },
    }
    assert tuple(properties) == ENVIRONMENT_KEYS, "environments.py allows other keys: update _environments"
    override = {"type": "object", "additionalProperties": False, "properties": properties}
    return {
        "description": "Named overrides (endpoint, project, defaults, per-function keys) selected with --env NAME; "
        "variables and git merge key by key. See docs/environments.md.",
        "type": "object",
        "propertyNames": {"pattern": f"^{NAME_PATTERN.pattern}$"},
        "additionalProperties": {"anyOf": [override, {"type": "null"}]},
    }
