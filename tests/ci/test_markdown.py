"""`syncer.render_markdown`: the plan as a PR comment, from the same JSON document `--json` prints."""

from __future__ import annotations

import re

from syncer.plan import Action, Change, ChangeKind, Plan
from syncer.render import plan_to_json
from syncer.render_markdown import COMMENT_LIMITS, cell, plan_markdown

SECRET = "s3cr3t-value-never-shown"


def function_changes(fid: str, *, variables: int = 1) -> list[Change]:
    changes = [
        Change(
            kind=ChangeKind.FUNCTION,
            address=f"function.{fid}",
            action=Action.UPDATE,
            before={"name": fid, "runtime": "python-3.12", "timeout": 15, "schedule": ""},
            after={"name": fid, "runtime": "python-3.12", "timeout": 30, "schedule": "0 3 * * *"},
            reason="settings differ: schedule, timeout",
            function_id=fid,
        )
    ]
    for index in range(variables):
        changes.append(
            Change(
                kind=ChangeKind.VARIABLE,
                address=f"function.{fid}.variable.KEY_{index}",
                action=Action.UPDATE,
                before={"id": "v", "value": "old | value", "sensitive": False},
                after={"value": "new `value`\nline 2", "sensitive": False},
                reason="value differs",
                function_id=fid,
                key=f"KEY_{index}",
            )
        )
    changes.append(
        Change(
            kind=ChangeKind.CODE,
            address=f"function.{fid}.code",
            action=Action.DEPLOY,
            before={"deployment": "dep-old", "code_hash": "a" * 64},
            after={"code_hash": "b" * 64, "file_count": 3, "size": 2048, "archive": "/tmp/x.tar.gz"},
            reason="local code differs from the active deployment",
            function_id=fid,
        )
    )
    return changes


def secret_change(fid: str) -> Change:
    return Change(
        kind=ChangeKind.VARIABLE,
        address=f"function.{fid}.variable.TOKEN",
        action=Action.UPDATE,
        before={"id": "t", "value": "old-" + SECRET, "sensitive": True},
        after={"value": SECRET, "sensitive": True},
        reason="value differs",
        function_id=fid,
        key="TOKEN",
    )


def test_sections_show_fields_variables_and_code_of_each_function() -> None:
    plan = Plan(changes=(*function_changes("api"), secret_change("api"), *function_changes("cron", variables=0)), unmanaged=("legacy",))
    text = plan_markdown(plan_to_json(plan), title="fnsync plan for `functions.yaml`")

    assert text.startswith("### fnsync plan for `functions.yaml`\n")
    assert "**Plan: 0 to create, 2 to update, 0 to delete; 2 variable changes; 2 to deploy, 0 to rebuild.**" in text
    assert text.count("<details>") == 2 and text.count("</details>") == 2
    api = text.split("<details>")[1]
    assert "<code>~ api</code> will be updated in place: 2 settings, 2 variables, new code" in api
    assert "| `timeout` | `15` | `30` |" in api  # field by field
    assert "| `schedule` | `\"\"` | `\"0 3 * * *\"`<br>next runs:" in api
    assert "| ~ | `KEY_0` | `\"old \\| value\"` | ``" in api  # a pipe cannot break the table
    assert "\\nline 2" in api and "\nline 2" not in api  # nor a newline
    assert "| ~ | `TOKEN` | (sensitive) | (sensitive) | value differs |" in api
    assert "deploy 3 files, 2.0 KiB, hash `bbbbbbbbbbbb` (was: active deployment `dep-old`, hash `aaaaaaaaaaaa`)" in api
    assert "Unmanaged" in text and "`legacy`" in text
    assert SECRET not in text and "/tmp/x.tar.gz" not in text


def test_every_change_of_the_json_document_is_shown() -> None:
    plan = Plan(changes=tuple(c for fid in ("a", "b", "c") for c in function_changes(fid, variables=2)))
    document = plan_to_json(plan)
    text = plan_markdown(document)
    for change in document["changes"]:
        section = next(s for s in text.split("<details>") if f"<code>~ {change['function_id']}</code>" in s)
        if change["kind"] == "variable":
            assert f"`{change['key']}`" in section
        elif change["kind"] == "function":
            assert all(f"`{name}`" in section for name in change["changed_fields"])
        else:
            assert "**Code:** deploy" in section


def test_no_changes() -> None:
    text = plan_markdown(plan_to_json(Plan()))
    assert "**No changes.** The server matches the manifest." in text and "<details>" not in text


def test_a_plan_too_long_for_github_is_cut_at_whole_sections_with_a_note() -> None:
    plan = Plan(changes=tuple(c for i in range(400) for c in function_changes(f"function-{i:03}", variables=3)))
    document = plan_to_json(plan)
    whole = plan_markdown(document)
    assert len(whole) > COMMENT_LIMITS["github"]  # the premise: this plan does not fit

    limit = COMMENT_LIMITS["github"]
    cut = plan_markdown(document, limit=limit, host="github")

    assert len(cut) <= limit
    assert cut.count("<details>") == cut.count("</details>") > 0  # only whole sections
    shown = cut.count("<details>")
    note = re.search(r"> \*\*Cut to fit GitHub's 65,536-character limit:\*\* (\d+) of 400 functions are not shown: (.*)", cut)
    assert note is not None, cut[-500:]
    assert int(note.group(1)) == 400 - shown
    assert note.group(2).startswith(f"`function-{shown:03}`")  # the first one left out is named first
    assert "Run `fnsync plan`" in cut
    assert cut.startswith(whole[: len(whole.split("<details>")[0])])  # the summary line is kept
    assert plan_markdown(document, limit=len(whole)) == whole  # fits: nothing cut, no note


def test_gitlab_limit_fits_what_github_cannot() -> None:
    plan = Plan(changes=tuple(c for i in range(120) for c in function_changes(f"f{i}", variables=3)))
    document = plan_to_json(plan)
    assert "Cut to fit" in plan_markdown(document, limit=COMMENT_LIMITS["github"], host="github")
    assert "Cut to fit" not in plan_markdown(document, limit=COMMENT_LIMITS["gitlab"], host="gitlab")


def test_cell_escapes_backticks_and_pipes() -> None:
    assert cell("a`b") == '`` "a`b" ``'
    assert cell("x|y") == '`"x\\|y"`'
    assert cell(True) == "`true`" and cell(["any"]) == '`["any"]`'


def test_when_no_section_fits_only_the_summary_and_the_note_remain() -> None:
    document = plan_to_json(Plan(changes=tuple(function_changes("only-one", variables=50))))
    cut = plan_markdown(document, limit=1000, host="gitlab")
    assert len(cut) <= 1000 and "<details>" not in cut
    assert "**Plan: 0 to create, 1 to update" in cut
    assert "Cut to fit GitLab's 1,000-character limit:** 1 of 1 functions are not shown: `only-one`" in cut
    assert len(plan_markdown(document, limit=40)) <= 40  # not even the head fits: a hard cut, still within


def test_cut_text_ends_at_a_line_with_a_note() -> None:
    from syncer.render_markdown import cut_text

    text = "".join(f"functions.yaml:{n}: functions.f{n}.timout: unknown key\n" for n in range(5000))
    cut = cut_text(text, 65_000)
    assert len(cut) <= 65_000 and cut.endswith("> **Cut to fit the 65,000-character limit.**\n")
    assert cut.split("\n\n> **Cut")[0].endswith("unknown key")  # whole lines only
    assert cut_text("short\n", 100) == "short\n"
