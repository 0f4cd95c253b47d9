"""The client against the local server answering as Appwrite 1.6.2 and 1.8.1 (and 1.5.0, which is refused).

On 1.8 the client speaks the 1.8.0 format and the 1.7 routes, and variables can be secret: their values read back
empty, so plan must stay correct and a no-op apply zero-write all the same (secret digests). 1.9.6 and 2.5.0 are
covered by tests/syncer/test_server_versions.py and the suites parametrised in tests/syncer/conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncer.apply import reconcile
from syncer.client import AppwriteClient, ServerVersion, UnsupportedServerVersion
from syncer.client.models import Variable
from syncer.manifest.models import Manifest
from syncer.plan import Plan, PlanError
from syncer.secret_digests import RECORD_KEY, DigestRecord
from tests.conftest import LocalServer
from tests.helpers import async_wait_until
from tests.syncer.support import Project, addresses, fnsync, open_client, plan_of, run_all, run_cli, running_server, secret_project, server_env

pytestmark = pytest.mark.slow

TOKEN = "tok-2f8e-very-secret"
ENV = {"API_TOKEN": TOKEN}


@pytest.fixture(params=["1.6.2", "1.8.1"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalServer]:
    with running_server(tmp_path / "server", appwrite_version=request.param) as running:
        yield running


@pytest.fixture
def server18(tmp_path: Path) -> Iterator[LocalServer]:
    with running_server(tmp_path / "server18", appwrite_version="1.8.1") as running:
        yield running


@pytest.fixture
async def client(server: LocalServer) -> AsyncIterator[AppwriteClient]:
    async with open_client(server) as c:
        yield c


@pytest.fixture
async def client18(server18: LocalServer) -> AsyncIterator[AppwriteClient]:
    async with open_client(server18) as c:
        yield c


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "project")


def raw_variables(server: LocalServer, function_id: str) -> dict[str, dict[str, Any]]:
    """The variables as a 1.8 client sees them (or 1.6 shapes from a 1.6 server), by key."""
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": server.api_key, "X-Appwrite-Response-Format": "1.8.0"}
    body = httpx.get(f"{server.endpoint}/functions/{function_id}/variables", headers=headers).json()
    return {v["key"]: v for v in body["variables"]}


async def apply_ok(manifest: Manifest, client: AppwriteClient) -> None:
    result = await reconcile(manifest, client)
    assert result.ok, result


async def assert_noop(manifest: Manifest, client: AppwriteClient) -> None:
    writes = client.stats.writes
    again = await reconcile(manifest, client)
    assert again.ok and not again.plan.has_changes, addresses(again.plan)
    assert again.writes == 0 and client.stats.writes == writes


# --- version detection ---------------------------------------------------------------------------


async def test_version_is_detected_once_and_parsed(server: LocalServer, client: AppwriteClient) -> None:
    version = await client.server_version()
    assert str(version) == server.config.appwrite_version
    assert (await client.capabilities()).secret_variables is (server.config.appwrite_version == "1.8.1")
    reads = client.stats.reads
    assert await client.server_version() is version
    assert client.stats.reads == reads  # cached: asked once per client


async def test_servers_older_than_1_6_are_refused(tmp_path: Path, project: Project) -> None:
    with running_server(tmp_path / "old", appwrite_version="1.5.0") as old:
        async with open_client(old) as client:
            with pytest.raises(UnsupportedServerVersion) as refused:
                await client.server_version()
            assert "Appwrite 1.5.0" in str(refused.value) and "1.6.0 or newer" in str(refused.value)
            assert (refused.value.version, refused.value.minimum) == ("1.5.0", "1.6.0")
            project.add("api", variables={"A": "1"})
            with pytest.raises(UnsupportedServerVersion):
                await reconcile(project.load(), client)
            assert client.stats.writes == 0
            with pytest.raises(UnsupportedServerVersion):  # every call is refused, none is sent
                await client.list_functions()
            assert client.stats.requests == 1  # the version probe, once


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(200, json={"version": "1.7.4"}), ServerVersion(1, 7, 4)),
        # a health route that refuses the request still names the version in its error envelope
        (httpx.Response(401, json={"message": "no", "code": 401, "type": "general_unauthorized_scope", "version": "1.8.0"}), ServerVersion(1, 8, 0)),
    ],
)
async def test_version_from_health_or_its_error(answer: httpx.Response, expected: ServerVersion) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    async with AppwriteClient("http://x/v1", "p", "key", transport=httpx.MockTransport(handler)) as client:
        assert await client.server_version() == expected
    assert [r.url.path for r in seen] == ["/v1/health/version"] and "x-appwrite-key" not in seen[0].headers


async def test_1_7_speaks_its_own_format_and_sends_secret_explicitly() -> None:
    formats: list[str] = []
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/health/version"):
            return httpx.Response(200, json={"version": "1.7.4"})
        formats.append(request.headers["x-appwrite-response-format"])
        bodies.append(json.loads(request.content or b"{}"))
        return httpx.Response(201, json={"$id": "v1", "key": "K", "value": "v"})

    async with AppwriteClient("http://x/v1", "p", "key", transport=httpx.MockTransport(handler)) as client:
        await client.create_variable("fn", "K", "v", secret=True)
        await client.create_variable("fn", "K", "v")
    assert formats == ["1.7.0", "1.7.0"]
    assert [b["secret"] for b in bodies] == [True, False]  # never left to 1.7's default (true)


async def test_unparsable_version_is_a_protocol_error() -> None:
    from syncer.client import AppwriteProtocolError

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"version": "latest"}))
    async with AppwriteClient("http://x/v1", "p", "key", transport=transport) as client:
        with pytest.raises(AppwriteProtocolError, match="unknown version"):
            await client.server_version()


# --- plan/apply on 1.6 and 1.8 -------------------------------------------------------------------


async def test_apply_then_noop_is_zero_write(server: LocalServer, client: AppwriteClient, project: Project) -> None:
    project.add("api", variables={"TOKEN": "${API_TOKEN}", "MODE": "prod"})
    project.add("cron", schedule="*/5 * * * *")
    manifest = project.load(ENV)

    await apply_ok(manifest, client)
    await assert_noop(manifest, client)

    fn = await client.get_function("api")
    assert fn is not None and fn.live and fn.deployment
    variables = raw_variables(server, "api")
    if server.config.appwrite_version == "1.8.1":
        assert (variables["TOKEN"]["secret"], variables["TOKEN"]["value"]) == (True, "")
        assert (variables["MODE"]["secret"], variables["MODE"]["value"]) == (False, "prod")
        record = DigestRecord.parse(variables[RECORD_KEY]["value"])
        assert variables[RECORD_KEY]["secret"] is False and record is not None and set(record.digests) == {"TOKEN"}
        assert TOKEN not in variables[RECORD_KEY]["value"]
        assert fn.latest_deployment_id == fn.deployment  # read in the 1.8 format
        assert raw_variables(server, "cron") == {}  # no secrets, no record
    else:
        record = '{"fnsync":1,"sensitive":["TOKEN"]}'  # the keys applied as sensitive: no digests, no salt
        assert {k: v["value"] for k, v in variables.items()} == {"TOKEN": TOKEN, "MODE": "prod", RECORD_KEY: record}
        assert raw_variables(server, "cron") == {}  # nothing sensitive, no record
        assert all("secret" not in v for v in variables.values())


async def test_changed_secret_is_planned_and_converges(server18: LocalServer, client18: AppwriteClient, project: Project) -> None:
    project.add("api", variables={"TOKEN": "${API_TOKEN}", "MODE": "prod"})
    await apply_ok(project.load(ENV), client18)

    rotated = project.load({"API_TOKEN": "tok-rotated"})
    plan = await plan_of(rotated, client18)
    assert addresses(plan) == [
        ("function.api.variable.TOKEN", "update"),
        (f"function.api.variable.{RECORD_KEY}", "update"),
        ("function.api.code", "rebuild"),
    ]
    assert plan.changes[0].reason == "value differs (by recorded digest)"
    await apply_ok(rotated, client18)
    await assert_noop(rotated, client18)
    # the old value is planned again: digests tell the two apart
    assert [a for a, _ in addresses(await plan_of(project.load(ENV), client18))][0] == "function.api.variable.TOKEN"


async def test_secret_edited_outside_fnsync_is_noticed(server18: LocalServer, client18: AppwriteClient, project: Project) -> None:
    project.add("api", path=None, entrypoint="", variables={"TOKEN": "${API_TOKEN}"})
    manifest = project.load(ENV)
    await apply_ok(manifest, client18)
    token = raw_variables(server18, "api")["TOKEN"]

    async with open_client(server18) as console:
        await console.server_version()
        await console.update_variable("api", token["$id"], "TOKEN", "typed-in-the-console")

    plan = await plan_of(manifest, client18)
    assert [(c.key, c.action.value, c.reason) for c in plan.changes][0] == (
        "TOKEN", "update", "secret changed on the server since fnsync recorded it"
    )
    await apply_ok(manifest, client18)
    await assert_noop(manifest, client18)


async def test_sensitive_values_become_secret_and_stay_secret(server18: LocalServer, client18: AppwriteClient, project: Project) -> None:
    project.add("api", path=None, entrypoint="", variables={"KEY": "plain-at-first"})
    await apply_ok(project.load(), client18)
    assert raw_variables(server18, "api")["KEY"]["secret"] is False and RECORD_KEY not in raw_variables(server18, "api")

    project.functions["api"]["variables"] = {"KEY": "${API_TOKEN}"}
    sensitive = project.load(ENV)
    plan = await plan_of(sensitive, client18)
    assert [(c.key, c.reason) for c in plan.changes] == [("KEY", "value differs"), (RECORD_KEY, "records digests of secret variables")]
    await apply_ok(sensitive, client18)
    assert raw_variables(server18, "api")["KEY"]["secret"] is True
    await assert_noop(sensitive, client18)

    # back to a plain value: Appwrite cannot unset `secret`, so it stays secret and is still compared by digest
    project.functions["api"]["variables"] = {"KEY": "plain-again"}
    plain = project.load()
    changes = (await plan_of(plain, client18)).changes
    assert [(c.key, c.after and c.after["secret"]) for c in changes] == [("KEY", True), (RECORD_KEY, False)]
    await apply_ok(plain, client18)
    await assert_noop(plain, client18)

    # no secrets left: the record goes too
    project.functions["api"]["variables"] = {}
    empty = project.load()
    assert addresses(await plan_of(empty, client18)) == [
        ("function.api.variable.KEY", "delete"),
        (f"function.api.variable.{RECORD_KEY}", "delete"),
    ]
    await apply_ok(empty, client18)
    assert raw_variables(server18, "api") == {}


async def test_the_record_key_is_reserved(server18: LocalServer, client18: AppwriteClient, project: Project) -> None:
    project.add("api", path=None, entrypoint="", variables={RECORD_KEY: "mine"})
    with pytest.raises(PlanError, match="reserved"):
        await plan_of(project.load(), client18)
    assert client18.stats.writes == 0


async def test_a_record_made_secret_by_hand_is_replaced(server18: LocalServer, client18: AppwriteClient, project: Project) -> None:
    project.add("api", path=None, entrypoint="", variables={"TOKEN": "${API_TOKEN}"})
    manifest = project.load(ENV)
    await apply_ok(manifest, client18)
    record = raw_variables(server18, "api")[RECORD_KEY]
    await client18.update_variable("api", record["$id"], RECORD_KEY, None, secret=True)

    plan: Plan = await plan_of(manifest, client18)
    assert [(c.key, c.action.value) for c in plan.changes] == [
        ("TOKEN", "update"), (RECORD_KEY, "delete"), (RECORD_KEY, "create"),
    ]
    await apply_ok(manifest, client18)
    await assert_noop(manifest, client18)


async def test_1_8_variable_calls_send_the_1_8_format_and_explicit_secret(server18: LocalServer, client18: AppwriteClient, project: Project) -> None:
    project.add("api", path=None, entrypoint="")
    await apply_ok(project.load(), client18)
    plain = await client18.create_variable("api", "PLAIN", "v")  # 1.8 would default to secret; fnsync sends false
    assert isinstance(plain, Variable) and (plain.secret, plain.value) == (False, "v")
    secret = await client18.create_variable("api", "S", "hidden", secret=True)
    assert (secret.secret, secret.value) == (True, "")
    kept = await client18.update_variable("api", secret.id, "S", "hidden2")  # secret=None keeps the flag
    assert kept.secret is True
    listed = {v.key: v for v in await client18.list_variables("api")}
    assert (listed["S"].secret, listed["PLAIN"].secret) == (True, False)


# --- rebuild and cancel --------------------------------------------------------------------------


async def test_rebuild_and_cancel_on_both_versions(server: LocalServer, client: AppwriteClient, project: Project) -> None:
    project.add("api", commands="sleep 60")
    await reconcile(project.load(), client, wait=False)
    fn = await client.get_function("api")
    assert fn is not None
    source = (await client.latest_deployment("api"))
    assert source is not None
    await async_wait_until(lambda: _status(client, source.id, "building"), timeout=20, what="build to start")

    canceled = await client.cancel_build("api", source.id)
    assert (canceled.deployment_id, canceled.status) == (source.id, "canceled")

    gets = client.stats.by_method["GET"]
    rebuilt = await client.rebuild_deployment("api", source.id)
    assert rebuilt.id != source.id and rebuilt.entrypoint == "main.py"
    looked_up = client.stats.by_method["GET"] - gets
    # 1.6 answers 204 and the new deployment is found by listing; 1.8 answers 202 with it
    assert looked_up == (0 if server.config.appwrite_version == "1.8.1" else 1)
    await client.cancel_build("api", rebuilt.id)


async def _status(client: AppwriteClient, deployment_id: str, wanted: str) -> bool:
    return (await client.get_deployment("api", deployment_id)).status == wanted


# --- through the CLI -----------------------------------------------------------------------------


def test_cli_on_1_8_saved_plans_and_secrets(tmp_path: Path, server18: LocalServer) -> None:
    """plan/apply/saved plans on 1.8 keep secrets out of every output, and a second plan shows no changes."""
    project = secret_project(tmp_path / "p")
    env = server_env(server18, API_TOKEN=TOKEN)
    planfile = tmp_path / "plan.json"
    outputs = run_all(project, env, planfile)
    everything = "\n".join(outputs) + planfile.read_text()
    assert "visible-value" in everything and RECORD_KEY in everything
    assert TOKEN not in everything and server18.api_key not in everything
    assert raw_variables(server18, "api")["TOKEN"]["secret"] is True
    quiet = fnsync(project, env, "plan", "--detailed-exitcode")
    assert quiet.exit_code == 0, quiet.output

    env["API_TOKEN"] = "tok-rotated"
    saved = fnsync(project, env, "plan", "--out", str(planfile))
    assert saved.exit_code == 0 and "tok-rotated" not in planfile.read_text()
    applied = run_cli(env, "apply", str(planfile))  # the manifest path from the plan
    assert applied.exit_code == 0, applied.output
    after = fnsync(project, env, "plan", "--detailed-exitcode")
    assert after.exit_code == 0, after.output
