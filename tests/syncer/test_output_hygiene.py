"""Output hygiene (issue 13, point 8) against the local server as 1.6.2 and 1.9.6: request counts, sensitivity labels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LocalServer
from tests.faultproxy import FaultProxy
from tests.syncer.support import Project, fnsync, server_env


@pytest.fixture
def proxy(local_server: LocalServer) -> Iterator[FaultProxy]:
    with FaultProxy(local_server.endpoint) as p:
        yield p


def seen_by_server(proxy: FaultProxy) -> tuple[int, int]:
    """(reads, writes) the server received, as the client counts them (GET/HEAD are reads)."""
    reads = sum(1 for e in proxy.events if e.forwarded and e.method in ("GET", "HEAD"))
    return reads, sum(1 for e in proxy.events if e.forwarded) - reads


def test_apply_json_counts_every_request_it_made(project: Project, local_server: LocalServer, proxy: FaultProxy) -> None:
    env = server_env(local_server) | {"APPWRITE_ENDPOINT": proxy.endpoint}
    first = fnsync(project, env, "apply", "--yes", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["requests"] == dict(zip(("reads", "writes"), seen_by_server(proxy), strict=True))

    proxy.events.clear()
    again = fnsync(project, env, "apply", "--yes", "--json")
    assert again.exit_code == 0, again.output
    document = json.loads(again.stdout)
    assert document["plan"]["changes"] == []
    reads, writes = seen_by_server(proxy)
    assert reads > 0 and writes == 0
    assert document["requests"] == {"reads": reads, "writes": 0}
    assert proxy.hits("GET", "/v1/health/version") == 1  # the version probe is one of the counted reads

    proxy.events.clear()
    project.code("api", 2)
    text = fnsync(project, env, "apply", "--yes")
    assert text.exit_code == 0, text.output
    reads, writes = seen_by_server(proxy)
    assert writes > 0 and f"({reads} reads, {writes} writes)" in text.stdout  # the summary line counts them all too


OLD_PLAIN = "visible-old-plain-value"
OLD_SECRET = "tok-old-SENSITIVE-4711"
NEW_SECRET = "tok-new-SENSITIVE-0815"
UNKNOWN = "hidden: not known whether it was sensitive"


def plan_outputs(project: Project, env: dict[str, str], planfile: Path) -> dict[str, str]:
    """The plan of `project` in every form: text, JSON, markdown and the saved plan file."""
    outputs = {form: fnsync(project, env, "plan", "--format", form) for form in ("text", "json", "markdown")}
    saved = fnsync(project, env, "plan", "--out", str(planfile))
    for result in (*outputs.values(), saved):
        assert result.exit_code == 0, result.output
    return {**{form: r.stdout for form, r in outputs.items()}, "saved": planfile.read_text()}


def variable_change(document: str) -> dict[str, Any]:
    return next(c for c in json.loads(document)["changes"] if c["address"] == "function.api.variable.MODE")


def test_plain_to_sensitive_shows_the_old_plain_value_as_plain(
    project: Project, env: dict[str, str], appwrite_version: str, tmp_path: Path
) -> None:
    project.functions["api"]["variables"] = {"MODE": OLD_PLAIN}
    assert fnsync(project.write(), env, "apply", "--yes").exit_code == 0
    project.functions["api"]["variables"] = {"MODE": "${NEW_TOKEN}"}
    project.write()
    out = plan_outputs(project, env | {"NEW_TOKEN": NEW_SECRET}, tmp_path / "plan.json")

    before = variable_change(out["json"])["before"]
    if appwrite_version == "1.6.2":  # no secret flag, no record (nothing was sensitive) and MODE sensitive now: unknown
        assert before["value"] is None and before["sensitive"] is None
        assert f"~ variable MODE: ({UNKNOWN}) -> (sensitive)" in out["text"]
        assert f"| `MODE` | ({UNKNOWN}) | (sensitive) |" in out["markdown"]
        assert OLD_PLAIN not in "".join(out.values())
    else:  # 1.7+: the server says the old value is an ordinary variable: shown, and labelled plain
        assert before["value"] == OLD_PLAIN and before["sensitive"] is False
        assert f'~ variable MODE: "{OLD_PLAIN}" -> (sensitive)' in out["text"]
        assert f'| `MODE` | `"{OLD_PLAIN}"` | (sensitive) |' in out["markdown"]
        assert OLD_PLAIN in variable_change(out["saved"])["before"]["value"]
    assert NEW_SECRET not in "".join(out.values())


def test_sensitive_to_plain_never_shows_the_old_sensitive_value(
    project: Project, env: dict[str, str], appwrite_version: str, tmp_path: Path
) -> None:
    project.functions["api"]["variables"] = {"MODE": "${OLD_TOKEN}"}
    applied = fnsync(project.write(), env | {"OLD_TOKEN": OLD_SECRET}, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    project.functions["api"]["variables"] = {"MODE": "now-plain"}
    project.write()
    out = plan_outputs(project, env, tmp_path / "plan.json")

    change = variable_change(out["json"])
    assert change["before"]["value"] is None
    if appwrite_version == "1.6.2":  # fnsync's record says it applied MODE as sensitive
        assert change["before"]["sensitive"] is True
        assert '~ variable MODE: (sensitive) -> "now-plain"' in out["text"]
        assert '| `MODE` | (sensitive) | `"now-plain"` |' in out["markdown"]
    else:  # a secret stays secret (docs/plan-apply.md "Secret variables"), and the server says the old one was
        assert change["before"]["sensitive"] is True and change["before"]["secret"] is True
        assert "~ variable MODE: (sensitive) -> (sensitive)" in out["text"]
    saved_before = variable_change(out["saved"])["before"]
    assert "value" not in saved_before and "value_sha256" in saved_before  # sealed, like every hidden value
    assert OLD_SECRET not in "".join(out.values())


def server_values(appwrite_sdk: Any) -> dict[str, str]:
    return {v["key"]: v["value"] for v in appwrite_sdk.list_variables("api")["variables"]}


def test_old_values_are_labelled_from_what_fnsync_applied(
    project: Project, env: dict[str, str], appwrite_version: str, appwrite_sdk: Any, tmp_path: Path
) -> None:
    """1.6 has no secret flag: fnsync's record of the keys it applied as sensitive says which old values to hide."""
    project.functions["api"]["variables"] = {"LOG_LEVEL": "debug", "MODE": OLD_PLAIN, "TOKEN": "${OLD_TOKEN}"}
    applied = fnsync(project.write(), env | {"OLD_TOKEN": OLD_SECRET}, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    record = server_values(appwrite_sdk)["FNSYNC_SECRET_DIGESTS"]
    if appwrite_version == "1.6.2":  # key names only: no salt, no digests (the values read back anyway)
        assert record == '{"fnsync":1,"sensitive":["TOKEN"]}'
    else:
        assert '"digests":{"TOKEN":' in record and "sensitive" not in record

    # plain -> plain is shown; sensitive -> plain is hidden; plain -> sensitive shows the old plain value
    project.functions["api"]["variables"] = {"LOG_LEVEL": "info", "MODE": "${NEW_TOKEN}", "TOKEN": "now-plain"}
    if appwrite_version != "1.6.2":  # a secret stays secret unless told (docs/plan-apply.md "Secret variables")
        project.functions["api"]["variables"]["TOKEN"] = {"value": "now-plain", "secret": False}
    project.write()
    new_env = env | {"NEW_TOKEN": NEW_SECRET}
    out = plan_outputs(project, new_env, tmp_path / "plan.json")
    changes: dict[str, Any] = {}
    for c in json.loads(out["json"])["changes"]:  # the first per key (1.7+ replaces a secret made plain: delete, create)
        changes.setdefault(c.get("key"), c)
    assert changes["LOG_LEVEL"]["before"] == {**changes["LOG_LEVEL"]["before"], "value": "debug", "sensitive": False}
    assert '~ variable LOG_LEVEL: "debug" -> "info"' in out["text"]
    assert changes["MODE"]["before"]["value"] == OLD_PLAIN and changes["MODE"]["before"]["sensitive"] is False
    assert f'~ variable MODE: "{OLD_PLAIN}" -> (sensitive)' in out["text"]
    assert changes["TOKEN"]["before"]["value"] is None and changes["TOKEN"]["before"]["sensitive"] is True
    assert OLD_SECRET not in "".join(out.values()) and NEW_SECRET not in "".join(out.values())

    again = fnsync(project, new_env, "apply", "--yes")
    assert again.exit_code == 0, again.output
    if appwrite_version == "1.6.2":
        assert server_values(appwrite_sdk)["FNSYNC_SECRET_DIGESTS"] == '{"fnsync":1,"sensitive":["MODE"]}'
    converged = fnsync(project, new_env, "plan", "--json")
    assert converged.exit_code == 0 and json.loads(converged.stdout)["changes"] == [], converged.output

    project.functions["api"]["variables"] = {"LOG_LEVEL": "warn", "MODE": "plain-again", "TOKEN": "now-plain"}
    if appwrite_version != "1.6.2":
        project.functions["api"]["variables"]["MODE"] = {"value": "plain-again", "secret": False}
    applied = fnsync(project.write(), env, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    assert "FNSYNC_SECRET_DIGESTS" not in server_values(appwrite_sdk)  # removed: nothing sensitive is left
    assert NEW_SECRET not in applied.output and "plain-again" in applied.output
    assert json.loads(fnsync(project, env, "plan", "--json").stdout)["changes"] == []
