"""read state -> plan -> apply against the real local server, through `reconcile` (the path every command uses)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from syncer.apply import make_plan, reconcile
from syncer.client import AppwriteClient
from syncer.manifest import ManifestError, load_manifest
from syncer.packaging import package_function
from syncer.plan import Action, PlanError, PlanOptions
from syncer.state import read_state
from tests.conftest import LocalServer
from tests.syncer.support import Project, addresses, open_client, plan_of

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "project")


@pytest.fixture
async def client(local_server: LocalServer) -> AsyncIterator[AppwriteClient]:
    async with open_client(local_server) as c:
        yield c


async def test_create_from_scratch(project: Project, client: AppwriteClient) -> None:
    project.add("api", execute=["any"], timeout=20, variables={"MODE": "prod", "LEVEL": "3"})
    project.add("cron", schedule="*/5 * * * *")
    manifest = project.load()

    result = await reconcile(manifest, client)

    assert result.ok, result
    fn = await client.get_function("api")
    assert fn is not None and fn.live and fn.deployment
    assert (fn.timeout, fn.execute) == (20, ("any",))  # the specification is the server's default (unset)
    assert {v.key: v.value for v in fn.vars} == {"MODE": "prod", "LEVEL": "3"}
    state = await read_state(client, manifest)
    local = package_function(manifest.functions["api"], project.root / "out", root=manifest.root)
    assert state.functions["api"].active is not None and state.functions["api"].active.code_hash == local.code_hash
    cron = await client.get_function("cron")
    assert cron is not None and cron.schedule == "*/5 * * * *"


async def test_second_apply_makes_zero_writes(project: Project, client: AppwriteClient) -> None:
    project.add("api", variables={"A": "1", "B": "2"})
    project.add("settings-only", path=None, entrypoint="")
    manifest = project.load()
    first = await reconcile(manifest, client)
    assert first.ok and first.writes > 0

    writes_before = client.stats.writes
    second = await reconcile(manifest, client)

    assert second.ok and not second.plan.has_changes
    assert second.writes == 0 and client.stats.writes == writes_before
    assert second.functions == ()


CHANGES: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("timeout", lambda p: p.functions["api"].update(timeout=40), [("function.api", "update")]),
    ("rename", lambda p: p.functions["api"].update(name="Renamed"), [("function.api", "update"), ("function.api.code", "rebuild")]),
    (
        "variable value",
        lambda p: p.functions["api"]["variables"].update(MODE="dev"),
        [("function.api.variable.MODE", "update"), ("function.api.code", "rebuild")],
    ),
    (
        "variable removed",
        lambda p: p.functions["api"]["variables"].pop("MODE"),
        [("function.api.variable.MODE", "delete"), ("function.api.code", "rebuild")],
    ),
    ("code", lambda p: p.code("api", 2), [("function.api.code", "deploy")]),
    ("commands", lambda p: p.functions["api"].update(commands="echo hi"), [("function.api", "update"), ("function.api.code", "deploy")]),
    ("new function", lambda p: p.add("extra"), [("function.extra", "create"), ("function.extra.code", "deploy")]),
]


@pytest.mark.parametrize(("label", "edit", "expected"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_each_change_alone_shows_exactly_that_and_converges(
    project: Project, client: AppwriteClient, label: str, edit: Any, expected: list[tuple[str, str]]
) -> None:
    project.add("api", variables={"MODE": "prod"})
    project.add("other", path=None, entrypoint="", variables={"K": "v"})  # must stay out of every plan below
    assert (await reconcile(project.load(), client)).ok

    edit(project)
    manifest = project.load()
    plan = await plan_of(manifest, client)
    assert addresses(plan) == expected

    result = await reconcile(manifest, client)
    assert result.ok, result
    assert not (await plan_of(manifest, client)).has_changes
    fn = await client.get_function("api")
    assert fn is not None and fn.live


async def test_hand_activated_old_deployment_is_drift(project: Project, client: AppwriteClient) -> None:
    project.add("api")
    assert (await reconcile(project.load(), client)).ok
    old = (await client.get_function("api")).deployment  # type: ignore[union-attr]
    project.code("api", 2)
    manifest = project.load()
    assert (await reconcile(manifest, client)).ok
    new = (await client.get_function("api")).deployment  # type: ignore[union-attr]
    assert new != old

    await client.activate_deployment("api", old)  # someone rolls back by hand
    plan = await plan_of(manifest, client)
    assert addresses(plan) == [("function.api.code", "deploy")]
    assert plan.changes[0].before is not None and plan.changes[0].before["deployment"] == old

    count = len(await client.list_deployments("api"))
    result = await reconcile(manifest, client)
    assert result.ok
    assert (await client.get_function("api")).deployment == new  # type: ignore[union-attr]
    assert len(await client.list_deployments("api")) == count  # the deployment with this code was re-activated, not re-uploaded


async def test_not_live_alone_rebuilds_and_converges(project: Project, client: AppwriteClient) -> None:
    project.add("api", variables={"MODE": "prod"})
    manifest = project.load()
    assert (await reconcile(manifest, client)).ok
    var = (await client.list_variables("api"))[0]
    await client.update_variable("api", var.id, "MODE", "prod")  # same value: only `live` flips to false
    fn = await client.get_function("api")
    assert fn is not None and not fn.live

    plan = await plan_of(manifest, client)
    assert addresses(plan) == [("function.api.code", "rebuild")]
    result = await reconcile(manifest, client)
    assert result.ok
    fn = await client.get_function("api")
    assert fn is not None and fn.live and fn.deployment != plan.changes[0].after["deployment"]  # type: ignore[index]
    assert not (await plan_of(manifest, client)).has_changes


async def test_prune_deletes_only_unkept_unmanaged(project: Project, client: AppwriteClient) -> None:
    for fid in ("legacy-a", "stray"):
        await client.create_function(fid, {"name": fid, "runtime": "python-3.12"})
    project.add("api")
    project.keep = ["legacy-*"]
    manifest = project.load()

    plan = await plan_of(manifest, client)
    assert set(plan.unmanaged) == {"stray"}  # legacy-a is protected by prune.keep: not listed
    assert all(c.action is not Action.DELETE for c in plan.changes)

    result = await reconcile(manifest, client, prune=True)
    assert result.ok
    assert {f.id for f in await client.list_functions()} == {"api", "legacy-a"}


async def test_prune_refused_when_the_manifest_is_empty(project: Project, client: AppwriteClient) -> None:
    await client.create_function("stray", {"name": "stray", "runtime": "python-3.12"})
    project.path.parent.mkdir(parents=True, exist_ok=True)
    project.path.write_text("version: 1\nfunctions: {}\n")
    manifest = load_manifest(project.path, environ={})
    with pytest.raises(PlanError, match="no functions"):
        await reconcile(manifest, client, prune=True)
    assert client.stats.writes == 1  # only the create above
    assert [f.id for f in await client.list_functions()] == ["stray"]


async def test_failed_build_is_reported_with_its_log_and_others_continue(project: Project, client: AppwriteClient) -> None:
    project.add("good")
    project.add("bad", commands="echo compiling-stuff && exit 3")
    result = await reconcile(project.load(), client)

    assert not result.ok
    assert result.failed == ["bad"]
    bad = next(fr for fr in result.functions if fr.function_id == "bad")
    assert bad.build_logs and "compiling-stuff" in bad.build_logs
    assert [o.status for o in bad.outcomes] == ["done", "failed"]  # created, then the deploy failed
    good = await client.get_function("good")
    assert good is not None and good.deployment


async def test_server_checks_run_before_any_write(project: Project, client: AppwriteClient) -> None:
    project.add("api", specification="s-64vcpu-1tb")
    with pytest.raises(ManifestError, match="specification"):
        await reconcile(project.load(), client)
    assert client.stats.writes == 0


async def test_function_created_elsewhere_after_planning_is_updated_not_duplicated(project: Project, client: AppwriteClient) -> None:
    from syncer.apply import apply_plan

    project.add("api", timeout=33)
    manifest = project.load()
    with tempfile.TemporaryDirectory() as tmp:
        plan, _, _ = await make_plan(manifest, client, PlanOptions(), work_dir=Path(tmp))
        await client.create_function("api", {"name": "someone else", "runtime": "python-3.12"})
        result = await apply_plan(plan, manifest, client)
    assert result.ok
    fn = await client.get_function("api")
    assert fn is not None and (fn.name, fn.timeout) == ("Api", 33)


async def test_an_unexpected_error_fails_only_its_function_and_says_what_was_done(project: Project, client: AppwriteClient) -> None:
    """A malformed change (here a deploy without its code hash, as a hand-edited plan file could hold) must not
    crash the apply and lose the record of what was already written, for this function or the others."""
    from syncer.apply import apply_plan

    project.add("api", variables={"MODE": "prod"})
    project.add("cron", timeout=20)
    manifest = project.load()
    plan = await plan_of(manifest, client)
    broken = tuple(
        c.model_copy(update={"after": {k: v for k, v in (c.after or {}).items() if k != "code_hash"}})
        if c.function_id == "api" and c.action is Action.DEPLOY
        else c
        for c in plan.changes
    )
    result = await apply_plan(plan.model_copy(update={"changes": broken}), manifest, client)

    assert result.failed == ["api"]
    api = next(fr for fr in result.functions if fr.function_id == "api")
    assert api.error is not None and "unexpected KeyError" in api.error
    assert [(o.action, o.status) for o in api.outcomes if o.kind == "function"] == [("create", "done")]
    assert any(o.action == "deploy" and o.status == "failed" for o in api.outcomes)
    assert await client.get_function("cron") is not None and await client.get_function("api") is not None
