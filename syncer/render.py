"""Plans and apply results for people (Terraform's + ~ - symbols) and for machines (`--json`, versioned).

Sensitive variable values never reach either form: every variable side carries a `sensitive` flag set by the
planner, and both renderers print a placeholder instead of the value unless it is `False`. An old value whose
sensitivity fnsync cannot know (Appwrite 1.6, or a variable not in the manifest) has `sensitive: None`: hidden too,
and labelled as unknown rather than as sensitive.

JSON schema, `format_version` "1" (documented in docs/plan-apply.md; additions keep the version, removals bump it):

    plan:  {format_version, kind: "plan", has_changes, state_fingerprint, options{targets, prune, activate},
            summary{create, update, delete, variables, deploy, rebuild}, changes[...], unmanaged[...]}
    change: {address, kind, action, function_id, key, reason, changed_fields, before, after}
    apply: {format_version, kind: "apply", ok, plan{...}, functions[{id, ok, error, build_logs, outcomes[
            {address, action, status, detail}]}], requests{reads, writes}}
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from croniter import croniter
from rich.console import Group
from rich.text import Text

from syncer.plan import GIT_FIELDS, Action, Change, ChangeKind, Plan, tally
from syncer.secret_digests import RECORD_KEY

if TYPE_CHECKING:
    from syncer.apply import ApplyResult

FORMAT_VERSION = "1"
MASK = "(sensitive)"
UNKNOWN_MASK = "(hidden: not known whether it was sensitive)"
SYMBOLS = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-", Action.DEPLOY: "~", Action.REBUILD: "~"}
STYLES = {"+": "green", "~": "yellow", "-": "red"}
LEGEND = "Symbols: [green]+[/green] create  [yellow]~[/yellow] update in place  [red]-[/red] delete"


# --- shared helpers -------------------------------------------------------------------------------------------


def hidden(side: dict[str, Any]) -> bool:
    """A variable side's value must not be shown: sensitive, or not known to be plain (`sensitive` None)."""
    return side.get("sensitive") is not False


def masked(side: dict[str, Any] | None) -> dict[str, Any] | None:
    """A variable side safe to show: the value is dropped unless it is known to be plain."""
    if side is None or not hidden(side):
        return side
    return {**side, "value": None}


def mask_label(side: dict[str, Any] | None) -> str:
    """The placeholder for a hidden value, saying truthfully why it is hidden."""
    return UNKNOWN_MASK if side is not None and "sensitive" in side and side["sensitive"] is None else MASK


def show_value(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_value(item) for item in value) + "]"
    return str(value)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def short_hash(code_hash: str | None) -> str:
    return code_hash[:12] if code_hash else "unknown"


def next_runs(schedule: str, count: int = 3, now: datetime | None = None) -> list[str]:
    """The next `count` run times of a cron schedule, in UTC; [] when croniter cannot read it."""
    if not schedule:
        return []
    try:
        it = croniter(schedule, now or datetime.now(UTC))
        return [it.get_next(datetime).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") for _ in range(count)]
    except (ValueError, KeyError, TypeError):
        return []


# --- human plan ------------------------------------------------------------------------------------------------


def _line(symbol: str, body: str, indent: int = 2, note: str = "") -> Text:
    text = Text(" " * indent)
    text.append(symbol, style=STYLES.get(symbol, ""))
    text.append(" " + body)
    if note:
        text.append(f"  ({note})", style="dim")
    return text


def _function_lines(changes: list[Change], now: datetime | None) -> list[Text]:
    fid = changes[0].function_id
    head = next((c for c in changes if c.kind is ChangeKind.FUNCTION), None)
    symbol = SYMBOLS[head.action] if head else "~"
    verb = {"+": "will be created", "-": "will be deleted", "~": "will be updated in place"}[symbol]
    lines = [_line(symbol, f'function "{fid}" {verb}', note=head.reason if head else "")]
    for change in changes:
        lines.extend(_change_lines(change, now))
    return lines


def _change_lines(change: Change, now: datetime | None) -> list[Text]:
    if change.kind is ChangeKind.FUNCTION:
        return _settings_lines(change, now)
    if change.kind is ChangeKind.VARIABLE:
        return [_variable_line(change)]
    return [_code_line(change)]


def _settings_lines(change: Change, now: datetime | None) -> list[Text]:
    lines: list[Text] = []
    if change.action is Action.CREATE and change.after:
        for name, value in change.after.items():
            if name in GIT_FIELDS and not value:
                continue  # no VCS connection: the provider fields are all empty, say nothing
            lines.append(_line("+", f"{name}: {show_value(value)}", indent=6))
            if name == "schedule" and value:
                lines.append(_schedule_line(value, now))
    elif change.action is Action.UPDATE and change.before and change.after:
        for name in change.changed_fields():
            old, new = change.before.get(name), change.after.get(name)
            lines.append(_line("~", f"{name}: {show_value(old)} -> {show_value(new)}", indent=6))
            if name == "schedule" and new:
                lines.append(_schedule_line(new, now))
    elif change.action is Action.DELETE and change.before:
        before = change.before
        lines.append(_line("-", f"name: {show_value(before.get('name'))}, runtime: {before.get('runtime')}", indent=6))
    return lines


def _schedule_line(schedule: str, now: datetime | None) -> Text:
    runs = next_runs(schedule, now=now)
    text = Text(" " * 10 + "next runs: " + (", ".join(runs) if runs else "(cannot compute)"), style="dim")
    return text


def _variable_line(change: Change) -> Text:
    def value(side: dict[str, Any] | None) -> str:
        shown = masked(side)
        return mask_label(side) if shown is None or shown.get("value") is None else show_value(shown["value"])

    symbol = SYMBOLS[change.action]
    if change.action is Action.CREATE:
        body = f"variable {change.key} = {value(change.after)}"
    elif change.action is Action.UPDATE:
        body = f"variable {change.key}: {value(change.before)} -> {value(change.after)}"
    else:
        body = f"variable {change.key}"
    # A secret replaced by a plain variable is the one variable change whose why is not obvious from its values.
    replaced = change.action is Action.DELETE and bool((change.before or {}).get("secret")) and change.key != RECORD_KEY
    return _line(symbol, body, indent=6, note=change.reason if replaced else "")


def _code_line(change: Change) -> Text:
    before = change.before or {}
    after = change.after or {}
    if change.action is Action.DEPLOY:
        active = f"active {before['deployment']} {short_hash(before.get('code_hash'))}" if before else "nothing active"
        files = int(after.get("file_count", 0))
        body = (
            f"code: deploy {files} file{'' if files == 1 else 's'}, {human_size(int(after.get('size', 0)))}, "
            f"hash {short_hash(after.get('code_hash'))} (was: {active})"
        )
    else:
        body = f"code: rebuild active deployment {after.get('deployment', '')}"
    symbol = "+" if change.action is Action.DEPLOY and not before else "~"
    return _line(symbol, body, indent=6, note=change.reason)


def summary_line(plan: Plan) -> str:
    return counts_line(plan.counts())


def counts_line(counts: dict[str, int]) -> str:
    """`Plan: ...` from the summary counts (a Plan's, or the `summary` of its JSON document)."""
    parts = [f"{counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete"]
    parts.append(f"{counts['variables']} variable change{'s' if counts['variables'] != 1 else ''}")
    parts.append(f"{counts['deploy']} to deploy, {counts['rebuild']} to rebuild")
    return "Plan: " + "; ".join(parts) + "."


def render_plan(plan: Plan, *, manifest_name: str = "the manifest", now: datetime | None = None) -> Group:
    """The whole human plan as one rich renderable."""
    parts: list[Any] = []
    if not plan.has_changes:
        parts.append(Text(f"No changes. The server matches {manifest_name}.", style="green"))
    else:
        parts.append(Text.from_markup(LEGEND))
        parts.append(Text(""))
        parts.append(Text("fnsync will perform these actions:"))
        for fid in plan.function_ids():
            parts.extend(_function_lines(plan.for_function(fid), now))
    if plan.unmanaged:
        parts.append(Text(""))
        parts.append(Text("Unmanaged (on the server, not in the manifest; use --prune to delete):", style="dim"))
        parts.extend(Text(f"  {fid}", style="dim") for fid in plan.unmanaged)
    if plan.has_changes:
        parts.append(Text(""))
        parts.append(Text(summary_line(plan), style="bold"))
    for note in plan.notes:
        parts.append(Text(f"Note: {note}", style="yellow"))
    return Group(*parts)


# --- JSON -----------------------------------------------------------------------------------------------------


def change_to_json(change: Change) -> dict[str, Any]:
    before, after = change.before, change.after
    if change.kind is ChangeKind.VARIABLE:
        before, after = masked(before), masked(after)
    if change.kind is ChangeKind.CODE and after is not None:
        after = {k: v for k, v in after.items() if k != "archive"}  # a local temp path, meaningless elsewhere
    return {
        "address": change.address,
        "kind": change.kind.value,
        "action": change.action.value,
        "function_id": change.function_id,
        "key": change.key or None,
        "reason": change.reason,
        "changed_fields": change.changed_fields(),
        "before": before,
        "after": after,
    }


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": "plan",
        "has_changes": plan.has_changes,
        "state_fingerprint": plan.state_fingerprint,
        "options": plan.options.model_dump(mode="json"),
        "summary": plan.counts(),
        "changes": [change_to_json(change) for change in plan.changes],
        "unmanaged": list(plan.unmanaged),
        "notes": list(plan.notes),
    }


def result_to_json(result: ApplyResult) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": "apply",
        "ok": result.ok,
        "plan": plan_to_json(result.plan),
        "functions": [
            {
                "id": fr.function_id,
                "ok": fr.ok,
                "deferred": fr.deferred,
                "error": fr.error,
                "build_logs": fr.build_logs,
                "outcomes": [o.model_dump(mode="json") for o in fr.outcomes],
            }
            for fr in result.functions
        ],
        "requests": {"reads": result.reads, "writes": result.writes},
        "creation_limit": creation_limit_json(result),
    }


def creation_limit_json(result: ApplyResult) -> dict[str, Any] | None:
    """Creates left for a later run by the server's creation limit (None when nothing was deferred)."""
    if not result.deferred:
        return None
    limit = result.creation_limit
    return {
        "created": _done_counts(result)["create"],
        "deferred": result.deferred,
        "limit": limit.limit if limit else None,
        "reset": datetime.fromtimestamp(limit.reset, UTC).isoformat() if limit and limit.reset else None,
    }


# --- human apply result --------------------------------------------------------------------------------------


def render_result(result: ApplyResult) -> Group:
    """Per function what was done and what was not, build logs of failed builds, then one summary line."""
    parts: list[Any] = []
    for fr in result.functions:
        mark, style = ("✓", "green") if fr.ok else ("✗", "red")
        line = Text(f"{mark} ", style=style)
        line.append(f"{fr.function_id}: ")
        line.append("; ".join(o.detail for o in fr.outcomes if o.status in ("done", "started")) or "nothing done")
        parts.append(line)
        if not fr.ok:
            parts.append(Text(f"    error: {fr.error}", style="red"))
            not_done = [o.detail for o in fr.outcomes if o.status in ("skipped", "failed")]
            if not_done:
                parts.append(Text("    not done: " + "; ".join(not_done)))
            if fr.build_logs:
                parts.append(Text("    build log:", style="bold"))
                parts.extend(Text("      " + log_line) for log_line in fr.build_logs.splitlines())
    parts.append(Text(apply_summary(result), style="bold green" if result.ok else "bold red"))
    if result.deferred:
        parts.append(Text(creation_limit_line(result), style="yellow"))
    return Group(*parts)


def creation_limit_line(result: ApplyResult) -> str:
    """How many functions the creation limit left for later, and when to re-run."""
    created, deferred = _done_counts(result)["create"], len(result.deferred)
    return (
        f"The server's function-creation limit was reached: {created} created, {deferred} still to create "
        f"({', '.join(result.deferred)}). Everything else was applied. The allowance is used up"
        f"{result.creation_limit.until if result.creation_limit else ''}: re-run `fnsync apply` after that to create the rest."
    )


def apply_summary(result: ApplyResult) -> str:
    counts = _done_counts(result)
    requests = f"({result.reads} reads, {result.writes} writes)"
    if not result.plan.has_changes:
        return f"Apply complete: nothing to do. {requests}"
    done = (
        f"{counts['create']} created, {counts['update']} updated, {counts['delete']} deleted, "
        f"{counts['variables']} variable changes, {counts['deploy']} deployed, {counts['rebuild']} rebuilt"
    )
    if result.ok:
        return f"Apply complete: {done}. {requests}"
    failed = [fr.function_id for fr in result.functions if not fr.ok]
    return (
        f"Apply failed for {len(failed)} of {len(result.functions)} functions ({', '.join(failed)}); "
        f"done: {done}. Re-run `fnsync apply` to converge. {requests}"
    )


def _done_counts(result: ApplyResult) -> dict[str, int]:
    return tally((o.kind, o.action) for fr in result.functions for o in fr.outcomes if o.status in ("done", "started"))


def plain(renderable: Iterable[Text] | Group) -> str:
    """Plain text of a rendered group (tests and logs)."""
    items = renderable.renderables if isinstance(renderable, Group) else list(renderable)
    return "\n".join(item.plain if isinstance(item, Text) else str(item) for item in items)
