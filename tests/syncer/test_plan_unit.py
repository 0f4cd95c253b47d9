"""compute_plan is pure: these tests build manifests and server states by hand, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest

from syncer.client.models import Function, Specification
from syncer.manifest.models import FunctionSpec, GitSettings, Manifest, PruneSettings, VariableValue
from syncer.state import OLDEST_CAPABILITIES
from syncer.plan import Action, ChangeKind, PlanError, PlanOptions, compute_plan, desired_settings
from syncer.render import masked
from syncer.secret_digests import RECORD_KEY
from syncer.state import ActiveCode, RemoteFunction, ServerState

HASH_A = "a" * 64
HASH_B = "b" * 64


@dataclass
class Code:
    code_hash: str = HASH_A
    file_count: int = 2
    size: int = 321
    archive: Path = Path("/tmp/code.tar.gz")


def spec(fid: str = "api", **overrides: Any) -> FunctionSpec:
    data: dict[str, Any] = {
        "id": fid,
        "name": fid.upper(),
        "runtime": "python-3.12",
        "path": Path(f"/src/{fid}"),
        "entrypoint": "main.py",
        "execute": ("any",),
        "variables": {"MODE": VariableValue(value="prod")},
    }
    data.update(overrides)
    return FunctionSpec(**data)


def manifest(*specs: FunctionSpec, keep: tuple[str, ...] = ()) -> Manifest:
    return Manifest(source=Path("/src/functions.yaml"), functions={s.id: s for s in specs}, prune=PruneSettings(keep=keep))


def remote(s: FunctionSpec, *, code_hash: str | None = HASH_A, live: bool = True, deployment: str = "d1", **fields: Any) -> RemoteFunction:
    """A server function that matches `s` exactly, then `fields` (API names) on top."""
    settings = {"specification": "s-1vcpu-512mb", **desired_settings(s, OLDEST_CAPABILITIES)}
    data: dict[str, Any] = {"$id": s.id, **settings, "live": live, "deployment": deployment}
    data["vars"] = [{"$id": f"v-{k}", "key": k, "value": v.value} for k, v in s.variables.items()]
    data.update(fields)
    active = ActiveCode(deployment_id=deployment, code_hash=code_hash, source="header") if deployment else None
    return RemoteFunction(function=Function.model_validate(data), active=active)


def state(*remotes: RemoteFunction) -> ServerState:
    specs = (Specification(slug="s-0.5vcpu-512mb"), Specification(slug="s-1vcpu-512mb"), Specification(slug="s-2vcpu-2gb"))
    return ServerState(functions={r.function.id: r for r in remotes}, specifications=specs)


def actions(plan: Any) -> list[tuple[str, str]]:
    return [(c.address, c.action.value) for c in plan.changes]


def test_create_from_scratch_orders_function_variables_code() -> None:
    s = spec()
    plan = compute_plan(manifest(s), state(), code={"api": Code()})
    assert actions(plan) == [
        ("function.api", "create"),
        ("function.api.variable.MODE", "create"),
        ("function.api.code", "deploy"),
    ]
    create = plan.changes[0]
    assert create.after is not None and "specification" not in create.after  # unset: the server's default applies
    assert plan.changes[2].after is not None and plan.changes[2].after["code_hash"] == HASH_A
    assert plan.has_changes


def test_identical_state_is_a_noop() -> None:
    s = spec()
    plan = compute_plan(manifest(s), state(remote(s)), code={"api": Code()})
    assert plan.changes == ()
    assert not plan.has_changes
    assert plan.unmanaged == ()


def test_setting_change_alone_updates_with_the_full_config() -> None:
    s = spec(timeout=30)
    plan = compute_plan(manifest(s), state(remote(s, timeout=15)), code={"api": Code()})
    assert actions(plan) == [("function.api", "update")]
    change = plan.changes[0]
    assert change.changed_fields() == ["timeout"]
    assert change.after is not None and set(change.after) >= {"execute", "scopes", "specification", "schedule"}
    assert change.before is not None and change.before["timeout"] == 15 and change.after["timeout"] == 30


def test_rename_marks_not_live_so_the_active_deployment_is_rebuilt() -> None:
    s = spec(name="New name")
    plan = compute_plan(manifest(s), state(remote(s, name="Old")), code={"api": Code()})
    assert actions(plan) == [("function.api", "update"), ("function.api.code", "rebuild")]


@pytest.mark.parametrize(
    ("server_fields", "expect_change"),
    [
        ({"execute": ["users", "any"]}, False),  # order carries no meaning
        ({"execute": ["users"]}, True),
        ({"specification": "s-2vcpu-2gb"}, False),  # unset in the manifest = keep the server's
        ({"entrypoint": "other.py"}, False),  # manifest entrypoint empty = keep the server's (below)
    ],
)
def test_setting_normalisation(server_fields: dict[str, Any], expect_change: bool) -> None:
    s = spec(execute=("any", "users"), entrypoint="") if "entrypoint" in server_fields else spec(execute=("any", "users"))
    plan = compute_plan(manifest(s), state(remote(s, **server_fields)), code={"api": Code()})
    assert plan.has_changes is expect_change


def test_a_specification_set_in_the_manifest_is_sent_on_create_and_update() -> None:
    s = spec(specification="s-0.5vcpu-512mb")
    plan = compute_plan(manifest(s), state(), code={"api": Code()})
    assert plan.changes[0].after is not None and plan.changes[0].after["specification"] == "s-0.5vcpu-512mb"
    plan = compute_plan(manifest(s), state(remote(s, specification="s-2vcpu-2gb")), code={"api": Code()})
    assert plan.changes[0].changed_fields() == ["specification"]


def test_variable_value_change_alone_updates_the_key_and_rebuilds() -> None:
    s = spec(variables={"MODE": VariableValue(value="prod"), "LEVEL": VariableValue(value="2")})
    server = remote(s, vars=[{"$id": "v1", "key": "MODE", "value": "dev"}, {"$id": "v2", "key": "LEVEL", "value": "2"}])
    plan = compute_plan(manifest(s), state(server), code={"api": Code()})
    assert actions(plan) == [("function.api.variable.MODE", "update"), ("function.api.code", "rebuild")]
    var = plan.changes[0]
    assert var.kind is ChangeKind.VARIABLE and var.key == "MODE"
    assert var.before == {"id": "v1", "value": "dev", "sensitive": False}  # 1.6, no record, nothing sensitive: plain
    assert var.after == {"value": "prod", "sensitive": False}


def test_variable_added_and_removed_per_key() -> None:
    s = spec(variables={"NEW": VariableValue(value="x")})
    server = remote(s, vars=[{"$id": "v9", "key": "OLD", "value": "secret-ish"}])
    plan = compute_plan(manifest(s), state(server), code={"api": Code()})
    assert actions(plan) == [
        ("function.api.variable.NEW", "create"),
        ("function.api.variable.OLD", "delete"),
        ("function.api.code", "rebuild"),
    ]
    removed = plan.changes[1]
    assert removed.before is not None and removed.before["sensitive"] is None  # never shown: may be a secret


def test_the_old_side_is_labelled_with_what_the_old_value_was() -> None:
    """Never with the manifest's new sensitivity: 1.6 cannot know (None, hidden), the server's `secret` flag can."""
    s = spec(variables={"TOKEN": VariableValue(value="new-secret", sensitive=True)})
    server = remote(s, vars=[{"$id": "v1", "key": "TOKEN", "value": "old-secret"}])
    change = compute_plan(manifest(s), state(server), code={"api": Code()}).changes[0]
    assert change.before is not None and change.before["sensitive"] is None
    assert change.after is not None and change.after["sensitive"] is True
    assert masked(change.before) == {"id": "v1", "value": None, "sensitive": None}


SENSITIVE_RECORD = '{"fnsync":1,"sensitive":["TOKEN"]}'


def test_on_1_6_the_record_lists_the_keys_applied_as_sensitive() -> None:
    """No secret variables (1.6): the record holds key names only (no salt, no digests), after the variables."""
    s = spec(variables={"TOKEN": VariableValue(value="tok", sensitive=True), "MODE": VariableValue(value="prod")})
    created = compute_plan(manifest(s), state(remote(s, vars=[])), code={"api": Code()})
    record = [c for c in created.changes if c.key == RECORD_KEY]
    assert [c.key for c in created.changes if c.kind is ChangeKind.VARIABLE][-1] == RECORD_KEY  # written last
    assert record[0].action is Action.CREATE and record[0].after == {"value": SENSITIVE_RECORD, "sensitive": False}
    recorded = [{"$id": f"v-{k}", "key": k, "value": v.value} for k, v in s.variables.items()]
    recorded.append({"$id": "r", "key": RECORD_KEY, "value": SENSITIVE_RECORD})
    assert compute_plan(manifest(s), state(remote(s, vars=recorded)), code={"api": Code()}).changes == ()  # converged
    # no record and nothing else to write (imported, or applied by an older fnsync): it waits for the next write
    assert compute_plan(manifest(s), state(remote(s)), code={"api": Code()}).changes == ()
    plain = spec(variables={"TOKEN": VariableValue(value="tok"), "MODE": VariableValue(value="prod")})
    removed = compute_plan(manifest(plain), state(remote(s, vars=recorded)), code={"api": Code()})
    assert [(c.key, c.action.value, c.reason) for c in removed.changes if c.key == RECORD_KEY] == [
        (RECORD_KEY, "delete", "no sensitive variables left")
    ]


@pytest.mark.parametrize(
    ("wanted", "record", "old", "expected"),
    [
        ({"MODE": ("prod", False)}, None, "dev", False),  # fnsync never applied anything sensitive here: shown
        ({"MODE": ("prod", False), "TOKEN": ("t", True)}, SENSITIVE_RECORD, "dev", False),  # recorded as plain
        ({"TOKEN": ("now-plain", False)}, SENSITIVE_RECORD, "old-tok", True),  # recorded as sensitive: hidden
        ({"TOKEN": ("new-tok", True)}, None, "old-tok", None),  # no record (older fnsync?) and sensitive now: unknown
        ({"MODE": ("prod", False), "TOKEN": ("t", True)}, None, "dev", None),  # no record yet, function has secrets
        ({"MODE": ("prod", False), "TOKEN": ("dev-tok", True)}, SENSITIVE_RECORD, "dev-tok", True),  # a secret value
    ],
)
def test_on_1_6_the_old_value_is_labelled_from_the_record(
    wanted: dict[str, tuple[str, bool]], record: str | None, old: str, expected: bool | None
) -> None:
    key = next(iter(wanted))
    s = spec(variables={k: VariableValue(value=v, sensitive=sens) for k, (v, sens) in wanted.items()})
    server_vars = [{"$id": f"v-{k}", "key": k, "value": v} for k, (v, _) in wanted.items() if k != key]
    server_vars.append({"$id": "v1", "key": key, "value": old})
    if record is not None:
        server_vars.append({"$id": "r", "key": RECORD_KEY, "value": record})
    change = next(c for c in compute_plan(manifest(s), state(remote(s, vars=server_vars)), code={"api": Code()}).changes if c.key == key)
    assert change.before is not None and change.before["sensitive"] is expected
    assert (masked(change.before) or {})["value"] == (old if expected is False else None)


def test_code_change_alone_deploys_without_rebuild() -> None:
    s = spec()
    plan = compute_plan(manifest(s), state(remote(s, code_hash=HASH_B)), code={"api": Code(code_hash=HASH_A)})
    assert actions(plan) == [("function.api.code", "deploy")]
    change = plan.changes[0]
    assert change.before is not None and change.before["code_hash"] == HASH_B
    assert change.after is not None and (change.after["file_count"], change.after["size"]) == (2, 321)


def test_hand_activated_other_deployment_is_drift() -> None:
    s = spec()
    server = remote(s, deployment="old-deployment", code_hash=HASH_B)
    plan = compute_plan(manifest(s), state(server), code={"api": Code(code_hash=HASH_A)})
    assert actions(plan) == [("function.api.code", "deploy")]
    assert plan.changes[0].before is not None and plan.changes[0].before["deployment"] == "old-deployment"


def test_unknown_active_hash_and_missing_deployment_deploy() -> None:
    s = spec()
    unknown = compute_plan(manifest(s), state(remote(s, code_hash=None)), code={"api": Code()})
    assert actions(unknown) == [("function.api.code", "deploy")]
    none = compute_plan(manifest(s), state(remote(s, deployment="")), code={"api": Code()})
    assert actions(none) == [("function.api.code", "deploy")]


def test_not_live_alone_rebuilds_the_active_deployment() -> None:
    s = spec()
    plan = compute_plan(manifest(s), state(remote(s, live=False)), code={"api": Code()})
    assert actions(plan) == [("function.api.code", "rebuild")]
    assert plan.changes[0].after == {"deployment": "d1", "activate": True}


def test_not_live_without_deployment_needs_no_rebuild() -> None:
    s = spec(path=None)
    plan = compute_plan(manifest(s), state(remote(s, live=False, deployment="")))
    assert plan.changes == ()


def test_settings_only_function_never_deploys() -> None:
    s = spec(path=None)
    plan = compute_plan(manifest(s), state(remote(s, code_hash=None)))
    assert plan.changes == ()


def test_unmanaged_listed_and_never_deleted_without_prune() -> None:
    s = spec()
    other = remote(spec("legacy"))
    plan = compute_plan(manifest(s), state(remote(s), other), code={"api": Code()})
    assert plan.unmanaged == ("legacy",)
    assert plan.changes == ()


def test_prune_deletes_unmanaged_but_keeps_globs() -> None:
    s = spec()
    plan = compute_plan(
        manifest(s, keep=("keep-*",)),
        state(remote(s), remote(spec("legacy")), remote(spec("keep-me"))),
        PlanOptions(prune=True),
        code={"api": Code()},
    )
    assert actions(plan) == [("function.legacy", "delete")]
    assert plan.unmanaged == ()  # prune.keep: managed elsewhere on purpose, not listed


def test_prune_refused_for_an_empty_manifest() -> None:
    with pytest.raises(PlanError, match="no functions"):
        compute_plan(manifest(), state(remote(spec("legacy"))), PlanOptions(prune=True))


def test_targets_limit_the_plan() -> None:
    a, b = spec("a", timeout=20), spec("b", timeout=20)
    plan = compute_plan(manifest(a, b), state(remote(a, timeout=1), remote(b, timeout=1)), PlanOptions(targets=("b",)))
    assert [c.function_id for c in plan.changes] == ["b"]


def test_unknown_target_is_an_error() -> None:
    with pytest.raises(PlanError, match="nope"):
        compute_plan(manifest(spec()), state(), PlanOptions(targets=("nope",)))


def test_git_settings_map_to_provider_fields() -> None:
    s = spec(git=GitSettings(installation_id="i1", repository_id="r1", branch="main", root_directory="fn", silent_mode=True))
    after = compute_plan(manifest(s), state(), code={"api": Code()}).changes[0].after
    assert after is not None
    assert (after["installationId"], after["providerRepositoryId"], after["providerBranch"]) == ("i1", "r1", "main")
    assert (after["providerRootDirectory"], after["providerSilentMode"]) == ("fn", True)


def test_fingerprint_follows_server_changes_without_exposing_values() -> None:
    s = spec(variables={"TOKEN": VariableValue(value="hunter2", sensitive=True)})
    one = state(remote(s))
    two = state(remote(s, vars=[{"$id": "v1", "key": "TOKEN", "value": "changed"}]))
    assert one.fingerprint() != two.fingerprint()
    assert one.fingerprint() == state(remote(s)).fingerprint()
    assert "hunter2" not in repr(one.function_digests())


def test_plan_and_changes_are_frozen() -> None:
    plan = compute_plan(manifest(spec()), state(), code={"api": Code()})
    with pytest.raises(pydantic.ValidationError):
        plan.changes[0].action = Action.DELETE  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        plan.unmanaged = ("x",)  # type: ignore[misc]


VCS = {
    "installationId": "inst1",
    "providerRepositoryId": "repo-9",
    "providerBranch": "main",
    "providerRootDirectory": "functions/api",
    "providerSilentMode": True,
}


def test_no_git_block_leaves_the_servers_vcs_connection_alone() -> None:
    s = spec()  # no `git:` in the manifest
    plan = compute_plan(manifest(s), state(remote(s, **VCS)), code={"api": Code()})
    assert plan.changes == ()


def test_a_settings_update_without_git_block_sends_the_vcs_connection_back() -> None:
    s = spec(timeout=30)
    plan = compute_plan(manifest(s), state(remote(s, timeout=15, **VCS)), code={"api": Code()})
    assert actions(plan) == [("function.api", "update")]
    after = plan.changes[0].after
    assert after is not None and {k: after[k] for k in VCS} == VCS


def test_an_empty_git_block_disconnects() -> None:
    s = spec(git=GitSettings())
    plan = compute_plan(manifest(s), state(remote(s, **VCS)), code={"api": Code()})
    # Changing providerRootDirectory makes Appwrite mark the function not live, hence the rebuild.
    assert actions(plan) == [("function.api", "update"), ("function.api.code", "rebuild")]
    change = plan.changes[0]
    assert change.after is not None and change.after["providerRepositoryId"] == ""
    assert "providerRepositoryId" in change.changed_fields()


@pytest.mark.parametrize(("files", "expected"), [(1, "deploy 1 file, "), (3, "deploy 3 files, ")])
def test_the_code_line_counts_files_in_words(files: int, expected: str) -> None:
    from syncer.plan import Change
    from syncer.render import _code_line

    change = Change(kind=ChangeKind.CODE, address="function.f.code", action=Action.DEPLOY, before=None,
                    after={"file_count": files, "size": 479, "code_hash": "a" * 64}, reason="", function_id="f")
    assert expected in _code_line(change).plain
