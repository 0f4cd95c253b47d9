"""Sensitive values (from ${ENV}) and the API key never appear in any output, plan file or error."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from syncer.planfile import read_planfile
from tests.conftest import LocalServer
from tests.faultproxy import FaultProxy, _error_reply, _Reply
from tests.syncer.support import Project, fnsync, run_all, secret_project, server_env

import pytest
pytestmark = pytest.mark.slow

SECRET = "tok-9f8e7d6c5b4a-SECRET"
SECRET_2 = "tok-rotated-0000-SECRET"


def test_secrets_never_in_output_or_plan_files(tmp_path: Path, local_server: LocalServer, appwrite_version: str) -> None:
    project = secret_project(tmp_path / "p")
    env = server_env(local_server, API_TOKEN=SECRET)
    planfile = tmp_path / "plan.json"
    outputs = run_all(project, env, planfile)
    plan_text = planfile.read_text()

    # then rotate the secret: the update is shown, masked on both sides
    env["API_TOKEN"] = SECRET_2
    rotated = fnsync(project, env, "plan")
    outputs += [rotated.stdout, rotated.stderr]
    # 1.7+: the server's secret flag; 1.6: fnsync's record of the keys it applied as sensitive
    assert "~ variable TOKEN: (sensitive) -> (sensitive)" in rotated.stdout
    rotated_json = fnsync(project, env, "plan", "--json")
    outputs.append(rotated_json.stdout)
    change = json.loads(rotated_json.stdout)["changes"][0]
    assert change["before"]["value"] is None and change["after"]["value"] is None and change["after"]["sensitive"] is True

    everything = "\n".join(outputs) + plan_text
    assert "visible-value" in everything  # the check can fail: plain values do show
    for secret in (SECRET, SECRET_2, local_server.api_key):
        assert secret not in everything
    saved = read_planfile(planfile)
    token = next(c for c in saved.changes if c.get("key") == "TOKEN")
    assert "value" not in token["after"] and len(token["after"]["value_sha256"]) == 64


def test_secrets_scrubbed_from_build_logs_and_errors(tmp_path: Path, local_server: LocalServer) -> None:
    project = Project(tmp_path / "p")
    project.add("api", variables={"TOKEN": "${API_TOKEN}"}, commands=f"echo leaking {SECRET} $API_TOKEN && exit 1")
    project.write()
    env = server_env(local_server, API_TOKEN=SECRET)
    failed = fnsync(project, env, "apply", "--yes")
    assert failed.exit_code == 1
    assert "leaking" in failed.stdout and "[redacted]" in failed.stdout
    as_json = fnsync(project, env, "apply", "--yes", "--json")

    wrong = dict(env, APPWRITE_PROJECT_ID="no-such-project")
    error = fnsync(project, wrong, "plan")
    assert error.exit_code == 1 and "server request failed" in error.stderr

    everything = "\n".join(r.stdout + r.stderr for r in (failed, as_json, error))
    for secret in (SECRET, local_server.api_key):
        assert secret not in everything


def test_scrub_removes_a_secret_that_contains_another_whole() -> None:
    """Replacing the shorter secret first would leave the longer one's tail readable."""
    from syncer.client.errors import REDACTED, scrub

    for order in (("tok", SECRET), (SECRET, "tok")):
        assert scrub(f"failed with {SECRET} and tok", order) == f"failed with {REDACTED} and {REDACTED}"


# --- a secret with quotes, backslashes, slashes, plus and unicode, in every form -----------------------------------

NASTY = 'tok"9f\\8e/7d+6c ü€-SECRET'


def nasty_forms(secret: str = NASTY) -> dict[str, str]:
    """Each form the secret takes in output, computed independently of fnsync's redaction."""
    escaped = json.dumps(secret)[1:-1]
    return {
        "raw": secret,
        "json": escaped,
        "json-utf8": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json-twice": json.dumps(escaped)[1:-1],
        "json-slash": escaped.replace("/", "\\/"),
        "url": quote(secret, safe=""),
        "url-lower": re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        "form": quote_plus(secret),
        "base64": base64.b64encode(secret.encode()).decode(),
        "basic-auth": base64.b64encode(b"user:" + secret.encode()).decode()[8:-4],  # the middle: the secret's bytes
    }


def assert_no_form(everything: str, secret: str = NASTY) -> None:
    for name, form in nasty_forms(secret).items():
        assert form not in everything, f"the {name} form of the secret leaked: {form!r}"


LEAK_PY = """
import base64, json, os, urllib.parse
s = os.environ["TOKEN"]
print("raw", s)
print("json", json.dumps({"t": s}))
print("json-utf8", json.dumps({"t": s}, ensure_ascii=False))
print("url", urllib.parse.quote(s, safe=""))
print("form", urllib.parse.urlencode({"t": s}))
print("b64", base64.b64encode(s.encode()).decode())
print("basic", base64.b64encode(b"user:" + s.encode()).decode())
raise SystemExit(1)
"""


class EchoingServer(FaultProxy):
    """The local server behind a proxy that answers a variable create with a 400 echoing the request body, the way
    servers that quote the offending input do: the secret comes back JSON-escaped inside the error message."""

    async def _forward(self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes) -> _Reply:
        if method == "POST" and target.endswith("/variables") and b'"TOKEN"' in body:
            return _error_reply(400, "general_argument_invalid", f"Invalid `value` param in {body.decode()}")
        return await super()._forward(method, target, headers, body)


def test_a_secret_with_quotes_and_backslashes_never_appears_in_any_form(tmp_path: Path, local_server: LocalServer) -> None:
    project = secret_project(tmp_path / "p")
    env = server_env(local_server, API_TOKEN=NASTY)
    planfile = tmp_path / "plan.json"
    outputs = run_all(project, env, planfile)
    everything = "\n".join(outputs) + planfile.read_text()
    assert "visible-value" in everything
    assert_no_form(everything)
    plan = json.loads(fnsync(project, env, "plan", "--json").stdout)  # still valid JSON, values masked
    assert plan["has_changes"] is False


def test_build_logs_echoing_a_secret_in_every_encoding_are_scrubbed(tmp_path: Path, local_server: LocalServer) -> None:
    project = Project(tmp_path / "p")
    project.add("api", variables={"TOKEN": "${API_TOKEN}"}, commands="python leak.py")
    project.write()
    (project.root / "fn" / "api" / "leak.py").write_text(LEAK_PY)
    env = server_env(local_server, API_TOKEN=NASTY)
    text = fnsync(project, env, "apply", "--yes", root=("-vv",))
    as_json = fnsync(project, env, "apply", "--yes", "--json")
    assert text.exit_code == 1 and as_json.exit_code == 1
    for line in ("raw [redacted]", 'json {"t": "[redacted]"}', "url [redacted]", "t=[redacted]", "b64 [redacted]"):
        assert line in text.stdout, text.stdout  # the build ran and printed: the check can fail
    logs = json.loads(as_json.stdout)["functions"][0]["build_logs"]
    assert "raw [redacted]" in logs and "basic " in logs
    assert_no_form("\n".join((text.stdout, text.stderr, as_json.stdout, as_json.stderr)))


def test_a_server_error_echoing_the_secret_is_scrubbed_in_text_json_and_logs(tmp_path: Path, local_server: LocalServer) -> None:
    project = secret_project(tmp_path / "p")
    with EchoingServer(local_server.endpoint) as server:
        env = server_env(local_server, API_TOKEN=NASTY, APPWRITE_ENDPOINT=server.endpoint)
        text = fnsync(project, env, "apply", "--yes", root=("-vv",))
        as_json = fnsync(project, env, "apply", "--yes", "--json")
    assert text.exit_code == 1 and as_json.exit_code == 1
    assert "Invalid `value` param in" in text.stdout + text.stderr  # the echo reached the output, scrubbed
    result = json.loads(as_json.stdout)
    error = next(f["error"] for f in result["functions"] if f["error"])
    assert "Invalid `value` param in" in error and "[redacted]" in error
    assert_no_form("\n".join((text.stdout, text.stderr, as_json.stdout, as_json.stderr)))


def test_redaction_on_values_before_serialising_and_on_text_forms() -> None:
    from syncer.redact import redact_data, scrub
    from webhook.config import scrub as webhook_scrub

    data = {"error": f"echo {json.dumps({'v': NASTY})}", "list": [NASTY, 3, None], NASTY: True}
    serialised = json.dumps(redact_data(data, [NASTY]))
    assert_no_form(serialised)
    assert json.loads(serialised) == {"error": 'echo {"v": "[redacted]"}', "list": ["[redacted]", 3, None], "[redacted]": True}
    for name, form in nasty_forms().items():
        if name == "basic-auth":  # a fragment: look for it in the whole header value
            header = base64.b64encode(b"user:" + NASTY.encode()).decode()
            assert form not in webhook_scrub(f"Authorization: Basic {header}", {NASTY})
        else:
            assert webhook_scrub(f"git said: {form}!", {NASTY}) == "git said: ***!"
    for offset in range(3):  # base64 of the secret inside a longer encoded text, at each byte alignment
        encoded = base64.b64encode(b"x" * offset + NASTY.encode() + b"tail").decode()
        scrubbed = scrub(encoded, [NASTY])
        assert "[redacted]" in scrubbed and len(scrubbed) < len(encoded) - 20


def test_saved_plan_seals_a_plain_value_holding_a_secret_and_refuses_one_elsewhere(
    tmp_path: Path, local_server: LocalServer, appwrite_sdk: Any, appwrite_version: str
) -> None:
    project = secret_project(tmp_path / "p")
    project.functions["api"]["variables"]["PLAIN"] = f"prefix-{SECRET}"  # written in the clear, but holds the secret
    project.write()
    env = server_env(local_server, API_TOKEN=SECRET)
    planfile = tmp_path / "plan.json"
    saved = fnsync(project, env, "plan", "--out", str(planfile))
    assert saved.exit_code == 0, saved.output
    assert SECRET not in planfile.read_text() and SECRET not in saved.stdout
    applied = fnsync(project, env, "apply", str(planfile), "--yes")
    assert applied.exit_code == 0, applied.output
    values = {v["key"]: v["value"] for v in appwrite_sdk.list_variables("api")["variables"]}
    # restored from the manifest; a secret variable (Appwrite 1.7+) reads back empty
    assert values["PLAIN"] == f"prefix-{SECRET}" and values["TOKEN"] == (SECRET if appwrite_version == "1.6.2" else "")

    project.functions["api"]["commands"] = f"echo {SECRET}"
    project.write()
    planfile.unlink()
    refused = fnsync(project, env, "plan", "--out", str(planfile))
    assert refused.exit_code == 1
    assert "cannot save the plan: function.api would hold a sensitive value outside a variable" in refused.stderr
    assert not planfile.exists() and SECRET not in refused.stdout + refused.stderr


def test_a_short_value_from_the_environment_does_not_refuse_a_saved_plan(tmp_path: Path, local_server: LocalServer) -> None:
    """`DEBUG=1` is sensitive (it came from the environment) but shows in every hash: saving must still work."""
    project = Project(tmp_path / "p")
    project.add("api", variables={"DEBUG": "${DEBUG}"}, timeout=11)
    project.write()
    env = server_env(local_server, DEBUG="1")
    planfile = tmp_path / "plan.json"
    saved = fnsync(project, env, "plan", "--out", str(planfile))
    assert saved.exit_code == 0, saved.output
    applied = fnsync(project, env, "apply", str(planfile), "--yes")
    assert applied.exit_code == 0, applied.output
