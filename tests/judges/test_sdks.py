"""Each official Python SDK drives every Functions call it has against the server version it targets.

appwrite 7.1.0 -> 1.6.2, 13.6.1 -> 1.8.1 (replies judged by those versions' OpenAPI specs, as these SDKs
return dicts), 20.1.0 -> 1.9.6 and 27.0.0 -> Cloud 2.5.0 (their pydantic models parse every reply; 20.1.0's
reject a missing field). Each SDK runs in its own process from `.cache/judges/` (tests/judges/install.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import LocalServer, start_local_server
from tests.judges import specs
from tests.judges.runner import JudgeRun, run_sdk

SCRIPTS = Path(__file__).parent / "scripts"
pytestmark = pytest.mark.slow


def drive(tmp_path: Path, version: str, sdk: str, script: str, **env: str) -> tuple[JudgeRun, LocalServer]:
    server, runner = start_local_server(tmp_path / "server", appwrite_version=version)
    try:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            run = run_sdk(sdk, (SCRIPTS / script).read_text(), server.endpoint, server.project, server.api_key)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    finally:
        runner.stop()
    return run.check(), server


def assert_everything_driven(run: JudgeRun) -> None:
    methods, called = set(run.emitted["methods"]), set(run.emitted["called"])
    assert methods - called == set(), f"Functions calls not driven: {sorted(methods - called)}"


# method -> response schema in the OpenAPI spec ("" = no JSON body)
SCHEMAS_16 = {
    "create": "function", "get": "function", "update": "function", "update_deployment": "function", "list": "functionList",
    "list_runtimes": "runtimeList", "list_specifications": "specificationList", "create_variable": "variable",
    "get_variable": "variable", "update_variable": "variable", "list_variables": "variableList",
    "create_deployment": "deployment", "get_deployment": "deployment", "list_deployments": "deploymentList",
    "create_execution": "execution", "get_execution": "execution", "list_executions": "executionList",
    "update_deployment_build": "build",
}
SCHEMAS_18 = {
    **{k: v for k, v in SCHEMAS_16.items() if k not in ("update_deployment", "update_deployment_build")},
    "update_function_deployment": "function", "create_duplicate_deployment": "deployment",
    "update_deployment_status": "deployment", "create_vcs_deployment": "deployment",
}


def test_sdk_7_1_0_against_1_6_2(tmp_path: Path) -> None:
    run, _ = drive(tmp_path, "1.6.2", "7.1.0", "sdk_7_1_0.py")
    assert_everything_driven(run)
    for method, schema in SCHEMAS_16.items():
        specs.check(run.emitted[method], schema, "1.6", method)
    assert run.emitted["create_build"] == {"bytes": 0} or run.emitted["create_build"] in ("", b"", None)  # 204
    assert run.emitted["get_deployment_download"]["bytes"] > 0
    assert run.emitted["update"]["specification"] == "s-1vcpu-1gb"


def test_sdk_13_6_1_against_1_8_1(tmp_path: Path) -> None:
    run, _ = drive(tmp_path, "1.8.1", "13.6.1", "sdk_13_6_1.py")
    assert_everything_driven(run)
    for method, schema in SCHEMAS_18.items():
        specs.check(run.emitted[method], schema, "1.8", method)
    assert run.emitted["create_variable"]["secret"] is True and run.emitted["create_variable"]["value"] == ""
    assert run.emitted["list"]["total"] == 0  # total=false (1.8.1)
    assert run.emitted["create_template_deployment"] == {"error": "general_argument_invalid", "code": 400}
    assert run.emitted["create_execution"]["deploymentId"] == run.emitted["built"]["$id"]


def test_sdk_20_1_0_against_1_9_6(tmp_path: Path) -> None:
    run, _ = drive(tmp_path, "1.9.6", "20.1.0", "sdk_modern.py")
    assert_everything_driven(run)
    function = run.emitted["create"]
    assert (function["buildSpecification"], function["runtimeSpecification"], function["deploymentRetention"]) == ("s-1vcpu-1gb", "s-0.5vcpu-512mb", 7)
    assert function["providerBranches"] == ["main"] and "description" not in function
    variables = run.emitted["list_variables"]
    assert variables["total"] == 31 and len(variables["variables"]) == 31  # limit(100) asked: one page
    assert run.emitted["update_variable"]["secret"] is True and run.emitted["update_variable"]["value"] == ""
    assert run.emitted["create_execution"]["functionId"] == "fn"
    assert run.emitted["create_vcs_deployment"]["type"] == "vcs"


def test_sdk_27_0_0_against_cloud_2_5_0(tmp_path: Path) -> None:
    run, _ = drive(tmp_path, "2.5.0", "27.0.0", "sdk_modern.py", JUDGE_CLOUD="1")
    assert_everything_driven(run)
    function = run.emitted["create"]
    assert (function["description"], function["interval"], function["emailEnabled"]) == ("made by the judge", 30, False)
    updated = run.emitted["update"]
    assert (updated["description"], updated["interval"], updated["emailEnabled"]) == ("d", 30, True)  # interval kept
    execution = run.emitted["create_execution"]
    assert (execution["resourceId"], execution["resourceType"]) == ("fn", "functions") and "functionId" not in execution
    assert run.emitted["create_variable"]["description"] == "token"
