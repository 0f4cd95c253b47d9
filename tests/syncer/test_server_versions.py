"""fnsync end to end against the local server as each Appwrite it supports: 1.6.2, 1.8.1, 1.9.6 and Cloud 2.5.0.

What users need on every version: a first apply converges, `plan --detailed-exitcode` then exits 0, a second
apply writes nothing (counted at the wire, through the fault proxy), and settings changed by hand in the console
(retention, runtime specification, silent mode, branches, paths …) survive an apply that changes something else.
Plus: nothing sent to a 1.7+ server uses the 1.6 format, a removed query attribute or a keyed public route; a
manifest key the server lacks is a plan error; the creation limit defers creates without sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncer.client import Capabilities, ServerVersion
from tests.conftest import LocalServer
from tests.faultproxy import FaultProxy, ProxyEvent
from tests.syncer.support import Project, fnsync, running_server, server_env

pytestmark = pytest.mark.slow

ALL_VERSIONS = ("1.6.2", "1.8.1", "1.9.6", "2.5.0")
REMOVED_QUERY_ATTRIBUTES = frozenset({"size", "buildId", "entrypoint", "commands", "$internalId"})


def capabilities(version: str) -> Capabilities:
    return Capabilities.negotiate(ServerVersion.parse(version))


@pytest.fixture(params=ALL_VERSIONS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalServer]:
    with running_server(tmp_path / "server", appwrite_version=request.param) as running:
        yield running


def version_of(server: LocalServer) -> str:
    return server.config.appwrite_version


def make_project(root: Path, functions: int, variables: int, sensitive: int) -> tuple[Project, dict[str, str]]:
    """`functions` functions with `variables` variables each, the first `sensitive` from the environment."""
    project = Project(root)
    environ: dict[str, str] = {}
    for index in range(functions):
        fid = f"fn-{index:03d}"
        values: dict[str, str] = {}
        for number in range(variables):
            key = f"VAR_{number:02d}"
            if number < sensitive:
                name = f"SECRET_{index}_{number}"
                environ[name] = f"s3cret-{index}-{number}"
                values[key] = "${" + name + "}"
            else:
                values[key] = f"value-{number}"
        project.add(fid, variables=values, execute=["any"])
    project.write()
    return project, environ


def writes(events: list[ProxyEvent]) -> list[str]:
    return [f"{e.method} {e.path}" for e in events if e.method not in ("GET", "HEAD")]


def raw_function(server: LocalServer, function_id: str) -> dict[str, Any]:
    """GET in the server's own format, as the console would see it."""
    fmt = capabilities(version_of(server)).response_format
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key, "X-Appwrite-Response-Format": fmt}
    response = httpx.get(f"{server.endpoint}/functions/{function_id}", headers=headers)
    response.raise_for_status()
    return dict(response.json())


def change_by_hand(server: LocalServer, function_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """A console edit: PUT every setting the server has, as read, with `changes` on top (only those it has)."""
    caps = capabilities(version_of(server))
    current = raw_function(server, function_id)
    body = {name: current[name] for name in caps.settings if name in current and current[name] is not None}
    applied = {name: value for name, value in changes.items() if caps.has_setting(name)}
    body.update(applied)
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key, "X-Appwrite-Response-Format": caps.response_format}
    response = httpx.put(f"{server.endpoint}/functions/{function_id}", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return applied


HAND_CHANGES: dict[str, Any] = {
    "specification": "s-2vcpu-2gb",  # before 1.9
    "runtimeSpecification": "s-2vcpu-2gb",  # 1.9+: differs from the build specification
    "buildSpecification": "s-1vcpu-1gb",
    "deploymentRetention": 7,
    "providerSilentMode": True,
    "providerBranches": ["main", "release/*"],
    "providerPaths": ["src/**"],
    "description": "set in the console",
}


def converge_and_keep(server: LocalServer, tmp_path: Path, functions: int, variables: int, sensitive: int) -> None:
    project, environ = make_project(tmp_path / "project", functions, variables, sensitive)
    with FaultProxy(server.endpoint) as proxy:
        env = {**server_env(server), "APPWRITE_ENDPOINT": proxy.endpoint, **environ}
        first = fnsync(project, env, "apply", "--yes")
        assert first.exit_code == 0, first.output

        again = fnsync(project, env, "plan", "--detailed-exitcode")
        assert again.exit_code == 0, again.output

        before = len(proxy.events)
        noop = fnsync(project, env, "apply", "--yes")
        assert noop.exit_code == 0, noop.output
        assert writes(proxy.events[before:]) == []

        applied = change_by_hand(server, "fn-000", HAND_CHANGES)
        assert applied  # every version has some of them
        project.functions["fn-000"]["timeout"] = 45  # something else changes
        project.write()
        changed = fnsync(project, env, "apply", "--yes")
        assert changed.exit_code == 0, changed.output
        after = raw_function(server, "fn-000")
        assert after["timeout"] == 45
        assert {name: after[name] for name in applied} == applied

        final = fnsync(project, env, "plan", "--detailed-exitcode")
        assert final.exit_code == 0, final.output


def test_apply_converges_noop_writes_nothing_and_hand_settings_survive(server: LocalServer, tmp_path: Path) -> None:
    converge_and_keep(server, tmp_path, functions=3, variables=30, sensitive=4)


@pytest.mark.slow
@pytest.mark.parametrize("version", ["1.6.2", "1.9.6", "2.5.0"])
def test_hundred_functions_with_thirty_variables(version: str, tmp_path: Path) -> None:
    with running_server(tmp_path / "server", appwrite_version=version) as running:
        converge_and_keep(running, tmp_path, functions=100, variables=30, sensitive=5)


# --- what goes over the wire ---------------------------------------------------------------------------------------


def test_nothing_sent_to_a_newer_server_speaks_1_6(server: LocalServer, tmp_path: Path) -> None:
    """Every command a user runs, through the proxy; then every request it saw is checked."""
    version = version_of(server)
    project, environ = make_project(tmp_path / "project", functions=2, variables=3, sensitive=1)
    with FaultProxy(server.endpoint) as proxy:
        env = {**server_env(server), "APPWRITE_ENDPOINT": proxy.endpoint, **environ}
        assert fnsync(project, env, "apply", "--yes").exit_code == 0
        project.code("fn-000", 2)
        for args in (("plan",), ("apply", "--yes"), ("drift",), ("deployments", "fn-000")):
            result = fnsync(project, env, *args)
            assert result.exit_code == 0, (args, result.output)
        rollback = fnsync(project, env, "rollback", "fn-000", "--yes")
        assert rollback.exit_code == 0, rollback.output
        ran = fnsync(project, env, "exec", "fn-001")
        assert ran.exit_code == 0, ran.output
        imported = fnsync(project, env, "import", "-o", str(tmp_path / "imported" / "functions.yaml"))
        assert imported.exit_code == 0, imported.output
        events = list(proxy.events)

    fmt = capabilities(version).response_format
    api = [e for e in events if e.path != "/v1/health/version"]
    assert api and {dict(e.headers).get("x-appwrite-response-format") for e in api} == {fmt}
    assert sum(1 for e in events if e.path == "/v1/health/version") <= 9  # once per command (9 ran), never per call
    for event in api:
        headers = dict(event.headers)
        queries = httpx.URL(event.target).params.get_list("queries[]")
        attributes = {json.loads(q).get("attribute") for q in queries}
        if version != "1.6.2":
            assert not attributes & REMOVED_QUERY_ATTRIBUTES, event.target
            if event.path == "/v1/functions/runtimes":
                assert "x-appwrite-key" not in headers
            if event.path.endswith("/download"):
                assert "type=source" in event.target
    runtimes = [e for e in api if e.path == "/v1/functions/runtimes"]
    assert runtimes and all(e.status == 200 for e in runtimes)
    if version != "1.6.2":
        assert not any(e.path.endswith("/build") for e in api)  # the 1.7 routes: duplicate, status
        assert any(e.path.endswith("/deployments/duplicate") or e.path.endswith("/deployment") for e in api)


# --- versions and manifest keys ------------------------------------------------------------------------------------


def test_a_key_the_server_lacks_is_a_plan_error_naming_its_version(server: LocalServer, tmp_path: Path) -> None:
    project = Project(tmp_path / "project")
    project.add("api", deploymentRetention=7, description="the API")
    project.write()
    result = fnsync(project, server_env(server), "plan")
    caps = capabilities(version_of(server))
    if caps.has_setting("description"):
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1
    assert "functions.api.description" in result.output and "needs Appwrite 2.5.0" in result.output
    if not caps.has_setting("deploymentRetention"):
        assert "`deploymentRetention` needs Appwrite 1.9.0 or newer" in result.output


@pytest.mark.parametrize("version", ["1.9.6", "2.5.0"])
def test_build_and_runtime_specifications_and_retention_are_managed(version: str, tmp_path: Path) -> None:
    with running_server(tmp_path / "server", appwrite_version=version) as server:
        project = Project(tmp_path / "project")
        cloud = {"description": "The API", "interval": 15} if version == "2.5.0" else {}
        project.add("api", specification="s-1vcpu-1gb", runtimeSpecification="s-2vcpu-2gb", deploymentRetention=3,
                    git={"branches": ["main"], "paths": ["src/**"]}, **cloud)  # fmt: skip
        project.write()
        applied = fnsync(project, server_env(server), "apply", "--yes")
        assert applied.exit_code == 0, applied.output
        fn = raw_function(server, "api")
        assert (fn["buildSpecification"], fn["runtimeSpecification"], fn["deploymentRetention"]) == ("s-1vcpu-1gb", "s-2vcpu-2gb", 3)
        assert (fn["providerBranches"], fn["providerPaths"]) == (["main"], ["src/**"])
        assert {name: fn[name] for name in cloud} == cloud
        assert fnsync(project, server_env(server), "plan", "--detailed-exitcode").exit_code == 0
        if cloud:  # a schedule replaces the interval; the two are never sent together
            project.functions["api"].pop("interval")
            project.functions["api"]["schedule"] = "0 * * * *"
            project.write()
            assert fnsync(project, server_env(server), "apply", "--yes").exit_code == 0
            fn = raw_function(server, "api")
            assert fn["schedule"] == "0 * * * *" and not fn.get("interval")
            assert fnsync(project, server_env(server), "plan", "--detailed-exitcode").exit_code == 0


# --- secrets on 1.7+ -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.9.6", "2.5.0"])
def test_secret_to_plain_is_planned_as_delete_and_create(version: str, tmp_path: Path) -> None:
    with running_server(tmp_path / "server", appwrite_version=version) as server:
        project = Project(tmp_path / "project")
        project.add("api", variables={"TOKEN": "${TOKEN}", "MODE": "prod"})
        project.write()
        env = server_env(server, TOKEN="tok-123")
        assert fnsync(project, env, "apply", "--yes").exit_code == 0
        secret = {v["key"]: v for v in raw_function(server, "api")["vars"]}
        assert secret["TOKEN"]["secret"] is True and secret["TOKEN"]["value"] == ""
        assert secret["MODE"]["secret"] is False

        project.functions["api"]["variables"]["TOKEN"] = {"value": "${TOKEN}", "secret": False}
        project.functions["api"]["variables"]["MODE"] = {"value": "prod", "secret": True}
        project.write()
        plan = fnsync(project, env, "plan")
        assert "cannot make a secret variable plain" in plan.output
        assert "tok-123" not in plan.output
        assert fnsync(project, env, "apply", "--yes").exit_code == 0
        after = {v["key"]: v for v in raw_function(server, "api")["vars"]}
        assert after["TOKEN"]["secret"] is False and after["TOKEN"]["value"] == "tok-123"
        assert after["MODE"]["secret"] is True
        assert fnsync(project, env, "plan", "--detailed-exitcode").exit_code == 0


# --- the creation limit --------------------------------------------------------------------------------------------


def test_creation_limit_defers_creates_finishes_the_rest_and_says_when(tmp_path: Path) -> None:
    with running_server(tmp_path / "server", appwrite_version="1.9.6", creation_abuse_limit=7) as server:
        project = Project(tmp_path / "project")
        project.add("existing", timeout=10)
        project.write()
        env = server_env(server)
        assert fnsync(project, env, "apply", "--yes").exit_code == 0  # `existing` and the lock function: 2 of 7
        for index in range(5):
            project.add(f"new-{index}")
        project.functions["existing"]["timeout"] = 20
        project.write()

        plan = fnsync(project, env, "plan")  # its probe uses one: 4 left
        assert plan.exit_code == 0, plan.output
        assert "this plan creates 5 functions but the server allows 4 more function creations until" in plan.output

        applied = fnsync(project, env, "apply", "--yes")  # its probe uses one more: 3 left
        assert applied.exit_code == 1, applied.output
        assert "function-creation limit was reached: 3 created, 2 still to create" in applied.output
        assert "re-run `fnsync apply` after that" in applied.output
        assert raw_function(server, "existing")["timeout"] == 20  # everything else was applied

    with running_server(tmp_path / "server", appwrite_version="1.9.6") as renewed:  # same data, a new day
        env = server_env(renewed)
        assert fnsync(project, env, "apply", "--yes").exit_code == 0
        assert fnsync(project, env, "plan", "--detailed-exitcode").exit_code == 0
