"""The pieces of a pull request's plan, without HTTP: when a PR is planned, what a fork may not show, the status
text, and the comment fitting its host's limit."""

from __future__ import annotations

from typing import Any

from syncer.render import MASK
from webhook import prplan
from webhook.events import classify
from webhook.reporting import COMMENT_MARKER, FunctionReport, context, render_comment
from webhook.signatures import Provider
from tests.webhook.support import gitlab_mr_payload, pull_request_payload

SHA = "a" * 40


def document(changes: int = 2, functions: int = 1) -> dict[str, Any]:
    items = []
    for number in range(functions):
        fid = f"fn-{number:03d}"
        items.append({"kind": "variable", "function_id": fid, "address": f"variable.{fid}.K", "key": "K", "action": "update",
                      "before": {"value": "old", "sensitive": False}, "after": {"value": "new", "sensitive": False}, "reason": "value differs"})
        if changes > 1:
            items.append({"kind": "code", "function_id": fid, "address": f"code.{fid}", "action": "deploy", "before": {},
                          "after": {"code_hash": "b" * 64, "file_count": 1, "size": 10}, "reason": ""})
    summary = {"create": 0, "update": 0, "delete": 0, "variables": functions, "deploy": functions if changes > 1 else 0, "rebuild": 0}
    return {"format_version": 1, "kind": "plan", "has_changes": True, "summary": summary, "changes": items, "unmanaged": []}


def test_a_pull_request_is_planned_when_it_touches_the_manifest_its_env_files_or_a_planned_folder() -> None:
    files = prplan.manifest_files("deploy/functions.yaml", "prod")
    assert files == ["deploy/functions.yaml", "deploy/.env", "deploy/.env.prod"]
    folders = [["fns/a"], ["fns/b", "shared/*.js"]]
    assert prplan.concerns_plan(("deploy/functions.yaml",), files, folders)
    assert prplan.concerns_plan(("deploy/.env.prod",), files, folders)
    assert prplan.concerns_plan(("fns/b/index.js",), files, folders)
    assert prplan.concerns_plan(("shared/util.js",), files, folders)
    assert prplan.concerns_plan(None, files, folders)  # the diff is unknown (GitLab names no base commit)
    assert not prplan.concerns_plan(("README.md", "deploy/.env.staging", "fns/c/index.js"), files, folders)


def test_a_fork_plan_masks_every_value_read_from_the_receiver_environment() -> None:
    text = "functions:\n  a:\n    name: api ${LABEL}\n    timeout: ${WAIT:-15}\n    variables:\n      K: ${MISSING:-x}\n      $${LITERAL}\n"
    hidden = prplan.environment_values(text, {"LABEL": "s3cret-label", "WAIT": "30", "UNUSED": "other", "MISSING": ""})
    assert hidden == {"s3cret-label", "30"}
    data = {"name": "api s3cret-label", "timeout": 30, "nested": [{"v": "s3cret-label!"}, "kept", 31, True]}
    assert prplan.mask(data, frozenset(hidden)) == {"name": MASK, "timeout": MASK, "nested": [{"v": MASK}, "kept", 31, True]}


def test_fork_flag_comes_from_the_payload() -> None:
    def job(provider: Provider, event: str, payload: dict[str, Any]) -> Any:
        return classify(provider, event, payload, lambda url: True, allow_forks=True)

    ours = pull_request_payload(repo_id=1, clone_url="file:///r.git", number=1, base="main", base_sha=SHA, head_sha="b" * 40)
    theirs = pull_request_payload(repo_id=1, clone_url="file:///r.git", number=1, base="main", base_sha=SHA, head_sha="b" * 40, fork=True)
    assert not job(Provider.GITHUB, "pull_request", ours).fork and job(Provider.GITHUB, "pull_request", theirs).fork
    mr = gitlab_mr_payload(project_id=7, clone_url="file:///r.git", iid=2, target="main", source="f", head="c" * 40)
    assert not job(Provider.GITLAB, "Merge Request Hook", mr).fork
    mr["object_attributes"]["source_project_id"] = 8
    assert job(Provider.GITLAB, "Merge Request Hook", mr).fork


def test_the_status_says_how_many_changes_or_the_first_problem() -> None:
    ok = prplan.PlanSection("t", document=document()).status()
    assert (ok.state, context(ok)) == ("success", "fnsync/plan")
    assert ok.description == "2 to change (0 to create, 0 to update, 0 to delete; 1 variable change; 1 to deploy, 0 to rebuild)"
    empty = {**document(), "changes": [], "has_changes": False}
    assert prplan.PlanSection("t", document=empty).status().description == "no changes: the server matches the manifest"
    bad = prplan.failed("t", "functions.yaml:5: functions.a.timeout: must be a whole number\nfunctions.yaml:9: x: y", {"tok"})
    assert bad.failed and bad.status().state == "failure"
    assert bad.status().description == "functions.yaml:5: functions.a.timeout: must be a whole number"
    skipped = prplan.PlanSection("t", skipped="nothing changed")
    assert not skipped.failed and skipped.status().state == "success" and "Nothing to plan" in skipped.markdown()


def test_secrets_never_reach_the_section() -> None:
    bad = prplan.failed("t", "cannot fetch with ghs_secret_token", {"ghs_secret_token"})
    assert "ghs_secret_token" not in bad.problems and "ghs_secret_token" not in bad.markdown()
    section = prplan.PlanSection("t", document={**document(), "changes": [{**document()["changes"][0], "reason": "tok3n!"}]},
                                 secrets=frozenset({"tok3n!"}))
    assert "tok3n!" not in section.markdown()


def test_the_comment_fits_the_host_limit_with_the_plan_cut_first() -> None:
    rows = [FunctionReport(f"fn-{n:03d}", "success", "deployed", f"dep{n}") for n in range(3)]
    section = prplan.PlanSection("fnsync plan", document=document(functions=400))
    whole = render_comment(SHA, rows, section)
    assert len(whole) > 65_536
    fitted = render_comment(SHA, rows, section, limit=65_536, host="github")
    assert len(fitted) <= 65_536 and fitted.startswith(COMMENT_MARKER)
    assert "Cut to fit GitHub's" in fitted and "| `fn-002` | ✅ success | dep2 | deployed |" in fitted  # the previews stay whole
    assert fitted.index("fnsync plan") < fitted.index("Preview deployments")
    assert render_comment(SHA, rows) == render_comment(SHA, rows, None, limit=10)  # no plan: as before
