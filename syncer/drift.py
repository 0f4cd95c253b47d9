"""A plan, phrased as drift: what is different on the server from what the manifest says.

Only presentation: `fnsync drift` computes an ordinary plan (`syncer.apply.make_plan`, never prune) and this module
turns each change into "on the server X is now Y; the manifest says Z". Sensitive values stay masked exactly as
in the plan (`syncer.render.masked`).

fnsync's own digest record of secret variables (`syncer.secret_digests.RECORD_KEY`, Appwrite 1.7+) is bookkeeping,
not something the manifest declares: its changes are never drift items. A changed secret shows under its own key,
and a rebuild that only the record's rewrite would cause is not reported either.

JSON, `format_version` "1": {format_version, kind: "drift", has_drift, summary{settings, variables, code, live,
missing}, drift[{address, function_id, kind, field, key, server, manifest, message}], unmanaged[], plan{...}}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from rich.console import Group
from rich.text import Text

from syncer.plan import Action, Change, ChangeKind, Plan
from syncer.render import FORMAT_VERSION, mask_label, masked, plan_to_json, short_hash, show_value
from syncer.secret_digests import RECORD_KEY
from syncer.state import ServerState

DriftKind = Literal["settings", "variable", "code", "live", "missing"]


class DriftItem(BaseModel):
    """One difference, for people (`message`) and machines (the rest)."""

    model_config = ConfigDict(frozen=True)

    address: str
    function_id: str
    kind: DriftKind
    field: str = ""  # the setting, for settings drift
    key: str = ""  # the variable key, for variable drift
    server: Any = None
    manifest: Any = None
    message: str


class DriftReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan: Plan
    items: tuple[DriftItem, ...]
    unmanaged: tuple[str, ...] = ()
    count_unmanaged: bool = False

    @property
    def has_drift(self) -> bool:
        return bool(self.items) or (self.count_unmanaged and bool(self.unmanaged))

    def summary(self) -> dict[str, int]:
        counts = {"settings": 0, "variables": 0, "code": 0, "live": 0, "missing": 0}
        for item in self.items:
            counts["variables" if item.kind == "variable" else item.kind] += 1
        return counts


def drift_report(plan: Plan, state: ServerState, *, count_unmanaged: bool = False) -> DriftReport:
    """Every change of `plan`, as drift. Plans made for drift never prune, so there are no deletes of functions."""
    items: list[DriftItem] = []
    for change in plan.changes:
        if change.kind is ChangeKind.VARIABLE and change.key == RECORD_KEY:
            continue  # fnsync's bookkeeping: the secrets it covers are reported under their own keys
        if change.action is Action.REBUILD and not _rebuild_is_drift(change, items, state):
            continue
        items.extend(_items(change, plan, state))
    return DriftReport(plan=plan, items=tuple(items), unmanaged=plan.unmanaged, count_unmanaged=count_unmanaged)


def _rebuild_is_drift(change: Change, reported: list[DriftItem], state: ServerState) -> bool:
    """A rebuild is drift when the server marks the function not live, or when drift reported above needs it
    (not when only the digest record's rewrite asks for it)."""
    remote = state.functions.get(change.function_id)
    not_live = remote is not None and not remote.function.live
    return not_live or any(item.function_id == change.function_id for item in reported)


def _value(side: dict[str, Any] | None) -> Any:
    shown = masked(side)
    return None if shown is None else shown.get("value")


def _shown(value: Any, side: dict[str, Any] | None) -> str:
    """A variable value as the plan shows it: the mask (saying why) when hidden."""
    return mask_label(side) if value is None else show_value(value)


def _items(change: Change, plan: Plan, state: ServerState) -> list[DriftItem]:
    fid = change.function_id
    base = {"address": change.address, "function_id": fid}
    if change.kind is ChangeKind.FUNCTION:
        if change.action is Action.CREATE:
            return [
                DriftItem(
                    **base,
                    kind="missing",
                    message=f'function "{fid}": on the server it is missing (deleted, or never applied); the manifest declares it',
                )
            ]
        if change.action is Action.DELETE:  # only with prune, which drift never asks for; kept total for safety
            return [DriftItem(**base, kind="missing", message=f'function "{fid}" is on the server; the manifest does not declare it')]
        before, after = change.before or {}, change.after or {}
        return [
            DriftItem(
                **base,
                kind="settings",
                field=name,
                server=before.get(name),
                manifest=after.get(name),
                message=f'function "{fid}": on the server {name} is now {show_value(before.get(name))}; '
                f"the manifest says {show_value(after.get(name))}",
            )
            for name in change.changed_fields()
        ]
    if change.kind is ChangeKind.VARIABLE:
        key = change.key
        server, wanted = _value(change.before), _value(change.after)
        if change.action is Action.CREATE:
            text = f"on the server variable {key} is now missing; the manifest sets it to {_shown(wanted, change.after)}"
        elif change.action is Action.UPDATE:
            text = f"on the server variable {key} is now {_shown(server, change.before)}; the manifest says {_shown(wanted, change.after)}"
            if server is None and wanted is None and change.reason:
                text += f" ({change.reason})"  # both masked: the planner's reason is all that can be said
        else:
            text = f"on the server variable {key} now exists {mask_label(change.before)}; the manifest does not set it"
        return [DriftItem(**base, kind="variable", key=key, server=server, manifest=wanted, message=f'function "{fid}": {text}')]
    if change.action is Action.DEPLOY:
        before, after = change.before or {}, change.after or {}
        wanted_hash = after.get("code_hash")
        if not before:
            running = "no deployment is active"
        elif before.get("code_hash") is None:
            running = f"deployment {before['deployment']} is active, with code fnsync cannot identify"
        else:
            running = f"deployment {before['deployment']} is active (code {short_hash(before.get('code_hash'))})"
        return [
            DriftItem(
                **base,
                kind="code",
                server=before or None,
                manifest={"code_hash": wanted_hash},
                message=f'function "{fid}": on the server {running}; the manifest\'s code is {short_hash(wanted_hash)}',
            )
        ]
    # REBUILD: either the server marks the function not live, or the drift above (variables, build settings) needs it.
    remote = state.functions.get(fid)
    if remote is not None and not remote.function.live:
        text = (
            f'function "{fid}": on the server it is now not live (its active build predates its current settings or '
            "variables); the manifest expects it live"
        )
    else:
        text = f'function "{fid}": the drift above takes effect only after a rebuild of the active deployment'
    return [DriftItem(**base, kind="live", server={"live": remote.function.live if remote else None}, manifest={"live": True}, message=text)]


# --- output --------------------------------------------------------------------------------------------------------


def render_drift(report: DriftReport, *, manifest_name: str = "the manifest", now: datetime | None = None) -> Group:
    parts: list[Any] = []
    if not report.items:
        parts.append(Text(f"No drift. The server matches {manifest_name}.", style="green"))
    else:
        parts.append(Text(f"Drift: the server differs from {manifest_name}:", style="bold yellow"))
        for fid in report.plan.function_ids():
            for item in (i for i in report.items if i.function_id == fid):
                parts.append(Text("  ~ ", style="yellow") + Text(item.message))
    if report.unmanaged:
        parts.append(Text(""))
        label = "counted as drift" if report.count_unmanaged else "not counted as drift"
        parts.append(Text(f"Unmanaged (on the server, not in the manifest; {label}):", style="dim"))
        parts.extend(Text(f"  {fid}", style="dim") for fid in report.unmanaged)
    if report.has_drift:
        counts = report.summary()
        parts.append(Text(""))
        parts.append(
            Text(
                f"Drift: {len(report.plan.function_ids())} function(s); {counts['settings']} setting(s), "
                f"{counts['variables']} variable(s), {counts['code']} code, {counts['live']} not live, "
                f"{counts['missing']} missing. Run `fnsync apply` to return the server to the manifest.",
                style="bold",
            )
        )
    return Group(*parts)


def drift_to_json(report: DriftReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": "drift",
        "has_drift": report.has_drift,
        "summary": report.summary(),
        "drift": [item.model_dump(mode="json") for item in report.items],
        "unmanaged": list(report.unmanaged),
        "plan": plan_to_json(report.plan),
    }
