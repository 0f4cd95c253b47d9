"""Saved plans (`fnsync plan --out FILE`, `fnsync apply FILE`).

A plan file is JSON: the plan's changes, the fingerprint of the server state it was made from (overall and per
function), the code hash of every packaged function, a salted fingerprint of the loaded manifest, and the
environment it was loaded with (`--env`; `fnsync apply FILE` loads the manifest with it again). Sensitive
variable values are never written: only a salted SHA-256 of each, and `apply FILE` takes the values from the
manifest again (whose fingerprint must match); so are the values of variables that merely contain a sensitive
value, and a sensitive value anywhere else refuses the save. Applying refuses a stale plan and says what changed, like
Terraform's "Saved plan is stale".
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from syncer import redact
from syncer.manifest.models import Manifest
from syncer.plan import Change, ChangeKind, Plan, PlanOptions
from syncer.render import hidden
from syncer.state import ServerState

PLANFILE_VERSION = "1"
MIN_CHECKED = 6  # shortest sensitive value whose presence outside a variable refuses a save
KIND = "fnsync-plan"


class PlanFileError(Exception):
    """The file is not a usable fnsync plan."""


class StalePlanError(PlanFileError):
    """The server, the manifest or the code changed since the plan was saved; `.reasons` says what."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("Saved plan is stale: " + "; ".join(reasons) + ". Run `fnsync plan` again.")


class SavedPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: str = PLANFILE_VERSION
    kind: str = KIND
    created_at: str
    manifest_path: str
    environment: str | None = None  # `Manifest.environment`; absent in files written before it was recorded
    server: str | None = None  # "ENDPOINT project ID" or "embedded" (see syncer.cli.target); absent in older files
    manifest_fingerprint: str
    salt: str
    state_fingerprint: str
    function_digests: dict[str, str]
    code_hashes: dict[str, str]
    options: PlanOptions
    unmanaged: tuple[str, ...]
    changes: tuple[dict[str, Any], ...]


def _salted(salt: str, text: str) -> str:
    return hashlib.sha256((salt + "\0" + text).encode()).hexdigest()


def manifest_fingerprint(manifest: Manifest, salt: str) -> str:
    """A salted hash of the whole loaded manifest, interpolated values included (so a changed secret shows)."""
    return _salted(salt, json.dumps(manifest.model_dump(mode="json"), sort_keys=True))


def _seal_side(side: dict[str, Any] | None, salt: str, sensitive: frozenset[str]) -> dict[str, Any] | None:
    """The side with its value replaced by a salted hash when it is sensitive, or holds a sensitive value."""
    value = side.get("value") if side is not None else None
    # As outside variables, values too short to keep out of hex digests (`1` from the environment) do not count:
    # else the digest record of secret variables (FNSYNC_SECRET_DIGESTS, not in the manifest) would be sealed.
    checked = tuple(v for v in sensitive if len(v) >= MIN_CHECKED)
    holds_secret = isinstance(value, str) and redact.scrub(value, checked) != value
    if side is None or not (hidden(side) or holds_secret):
        return side
    sealed = {k: v for k, v in side.items() if k != "value"}
    sealed["value_sha256"] = _salted(salt, str(side.get("value", "")))
    return sealed


def _seal(change: Change, salt: str, sensitive: frozenset[str]) -> dict[str, Any]:
    data = change.model_dump(mode="json")
    if change.kind is ChangeKind.VARIABLE:
        data["before"] = _seal_side(change.before, salt, sensitive)
        data["after"] = _seal_side(change.after, salt, sensitive)
    if change.kind is ChangeKind.CODE and data.get("after"):
        data["after"] = {k: v for k, v in data["after"].items() if k != "archive"}
    # A secret outside a variable value: never write it. Values too short to be kept out of hashes and ids
    # (`1`, `true`, `8080` read from the environment) would refuse every plan, so they do not count here.
    if redact.redact_data(data, {v for v in sensitive if len(v) >= MIN_CHECKED}) != data:
        raise PlanFileError(
            f"cannot save the plan: {change.address} would hold a sensitive value outside a variable; nothing was written"
        )
    return data


def write_planfile(
    path: Path, plan: Plan, manifest: Manifest, code_hashes: Mapping[str, str], server: str | None = None
) -> SavedPlan:
    """Write `plan` to `path` (never a sensitive value). Returns what was written."""
    salt = secrets.token_hex(16)
    sensitive = frozenset(manifest.sensitive_values())
    saved = SavedPlan(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        manifest_path=str(manifest.source),
        environment=manifest.environment,
        server=server,
        manifest_fingerprint=manifest_fingerprint(manifest, salt),
        salt=salt,
        state_fingerprint=plan.state_fingerprint,
        function_digests=plan.function_digests,
        code_hashes=dict(code_hashes),
        options=plan.options,
        unmanaged=plan.unmanaged,
        changes=tuple(_seal(change, salt, sensitive) for change in plan.changes),
    )
    path.write_text(saved.model_dump_json(indent=2) + "\n")
    return saved


def read_planfile(path: Path) -> SavedPlan:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise PlanFileError(f"{path} is not an fnsync plan file (not JSON)") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise PlanFileError(f"{path} is not an fnsync plan file")
    if data.get("format_version") != PLANFILE_VERSION:
        raise PlanFileError(f"{path} has plan format {data.get('format_version')!r}; this fnsync reads {PLANFILE_VERSION!r}")
    try:
        return SavedPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanFileError(f"{path} is damaged: {exc.error_count()} invalid field(s)") from None


def stale_reasons(saved: SavedPlan, manifest: Manifest, state: ServerState, code_hashes: Mapping[str, str]) -> list[str]:
    """Everything that differs from when the plan was saved; empty when the plan is still valid."""
    reasons: list[str] = []
    if manifest_fingerprint(manifest, saved.salt) != saved.manifest_fingerprint:
        reasons.append("the manifest (or a value it reads from the environment) changed")
    if state.fingerprint() != saved.state_fingerprint:
        now = state.function_digests()
        for fid in sorted(set(now) | set(saved.function_digests)):
            if fid not in saved.function_digests:
                reasons.append(f"function {fid} was created on the server")
            elif fid not in now:
                reasons.append(f"function {fid} was deleted from the server")
            elif now[fid] != saved.function_digests[fid]:
                reasons.append(f"function {fid} changed on the server")
        if not reasons:
            reasons.append("the server state changed")
    for fid in sorted(set(code_hashes) | set(saved.code_hashes)):
        if code_hashes.get(fid) != saved.code_hashes.get(fid):
            reasons.append(f"the code of {fid} changed")
    return reasons


def restore_plan(saved: SavedPlan, manifest: Manifest) -> Plan:
    """The saved plan with sensitive values taken from the manifest again (checked against their hashes)."""
    changes: list[Change] = []
    for data in saved.changes:
        data = dict(data)
        if data.get("kind") == ChangeKind.VARIABLE.value:
            data["before"] = _unseal_before(data.get("before"))
            data["after"] = _unseal_after(data, manifest, saved.salt)
        try:
            changes.append(Change.model_validate(data))
        except ValidationError:
            raise PlanFileError("the plan file holds an invalid change") from None
    return Plan(
        changes=tuple(changes),
        unmanaged=saved.unmanaged,
        state_fingerprint=saved.state_fingerprint,
        function_digests=saved.function_digests,
        options=saved.options,
    )


def _unseal_before(side: dict[str, Any] | None) -> dict[str, Any] | None:
    if side is None or "value_sha256" not in side:
        return side
    return {k: v for k, v in side.items() if k != "value_sha256"} | {"value": ""}


def _unseal_after(data: dict[str, Any], manifest: Manifest, salt: str) -> dict[str, Any] | None:
    side = data.get("after")
    if side is None or "value_sha256" not in side:
        return side
    spec = manifest.functions.get(str(data.get("function_id")))
    value = spec.variables.get(str(data.get("key"))) if spec else None
    if value is None or _salted(salt, value.value) != side["value_sha256"]:
        raise StalePlanError([f"the value of {data.get('function_id')}.{data.get('key')} changed"])
    return {k: v for k, v in side.items() if k != "value_sha256"} | {"value": value.value}
