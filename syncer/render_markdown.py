"""The plan as Markdown, for pull request comments and CI job summaries.

Rendered from the JSON document of `syncer.render.plan_to_json` (the one `fnsync plan --json` prints), never
from a second computation: the comment shows exactly the data the JSON carries, with sensitive values already
masked there. A summary line, then one collapsible `<details>` section per function (settings field by
field, variables per key, code by files/size/hash), then the unmanaged functions.

Comment hosts cap a comment's length, so `plan_markdown(..., limit=N)` drops whole function sections from the
end until the text fits and says so in a note naming what was left out.
"""

from __future__ import annotations

import html
import json
from itertools import accumulate
from typing import Any

from syncer.plan import GIT_FIELDS
from syncer.render import SYMBOLS, counts_line, hidden, human_size, mask_label, next_runs, short_hash  # SYMBOLS: keyed by Action, a str

# Longest comment body each host accepts, in characters (Python's len counts code points, as the hosts do).
# GitHub: 65,536 ("body is too long (maximum is 65536 characters)", 422 on issue comments).
# GitLab: 1,000,000 (notes' documented maximum). Gitea/Forgejo: no limit in the API (a comment is a LONGTEXT
# column, go-gitea/gitea routers/api/v1/repo/issue_comment.go checks none); GitHub's is used so a long plan
# stays readable and an instance behind a stricter proxy or a future Forgejo limit still accepts it.
COMMENT_LIMITS: dict[str, int] = {"github": 65_536, "gitlab": 1_000_000, "gitea": 65_536}
HOST_NAMES: dict[str, str] = {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea/Forgejo"}
# GitHub Actions shows at most 1 MiB of a step's summary; fnsync writes whole plans there, cut to this.
STEP_SUMMARY_LIMIT = 1_000_000

VERBS = {"+": "will be created", "-": "will be deleted", "~": "will be updated in place"}


def plan_markdown(
    document: dict[str, Any],
    *,
    title: str = "fnsync plan",
    limit: int | None = None,
    host: str = "",
) -> str:
    """The plan document as Markdown; with `limit`, at most `limit` characters (whole sections are dropped).

    `host` ("github", "gitlab", "gitea") names whose limit it is in the note saying what was cut."""
    head = [f"### {title}", "", f"**{summary_text(document)}**", ""]
    if not document.get("has_changes"):
        head[-2] = "**No changes.** The server matches the manifest."
    sections = [function_section(fid, changes) for fid, changes in by_function(document).items()]
    tail = unmanaged_lines(document)
    text = _join(head, sections, tail)
    if limit is None or len(text) <= limit:
        return text
    return _cut(head, sections, list(by_function(document)), tail, limit, host)


def summary_text(document: dict[str, Any]) -> str:
    """The `Plan: ...` summary line, from the document's `summary` counts (the terminal's wording)."""
    counts = {"create": 0, "update": 0, "delete": 0, "variables": 0, "deploy": 0, "rebuild": 0}
    return counts_line({**counts, **(document.get("summary") or {})})


def by_function(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for change in document.get("changes") or []:
        grouped.setdefault(change["function_id"], []).append(change)
    return grouped


# --- one function -------------------------------------------------------------------------------------------


def function_section(function_id: str, changes: list[dict[str, Any]]) -> str:
    head = next((c for c in changes if c["kind"] == "function"), None)
    symbol = SYMBOLS[head["action"]] if head else "~"
    variables = _count(sum(c["kind"] == "variable" for c in changes), "variable")
    what = ", ".join(part for part in (_settings_count(head), variables, _code_word(changes)) if part)
    summary = f"<code>{symbol} {html.escape(function_id)}</code> {VERBS[symbol]}" + (f": {html.escape(what)}" if what else "")
    body: list[str] = []
    if head is not None:
        body += settings_lines(head)
    variable_changes = [c for c in changes if c["kind"] == "variable"]
    if variable_changes:
        body += variable_lines(variable_changes)
    body += [code_line(c) for c in changes if c["kind"] == "code"]
    return "\n".join([f"<details><summary>{summary}</summary>", "", *body, "", "</details>", ""])


def _count(n: int, label: str) -> str:
    return f"{n} {label}{'s' if n != 1 else ''}" if n else ""


def _settings_count(head: dict[str, Any] | None) -> str:
    if head is None or head["action"] != "update":
        return ""
    return _count(len(head.get("changed_fields") or []), "setting")


def _code_word(changes: list[dict[str, Any]]) -> str:
    code = next((c for c in changes if c["kind"] == "code"), None)
    return "" if code is None else ("new code" if code["action"] == "deploy" else "rebuild")


def settings_lines(change: dict[str, Any]) -> list[str]:
    before, after = change.get("before") or {}, change.get("after") or {}
    reason = f"_{escape_text(change.get('reason') or '')}_" if change.get("reason") else ""
    if change["action"] == "create":
        rows = [(name, value) for name, value in after.items() if not (name in GIT_FIELDS and not value)]
        lines = [reason, "", "| setting | value |", "|---|---|"] if reason else ["| setting | value |", "|---|---|"]
        for name, value in rows:
            lines.append(f"| `{name}` | {cell(value)}{_runs(name, value)} |")
        return lines + [""]
    if change["action"] == "update":
        lines = ["| setting | now | after apply |", "|---|---|---|"]
        for name in change.get("changed_fields") or []:
            lines.append(f"| `{name}` | {cell(before.get(name))} | {cell(after.get(name))}{_runs(name, after.get(name))} |")
        return lines + [""]
    lines = [reason, ""] if reason else []
    return lines + [f"Deleted: name {cell(before.get('name'))}, runtime {cell(before.get('runtime'))}.", ""]


def _runs(name: str, value: Any) -> str:
    if name != "schedule" or not value:
        return ""
    runs = next_runs(str(value))
    return "<br>next runs: " + (", ".join(runs) if runs else "(cannot compute)")


def variable_lines(changes: list[dict[str, Any]]) -> list[str]:
    lines = ["| | variable | now | after apply | why |", "|---|---|---|---|---|"]
    for change in changes:
        symbol = SYMBOLS[change["action"]]
        now = variable_value(change.get("before")) if change.get("before") is not None else ""
        then = variable_value(change.get("after")) if change.get("after") is not None else "(deleted)"
        lines.append(f"| {symbol} | `{change['key']}` | {now} | {then} | {escape_text(change.get('reason') or '')} |")
    return lines + [""]


def variable_value(side: dict[str, Any]) -> str:
    """A variable's value as the JSON document has it: masked sides (value null) show the mask, never a value."""
    if hidden(side) or side.get("value") is None:
        return mask_label(side)
    return cell(side["value"])


def code_line(change: dict[str, Any]) -> str:
    before, after = change.get("before") or {}, change.get("after") or {}
    why = f" ({escape_text(change['reason'])})" if change.get("reason") else ""
    if change["action"] == "deploy":
        was = (
            f"active deployment `{before.get('deployment', '')}`, hash `{short_hash(before.get('code_hash'))}`"
            if before
            else "nothing active"
        )
        return (
            f"**Code:** deploy {_count(int(after.get('file_count') or 0), 'file') or '0 files'}, {human_size(int(after.get('size') or 0))}, "
            f"hash `{short_hash(after.get('code_hash'))}` (was: {was}){why}"
        )
    return f"**Code:** rebuild the active deployment `{after.get('deployment', '')}`{why}"


def unmanaged_lines(document: dict[str, Any]) -> list[str]:
    unmanaged = document.get("unmanaged") or []
    if not unmanaged:
        return []
    shown = ", ".join(f"`{fid}`" for fid in unmanaged)
    return ["", f"Unmanaged (on the server, not in the manifest; `--prune` deletes them): {shown}"]


# --- Markdown text --------------------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """A JSON value as inline code that survives a table cell (pipes, newlines and backticks escaped)."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else ("true" if value else "false")
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def failure_markdown(title: str, headline: str, problems: str) -> str:
    """A plan that could not be made, as a comment section: the headline, how to check it locally, and the
    problems verbatim in a code block (a ``` inside them cannot close it)."""
    return (
        f"### {title}\n\n**❌ {headline}** Run `fnsync validate` and `fnsync plan` to check it locally."
        f"\n\n```text\n{problems.replace('```', '` ` `')}\n```\n"
    )


def escape_text(text: str) -> str:
    """Free text (reasons) for a table cell or a paragraph: no HTML, no table breaks."""
    return html.escape(text).replace("|", "\\|").replace("\n", " ")


# --- fitting a limit ----------------------------------------------------------------------------------------------


def _join(head: list[str], sections: list[str], tail: list[str]) -> str:
    return "\n".join([*head, *sections, *tail]).rstrip("\n") + "\n"


def _cut(head: list[str], sections: list[str], ids: list[str], tail: list[str], limit: int, host: str) -> str:
    """Keep as many whole sections as fit with the note; the note names the left-out functions (as many as fit)."""
    shown = list(accumulate(len(section) + 1 for section in sections))  # characters of the first n+1 sections
    text = ""
    for count in range(len(sections), -1, -1):
        if count and shown[count - 1] > limit:
            continue  # cannot fit whatever the rest: skip building the text
        kept = sections[:count]
        note = cut_note(ids[count:], len(ids), limit, host, room=limit // 4)
        text = _join(head, kept, [*tail, "", note])
        if len(text) <= limit:
            return text
    return text[: max(limit - 1, 0)] + "…"  # even the head does not fit: a hard cut, still under the limit


def cut_text(text: str, limit: int) -> str:
    """Any Markdown cut to `limit` characters at a line end, with a note (for texts without sections)."""
    if len(text) <= limit:
        return text
    note = f"\n\n> **Cut to fit the {limit:,}-character limit.**\n"
    kept = text[: max(limit - len(note), 0)]
    return kept[: kept.rfind("\n") + 1 or len(kept)].rstrip("\n") + note


def cut_note(left_out: list[str], total: int, limit: int, host: str, room: int) -> str:
    """The note saying what was cut; lists left-out function IDs until `room` characters are used."""
    where = f"{HOST_NAMES.get(host, host)}'s " if host else "the "
    names: list[str] = []
    used = 0
    for fid in left_out:
        used += len(fid) + 4
        if used > room:
            break
        names.append(f"`{fid}`")
    more = len(left_out) - len(names)
    listed = ", ".join(names) + (f" and {more} more" if more else "")
    shown = f": {listed}" if left_out else ""
    return (
        f"> **Cut to fit {where}{limit:,}-character limit:** {len(left_out)} of {total} functions are not shown{shown}. "
        "Run `fnsync plan` (or `fnsync plan --json`) for the whole plan."
    )


# --- apply results (job summaries) ----------------------------------------------------------------------------------


def apply_markdown(document: dict[str, Any], *, title: str = "fnsync apply", limit: int | None = None) -> str:
    """An apply result document (`syncer.render.result_to_json`) as Markdown: what was done per function, then
    the plan it carried out (collapsible sections as in a plan comment)."""
    ok = document.get("ok", False)
    requests = document.get("requests") or {}
    head = [f"### {title}", "", f"**{'✅ Apply complete' if ok else '❌ Apply failed'}** "
            f"({requests.get('reads', 0)} reads, {requests.get('writes', 0)} writes)", ""]
    functions = document.get("functions") or []
    if functions:
        head += ["| function | result | done | error |", "|---|---|---|---|"]
        for function in functions:
            done = "; ".join(o["detail"] for o in function.get("outcomes") or [] if o.get("status") in ("done", "started"))
            mark = "✅" if function.get("ok") else "❌"
            error = escape_text(function.get("error") or "")
            head.append(f"| `{function['id']}` | {mark} | {escape_text(done) or 'nothing done'} | {error} |")
        head.append("")
    plan = plan_markdown(document.get("plan") or {}, title="The plan it applied", limit=None)
    text = "\n".join(head) + "\n" + plan.replace("### The plan it applied", "#### The plan it applied", 1)
    if limit is not None and len(text) > limit:
        cut = plan_markdown(document.get("plan") or {}, title="The plan it applied", limit=max(limit - len("\n".join(head)) - 1, 0))
        text = "\n".join(head) + "\n" + cut.replace("### The plan it applied", "#### The plan it applied", 1)
    return text
