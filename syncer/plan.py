"""The plan as data: what must change on the server so it matches the manifest.

`compute_plan` is pure (no I/O): it compares a loaded `Manifest`, a `ServerState` read by `syncer.state` and the
local code hashes from packaging, and returns a frozen `Plan`. `syncer.apply` is driven only by the plan's
changes; `reason` is for people and is never branched on (terraform's `ActionReason` habit).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from syncer.client.models import Variable
from syncer.function_settings import (  # re-exported: callers know them as `syncer.plan.*`
    GIT_FIELDS,
    REBUILD_FIELDS,
    SET_FIELDS,
    desired_settings,
    manifest_settings,
    resolve_settings,
    same_setting,
    server_settings,
    unchanged_settings,
)
from syncer.manifest.models import FunctionSpec, Manifest
from syncer.secret_digests import RECORD_KEY, DigestRecord, Sensitivity, digest, new_salt, was_sensitive, written_after
from syncer.state import Frozen, ServerState

__all__ = [
    "GIT_FIELDS",
    "REBUILD_FIELDS",
    "SET_FIELDS",
    "Action",
    "Change",
    "ChangeKind",
    "Plan",
    "PlanError",
    "PlanOptions",
    "compute_plan",
    "desired_settings",
    "manifest_settings",
    "same_setting",
    "server_settings",
    "tally",
    "unchanged_settings",
]


class PlanError(ValueError):
    """The plan cannot be made (e.g. prune with an empty manifest, an unknown --target)."""


class Action(StrEnum):
    """Closed set of things apply can do."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    DEPLOY = "deploy"
    REBUILD = "rebuild"


class ChangeKind(StrEnum):
    FUNCTION = "function"
    VARIABLE = "variable"
    CODE = "code"


class Change(Frozen):
    """One thing to do. `before`/`after` are JSON-able dicts; variable sides carry a `sensitive` flag."""

    kind: ChangeKind
    address: str
    action: Action
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str = ""
    function_id: str
    key: str = ""  # the variable key, for variable changes

    def changed_fields(self) -> list[str]:
        """For a function update: the settings whose value differs (display and tests)."""
        if self.kind is not ChangeKind.FUNCTION or self.action is not Action.UPDATE or not self.before or not self.after:
            return []
        return [name for name in self.after if not same_setting(name, self.before.get(name), self.after.get(name))]


class PlanOptions(Frozen):
    targets: tuple[str, ...] = ()  # function IDs; empty = all
    prune: bool = False
    activate: bool = True


class Plan(Frozen):
    """A whole plan: the changes in apply order, unmanaged IDs, and the state it was computed from."""

    changes: tuple[Change, ...] = ()
    unmanaged: tuple[str, ...] = ()
    state_fingerprint: str = ""
    function_digests: dict[str, str] = Field(default_factory=dict)
    options: PlanOptions = PlanOptions()
    notes: tuple[str, ...] = ()  # things to know before applying (e.g. the server's creation limit)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def function_ids(self) -> list[str]:
        """IDs with at least one change, in plan order."""
        return list(dict.fromkeys(change.function_id for change in self.changes))

    def for_function(self, function_id: str) -> list[Change]:
        return [change for change in self.changes if change.function_id == function_id]

    def counts(self) -> dict[str, int]:
        """Summary numbers: functions to create/update/delete, variable and code changes."""
        return tally((change.kind.value, change.action.value) for change in self.changes)


def tally(changes: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Count (kind, action) pairs as the summaries show them: every variable change together, the rest by action."""
    counts = {"create": 0, "update": 0, "delete": 0, "variables": 0, "deploy": 0, "rebuild": 0}
    for kind, action in changes:
        counts["variables" if kind == ChangeKind.VARIABLE.value else action] += 1
    return counts


class LocalCode(Protocol):
    """What the planner needs from a packaged function (`syncer.packaging.CodePackage` fits)."""

    code_hash: str
    file_count: int
    size: int
    archive: Path


# --- the planner ----------------------------------------------------------------------------------------


def compute_plan(
    manifest: Manifest,
    state: ServerState,
    options: PlanOptions | None = None,
    code: Mapping[str, LocalCode] | None = None,
) -> Plan:
    """Compare manifest and server; `code` maps function ID to its packaged code (functions with a `path`)."""
    options = options or PlanOptions()
    code = code or {}
    targets = set(options.targets)
    unknown = sorted(t for t in targets if t not in manifest.functions and t not in state.functions)
    if unknown:
        raise PlanError(f"unknown --target: {', '.join(unknown)} (not in the manifest and not on the server)")
    if options.prune and not manifest.functions:
        raise PlanError("refusing to prune: the manifest declares no functions, so every function would be deleted")

    def selected(function_id: str) -> bool:
        return not targets or function_id in targets

    changes: list[Change] = []
    secret_values = frozenset(manifest.sensitive_values())
    for function_id, spec in manifest.functions.items():
        if selected(function_id):
            changes.extend(_plan_function(spec, state, options, code.get(function_id), secret_values))

    unmanaged: list[str] = []
    for function_id, remote in state.functions.items():
        if function_id in manifest.functions:
            continue
        if options.prune and selected(function_id) and not _kept(function_id, manifest.prune.keep):
            changes.append(
                Change(
                    kind=ChangeKind.FUNCTION,
                    address=f"function.{function_id}",
                    action=Action.DELETE,
                    before=server_settings(remote.function, state.capabilities) | {"deployment": remote.function.deployment},
                    reason="not in the manifest (--prune)",
                    function_id=function_id,
                )
            )
        elif not _kept(function_id, manifest.prune.keep):  # what prune.keep protects is managed elsewhere on purpose
            unmanaged.append(function_id)

    return Plan(
        changes=tuple(changes),
        unmanaged=tuple(unmanaged),
        state_fingerprint=state.fingerprint(),
        function_digests=state.function_digests(),
        options=options,
    )


def _kept(function_id: str, keep: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(function_id, pattern) for pattern in keep)


def _plan_function(
    spec: FunctionSpec,
    state: ServerState,
    options: PlanOptions,
    local: LocalCode | None,
    secret_values: frozenset[str] = frozenset(),
) -> list[Change]:
    fid = spec.id
    remote = state.functions.get(fid)
    current = server_settings(remote.function, state.capabilities) if remote is not None else None
    desired = desired_settings(spec, state.capabilities, current)
    changes: list[Change] = []

    if remote is None:
        changes.append(
            Change(
                kind=ChangeKind.FUNCTION,
                address=f"function.{fid}",
                action=Action.CREATE,
                after=desired,
                reason="not on the server",
                function_id=fid,
            )
        )
        live, active, not_live_reason = True, None, ""
        current_vars: dict[str, Variable] = {}
    else:
        assert current is not None
        differing = [name for name in desired if not same_setting(name, current.get(name), desired[name])]
        live = remote.function.live
        not_live_reason = "" if live else "the server marks the function not live"
        if differing:
            changes.append(
                Change(
                    kind=ChangeKind.FUNCTION,
                    address=f"function.{fid}",
                    action=Action.UPDATE,
                    before=current,
                    after=resolve_settings(desired, current),
                    reason="settings differ: " + ", ".join(differing),
                    function_id=fid,
                )
            )
            rebuild_fields = [name for name in differing if name in REBUILD_FIELDS]
            live = not rebuild_fields  # PUT recomputes `live`
            not_live_reason = f"changing {', '.join(rebuild_fields)} marks the function not live" if rebuild_fields else ""
        active = remote.active
        current_vars = {v.key: v for v in remote.function.vars}

    var_changes = _plan_variables(
        spec,
        current_vars,
        secret_mode=state.secret_variables,
        descriptions=state.capabilities.variable_descriptions,
        secret_values=secret_values,
    )
    changes.extend(var_changes)
    if var_changes:
        live = False  # every variable write marks the function not live
        not_live_reason = "variable changes take effect after a rebuild"

    deploying = False
    if local is not None:
        reason = ""
        if active is None:
            reason = "new function" if remote is None else "no active deployment"
        elif active.code_hash is None:
            reason = "the active deployment's code hash is unknown"
        elif active.code_hash != local.code_hash:
            reason = "local code differs from the active deployment"
        if reason:
            deploying = True
            changes.append(
                Change(
                    kind=ChangeKind.CODE,
                    address=f"function.{fid}.code",
                    action=Action.DEPLOY,
                    before=active.describe() if active else None,
                    after={
                        "code_hash": local.code_hash,
                        "file_count": local.file_count,
                        "size": local.size,
                        "entrypoint": spec.entrypoint,
                        "commands": spec.commands,
                        "activate": options.activate,
                        "archive": str(local.archive),
                    },
                    reason=reason,
                    function_id=fid,
                )
            )
    if not deploying and not live and active is not None:
        changes.append(
            Change(
                kind=ChangeKind.CODE,
                address=f"function.{fid}.code",
                action=Action.REBUILD,
                before=active.describe(),
                after={"deployment": active.deployment_id, "activate": options.activate},
                reason=not_live_reason,
                function_id=fid,
            )
        )
    return changes


def _plan_variables(
    spec: FunctionSpec,
    current: Mapping[str, Variable],
    *,
    secret_mode: bool = False,
    descriptions: bool = False,
    secret_values: frozenset[str] = frozenset(),
) -> list[Change]:
    """Per key: add, change or remove; matching on key avoids the wipe-and-recreate churn of the Appwrite CLI.

    With `secret_mode` (Appwrite 1.7+) sensitive values (and those marked `secret: true`) go to secret variables,
    which read back empty: they are compared through the function's digest record (`syncer.secret_digests`),
    planned as one more variable. Plain -> secret is an update; Appwrite refuses secret -> plain, so a variable the
    manifest marks `secret: false` is deleted and created again, and one it leaves unmarked stays secret.
    Without it (Appwrite 1.6) the same record lists the keys applied as sensitive, so that the old value of a
    variable applied as plain can be shown (`was_sensitive`). `secret_values`: every sensitive value of the manifest.
    """
    fid = spec.id
    if spec.keep_server_variables:
        return []
    if RECORD_KEY in spec.variables:
        raise PlanError(f"{fid}: the variable key {RECORD_KEY} is reserved for fnsync's secret digests")
    record_var = current.get(RECORD_KEY)
    record = DigestRecord.parse(record_var.value) if record_var is not None and not record_var.secret else None
    salt = record.salt if record and record.salt else new_salt() if secret_mode else ""
    known = Sensitivity(
        record=record,
        function_sensitive=any(v.sensitive for v in spec.variables.values()),
        secret_values=secret_values | {v.value for v in spec.variables.values() if v.sensitive and v.value},
    )
    wanted_digests: dict[str, str] = {}
    secret_written = False
    changes: list[Change] = []
    for key, wanted in spec.variables.items():
        address = f"function.{fid}.variable.{key}"
        server = current.get(key)
        asked = wanted.secret if wanted.secret is not None else wanted.sensitive
        unsecret = secret_mode and wanted.secret is False and server is not None and server.secret
        # A secret stays secret unless the manifest says `secret: false` (then it is replaced, see below).
        secret = secret_mode and (asked or (server is not None and server.secret and not unsecret))
        after: dict[str, Any] = {"value": wanted.value, "sensitive": wanted.sensitive or secret}
        if secret_mode:
            after["secret"] = secret
        if descriptions and wanted.description is not None:
            after["description"] = wanted.description
        if secret:
            wanted_digests[key] = digest(salt, key, wanted.value)
        if unsecret:
            assert server is not None
            before_secret = {"id": server.id, "value": server.value, "sensitive": True, "secret": True}
            reason = "Appwrite cannot make a secret variable plain: it is deleted and created again"
            for action, before, after_ in ((Action.DELETE, before_secret, None), (Action.CREATE, None, after)):
                changes.append(
                    Change(kind=ChangeKind.VARIABLE, address=address, action=action, before=before, after=after_,
                           reason=reason, function_id=fid, key=key)
                )
            continue
        if server is None:
            changes.append(
                Change(
                    kind=ChangeKind.VARIABLE,
                    address=address,
                    action=Action.CREATE,
                    after=after,
                    reason="not on the server",
                    function_id=fid,
                    key=key,
                )
            )
            secret_written = secret_written or secret
            continue
        if server.secret:
            reason = _secret_drift(key, server, wanted_digests[key], record, record_var)
        elif secret:
            reason = "value differs" if server.value != wanted.value else "to be made secret"
        else:
            reason = "value differs" if server.value != wanted.value else ""
        if not reason and "description" in after and server.description != after["description"]:
            reason = "description differs"
        if reason:
            sensitive_before = was_sensitive(server, secret_mode, known)
            before: dict[str, Any] = {"id": server.id, "value": server.value, "sensitive": sensitive_before}
            if secret_mode:
                before["secret"] = server.secret
            changes.append(
                Change(
                    kind=ChangeKind.VARIABLE,
                    address=address,
                    action=Action.UPDATE,
                    before=before,
                    after=after,
                    reason=reason,
                    function_id=fid,
                    key=key,
                )
            )
            secret_written = secret_written or secret
    for key, variable in current.items():
        if key not in spec.variables and key != RECORD_KEY:
            changes.append(
                Change(
                    kind=ChangeKind.VARIABLE,
                    address=f"function.{fid}.variable.{key}",
                    action=Action.DELETE,
                    # Values of variables set outside the manifest may be secrets: never shown (None: hidden).
                    before={"id": variable.id, "value": variable.value, "sensitive": True if variable.secret else None},
                    reason="not in the manifest",
                    function_id=fid,
                    key=key,
                )
            )
    if secret_mode:
        wanted_record = DigestRecord(salt=salt, digests=wanted_digests) if wanted_digests else None
    else:
        sensitive_keys = sorted(key for key, wanted in spec.variables.items() if wanted.sensitive)
        wanted_record = DigestRecord(sensitive=sensitive_keys) if sensitive_keys else None
    if record_var is not None or changes:  # a missing record comes with the next variable write, never alone
        record_changes = _plan_digest_record(fid, record_var, wanted_record, force=secret_written, secret_mode=secret_mode)
        changes.extend(record_changes)
    return changes


def _secret_drift(
    key: str, server: Variable, wanted_digest: str, record: DigestRecord | None, record_var: Variable | None
) -> str:
    """Why a secret variable must be written again ("" when it holds the manifest's value, as far as can be known)."""
    if record is None or key not in record.digests:
        return "secret value cannot be read back and has no recorded digest"
    if record.digests[key] != wanted_digest:
        return "value differs (by recorded digest)"
    if record_var is not None and written_after(server.updated_at, record_var.updated_at):
        return "secret changed on the server since fnsync recorded it"
    return ""


def _plan_digest_record(
    fid: str, record_var: Variable | None, wanted: DigestRecord | None, *, force: bool, secret_mode: bool
) -> list[Change]:
    """Create, rewrite or remove `FNSYNC_SECRET_DIGESTS` (removed when `wanted` is None). It comes after the variables
    it covers, so its `$updatedAt` is later than theirs; `force` rewrites it (even unchanged) whenever a secret was
    written."""
    address = f"function.{fid}.variable.{RECORD_KEY}"

    def flag(secret: bool) -> dict[str, bool]:  # sides carry `secret` only where the server has it (1.7+)
        return {"secret": secret} if secret_mode else {}

    def change(action: Action, reason: str, before: Variable | None, value: str | None) -> Change:
        return Change(
            kind=ChangeKind.VARIABLE,
            address=address,
            action=action,
            before={"id": before.id, "value": before.value, "sensitive": False, **flag(before.secret)} if before else None,
            after={"value": value, "sensitive": False, **flag(False)} if value is not None else None,
            reason=reason,
            function_id=fid,
            key=RECORD_KEY,
        )

    kind, records = ("secret", "records digests of secret variables") if secret_mode else (
        "sensitive", "records which variables were applied as sensitive"
    )
    if wanted is None:
        return [change(Action.DELETE, f"no {kind} variables left", record_var, None)] if record_var else []
    value = wanted.to_value()
    if record_var is None:
        return [change(Action.CREATE, records, None, value)]
    if record_var.secret:  # made secret by hand: unreadable, and the flag cannot be unset, so replace it
        return [
            change(Action.DELETE, "the digest record must not be secret", record_var, None),
            change(Action.CREATE, records, None, value),
        ]
    if record_var.value != value or force:
        return [change(Action.UPDATE, f"{kind} variables changed", record_var, value)]
    return []
