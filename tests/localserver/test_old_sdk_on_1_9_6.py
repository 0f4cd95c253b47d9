"""The 1.6 SDK (appwrite 7.1.0, format 1.6.0) against the 1.9.6 emulation sees what Appwrite's filters show it.

One test per quirk, named after the filter (or server fact) that causes it (NEWER-SERVERS.md §0, §6). A client
that speaks 1.9.5 (`NEW`) sets things up or reads what really happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from appwrite.exception import AppwriteException
from appwrite.query import Query

from tests.conftest import LocalServer
from tests.helpers import wait_until
from tests.localserver.support import api_client, make_archive, post_deployment, post_function

pytestmark = pytest.mark.slow

NEW = {"X-Appwrite-Response-Format": "1.9.5"}
ARCHIVE = make_archive()  # gzip stamps the time: build the bytes once to compare downloads with


@pytest.fixture
def appwrite_version() -> str:
    return "1.9.6"


@pytest.fixture
def raw(local_server: LocalServer) -> Iterator[httpx.Client]:
    """A 1.9.5-format client (what SDK 20.1.0 sends), with function `fn` created."""
    with api_client(local_server) as client:
        client.headers.update(NEW)
        post_function(client, "fn", "python-3.12", execute=["any"])
        yield client


def ready_deployment(raw: httpx.Client) -> dict[str, Any]:
    files = {"code": ("code.tar.gz", ARCHIVE, "application/gzip")}
    deployment = raw.post("/functions/fn/deployments", data={"activate": "true"}, files=files).json()
    return wait_until(
        lambda: (d := raw.get(f"/functions/fn/deployments/{deployment['$id']}").json())["status"] == "ready" and d,
        timeout=60, what="build",
    )


def new_variable(raw: httpx.Client, key: str, value: str, secret: bool) -> dict[str, Any]:
    response = raw.post("/functions/fn/variables", json={"variableId": "unique()", "key": key, "value": value, "secret": secret})
    assert response.status_code == 201, response.text
    return dict(response.json())


def refused(call: Any) -> AppwriteException:
    with pytest.raises(AppwriteException) as info:
        call()
    return info.value


# --- V19 request filter ----------------------------------------------------------------------------


def test_v19_download_returns_the_build_output_even_for_type_source(raw: httpx.Client, appwrite_sdk: Any) -> None:
    deployment = ready_deployment(raw)
    source = raw.get(f"/functions/fn/deployments/{deployment['$id']}/download", params={"type": "source"}).content
    output = raw.get(f"/functions/fn/deployments/{deployment['$id']}/download", params={"type": "output"}).content
    assert source == ARCHIVE and output != source
    assert appwrite_sdk.get_deployment_download("fn", deployment["$id"]) == output
    forced = raw.get(f"/functions/fn/deployments/{deployment['$id']}/download", params={"type": "source"}, headers={"X-Appwrite-Response-Format": "1.6.0"})
    assert forced.content == output  # the explicit type is overwritten too


def test_v19_create_variable_forces_secret_false(raw: httpx.Client, appwrite_sdk: Any) -> None:
    created = appwrite_sdk.create_variable("fn", "TOKEN", "s3cret")
    assert "secret" not in created and created["value"] == "s3cret"
    assert raw.get(f"/functions/fn/variables/{created['$id']}").json()["secret"] is False  # readable by anyone now


def test_v19_update_of_a_secret_variable_is_refused(raw: httpx.Client, appwrite_sdk: Any) -> None:
    secret = new_variable(raw, "TOKEN", "v1", secret=True)
    error = refused(lambda: appwrite_sdk.update_variable("fn", secret["$id"], "TOKEN", "v2"))
    assert (error.code, error.type) == (400, "variable_cannot_unset_secret")


def test_v19_query_on_size_is_renamed_and_fails(raw: httpx.Client, appwrite_sdk: Any) -> None:
    post_deployment(raw, "fn")
    error = refused(lambda: appwrite_sdk.list_deployments("fn", [Query.greater_than("size", 0)]))
    assert error.code == 400 and "deploymentSize" in error.message


def test_v19_query_on_deployment_is_renamed_and_works(raw: httpx.Client, appwrite_sdk: Any) -> None:
    post_function(raw, "other", "python-3.12")
    assert appwrite_sdk.list([Query.equal("deployment", "")])["total"] == 2


@pytest.mark.parametrize("attribute", ["buildId", "entrypoint", "commands"])
def test_deployment_query_attributes_removed_in_1_7_fail(raw: httpx.Client, appwrite_sdk: Any, attribute: str) -> None:
    error = refused(lambda: appwrite_sdk.list_deployments("fn", [Query.equal(attribute, "x")]))
    assert error.code == 400 and f"Attribute not found in schema: {attribute}" in error.message


def test_internal_id_became_sequence_without_translation(raw: httpx.Client, appwrite_sdk: Any) -> None:
    assert refused(lambda: appwrite_sdk.list([Query.order_desc("$internalId")])).code == 400
    assert raw.get("/functions", params={"queries[]": Query.order_desc("$sequence")}).status_code == 200


def test_v19_list_executions_drops_search(raw: httpx.Client, appwrite_sdk: Any) -> None:
    ready_deployment(raw)
    raw.post("/functions/fn/executions", json={})
    assert appwrite_sdk.list_executions("fn", search="matches-nothing")["total"] == 1
    assert raw.get("/functions/fn/executions", params={"search": "matches-nothing"}).json()["total"] == 1  # gone since 1.7 for everyone


# --- V19 / V21 response filters ------------------------------------------------------------------------


def test_v19_v21_function_in_1_6_shape_with_newer_fields_left_in(raw: httpx.Client, appwrite_sdk: Any) -> None:
    new_variable(raw, "TOKEN", "v", secret=True)
    function = appwrite_sdk.get("fn")
    assert "deployment" in function and function["specification"] == "s-8vcpu-8gb"
    for gone in ("deploymentId", "deploymentCreatedAt", "latestDeploymentId", "latestDeploymentStatus", "buildSpecification", "runtimeSpecification"):
        assert gone not in function
    # No filter removes what 1.9 added, nor `secret` of the embedded variables.
    assert function["deploymentRetention"] == 0 and function["providerBranches"] == [] and function["vars"][0]["secret"] is True


def test_v19_deployment_in_1_6_shape_with_stored_status(raw: httpx.Client, appwrite_sdk: Any) -> None:
    from appwrite.input_file import InputFile

    uploaded = appwrite_sdk.create_deployment("fn", InputFile.from_bytes(make_archive(), "code.tar.gz"), True)
    assert uploaded["size"] == len(make_archive()) and uploaded["status"] == "waiting" and "buildTime" in uploaded
    for gone in ("sourceSize", "buildDuration", "totalSize", "screenshotLight", "screenshotDark"):
        assert gone not in uploaded


def test_v19_variable_hides_secret_single_and_listed(raw: httpx.Client, appwrite_sdk: Any) -> None:
    secret = new_variable(raw, "TOKEN", "v", secret=True)
    got = appwrite_sdk.get_variable("fn", secret["$id"])
    assert "secret" not in got and got["value"] == ""
    assert all("secret" not in v for v in appwrite_sdk.list_variables("fn")["variables"])


def test_v21_specification_overwrites_both_specs(raw: httpx.Client, appwrite_sdk: Any) -> None:
    raw.put("/functions/fn", json={"name": "Fn", "buildSpecification": "s-2vcpu-2gb", "runtimeSpecification": "s-0.5vcpu-512mb"})
    assert appwrite_sdk.get("fn")["specification"] == "s-2vcpu-2gb"  # the build spec only
    appwrite_sdk.update("fn", "Fn", specification="s-1vcpu-1gb")
    function = raw.get("/functions/fn").json()
    assert (function["buildSpecification"], function["runtimeSpecification"]) == ("s-1vcpu-1gb", "s-1vcpu-1gb")


# --- V25 request filter ------------------------------------------------------------------------------


def test_v25_create_variable_gets_a_unique_id(raw: httpx.Client, appwrite_sdk: Any) -> None:
    assert len(appwrite_sdk.create_variable("fn", "A", "1")["$id"]) == 20
    missing = raw.post("/functions/fn/variables", json={"key": "B", "value": "2"})  # 1.9.5 format: no filter
    assert (missing.status_code, missing.json()["message"]) == (400, 'Param "variableId" is not optional.')


# --- what no filter compensates ------------------------------------------------------------------------


def test_update_resets_what_it_is_not_sent(raw: httpx.Client, appwrite_sdk: Any) -> None:
    raw.put("/functions/fn", json={
        "name": "Fn", "buildSpecification": "s-1vcpu-1gb", "runtimeSpecification": "s-1vcpu-1gb", "deploymentRetention": 30,
        "providerSilentMode": True, "providerBranches": ["main"], "providerPaths": ["src/**"],
    })
    appwrite_sdk.update("fn", "Fn renamed")
    function = raw.get("/functions/fn").json()
    # Omitted specs take the largest allowed spec (self-hosted 1.8.1+); retention and silent mode reset; branches/paths kept.
    assert (function["buildSpecification"], function["runtimeSpecification"]) == ("s-8vcpu-8gb", "s-8vcpu-8gb")
    assert (function["deploymentRetention"], function["providerSilentMode"]) == (0, False)
    assert (function["providerBranches"], function["providerPaths"]) == (["main"], ["src/**"])


def test_variables_are_listed_25_per_page(raw: httpx.Client, appwrite_sdk: Any) -> None:
    for index in range(30):
        new_variable(raw, f"K{index}", "v", secret=False)
    listed = appwrite_sdk.list_variables("fn")
    assert listed["total"] == 30 and len(listed["variables"]) == 25
    assert len(raw.get("/functions/fn").json()["vars"]) == 30  # embedded vars are not paged


def test_rebuild_alias_answers_202_and_a_new_deployment(raw: httpx.Client, appwrite_sdk: Any) -> None:
    deployment = ready_deployment(raw)
    rebuilt = appwrite_sdk.create_build("fn", deployment["$id"])
    assert isinstance(rebuilt, dict) and rebuilt["$id"] != deployment["$id"] and "size" in rebuilt  # 1.6.2 answered 204


def test_cancel_alias_answers_a_deployment(raw: httpx.Client, appwrite_sdk: Any) -> None:
    slow = post_deployment(raw, "fn", commands="sleep 60")
    canceled = appwrite_sdk.update_deployment_build("fn", slow["$id"])
    assert canceled["$id"] == slow["$id"] and canceled["status"] == "canceled" and "size" in canceled  # not a Build


def test_runtimes_are_public_and_refuse_api_keys(local_server: LocalServer, appwrite_sdk: Any) -> None:
    error = refused(appwrite_sdk.list_runtimes)
    assert (error.code, error.type) == (401, "general_unauthorized_scope") and "missing scope (public)" in error.message
    keyless = httpx.get(f"{local_server.endpoint}/functions/runtimes", headers={"X-Appwrite-Project": local_server.project})
    assert keyless.status_code == 200 and keyless.json()["total"] == 94
    assert keyless.json()["runtimes"][0]["image"].startswith("openruntimes/node:v5-")


def test_duplicate_function_id_is_function_already_exists(raw: httpx.Client, appwrite_sdk: Any) -> None:
    error = refused(lambda: appwrite_sdk.create("fn", "Fn", "python-3.12"))
    assert (error.code, error.type) == (409, "function_already_exists")


def test_a_format_newer_than_the_server_gets_a_warning_and_native_shapes(raw: httpx.Client) -> None:
    response = raw.get("/functions/fn", headers={"X-Appwrite-Response-Format": "2.5.0"})
    assert response.headers["X-Appwrite-Warning"].startswith("The current SDK is built for Appwrite 2.5.0. However, the current Appwrite server version is 1.9.6.")
    assert "description" not in response.json() and "runtimeSpecification" in response.json()
    assert "X-Appwrite-Warning" not in raw.get("/functions/fn").headers
