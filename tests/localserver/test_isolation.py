"""Malicious functions (Python and Node.js) against the sandbox, with real processes.

Each one tries to read the server's API key file, its database, another function's code (both the data
dir's copy and the victim's private copy) and the server's /proc environ, and leaves a daemon behind.
It must get nothing, its environment must hold none of the server's, and after a timeout and a server
stop no process of it may be left. Run under bubblewrap and under the unprivileged-user fallback.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localserver import sandbox
from localserver.server import ensure_api_key
from tests.functions.harness import sdk
from tests.helpers import wait_until
from tests.localserver.sandboxing import modes, survivors
from tests.localserver.support import create_function, running_server, upload, wait_built

SERVER_SECRET = "server-secret-" + secrets.token_hex(8)

PYTHON_ATTACK = b'''
import json, os, time

def attempt(path):
    try:
        with open(path, "rb") as handle:
            return "READ " + handle.read(4000).decode("utf-8", "replace")
    except OSError as exc:
        return "denied " + type(exc).__name__

def leave_daemon(marker):
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/usr/bin/sleep", ["sleep", marker])
        os._exit(0)
    os.waitpid(child, 0)

def main(context):
    targets = json.loads(os.environ["TARGETS"])
    seen = {path: attempt(path) for path in targets}
    seen["/proc/parent/environ"] = attempt(f"/proc/{os.getppid()}/environ")
    try:
        seen["listing"] = sorted(os.listdir(os.environ["DATA_DIR"]))
    except OSError as exc:
        seen["listing"] = "denied " + type(exc).__name__
    seen["env"] = dict(os.environ)
    leave_daemon(os.environ["MARKER"])
    if context.req.path == "/hang":
        time.sleep(60)
    return context.res.json(seen)
'''

NODE_ATTACK = b'''
const fs = require("node:fs");
const cp = require("node:child_process");

function attempt(path) {
  try {
    return "READ " + fs.readFileSync(path).subarray(0, 4000).toString("utf8");
  } catch (err) {
    return "denied " + err.code;
  }
}

module.exports = async ({ req, res }) => {
  const seen = {};
  for (const path of JSON.parse(process.env.TARGETS)) seen[path] = attempt(path);
  seen["/proc/parent/environ"] = attempt(`/proc/${process.ppid}/environ`);
  try {
    seen.listing = fs.readdirSync(process.env.DATA_DIR).sort();
  } catch (err) {
    seen.listing = "denied " + err.code;
  }
  seen.env = { ...process.env };
  cp.spawn("/usr/bin/sleep", [process.env.MARKER], { detached: true, stdio: "ignore" }).unref();
  if (req.path === "/hang") await new Promise((resolve) => setTimeout(resolve, 60000));
  return res.json(seen);
};
'''

ATTACKS = {"python": ("python-3.11", "main.py", PYTHON_ATTACK), "node": ("node-20.0", "index.js", NODE_ATTACK)}


@pytest.fixture(params=modes())
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A server in one sandbox mode with a victim function deployed, and the server's environment holding secrets."""
    data = tmp_path / "data"
    key = ensure_api_key(data, None)  # the key file an attacker would go for
    os.environ["FNSYNC_SERVER_SECRET"] = SERVER_SECRET
    try:
        with running_server(data, sandbox=request.param, api_key=key) as (server, runner):
            functions = sdk(server)
            create_function(functions, "victim", "python-3.11")
            victim = upload(functions, "victim", files={"main.py": b"# victim-code\ndef main(context):\n    return context.res.text('v')\n"})
            assert wait_built(functions, "victim", victim["$id"])["status"] == "ready"
            assert functions.create_execution("victim")["status"] == "completed"  # its private copy exists now
            yield {"mode": request.param, "server": server, "runner": runner, "functions": functions,
                   "data": data, "key": key, "victim": victim["$id"]}
    finally:
        os.environ.pop("FNSYNC_SERVER_SECRET", None)


def _deploy_attacker(env: dict[str, Any], family: str, marker: str, timeout: int = 15) -> None:
    functions, data = env["functions"], env["data"]
    runtime, entrypoint, code = ATTACKS[family]
    victim_copy = sandbox.run_root_for(data) / "functions" / "victim" / env["victim"] / "code" / "main.py"
    targets = [str(data / "api-key"), str(data / "state.sqlite3"), str(data / "state.sqlite3-wal"),
               str(data / "builds" / "victim" / env["victim"] / "code" / "main.py"), str(victim_copy),
               f"/proc/{os.getpid()}/environ"]
    for target in targets:
        assert Path(target).exists(), target  # each is real: what the function gets proves the wall, not a typo
    functions.create("attacker", "attacker", runtime, entrypoint=entrypoint, timeout=timeout)
    for name, value in {"TARGETS": json.dumps(targets), "MARKER": marker, "DATA_DIR": str(data)}.items():
        functions.create_variable("attacker", name, value)
    built = wait_built(functions, "attacker", upload(functions, "attacker", files={entrypoint: code})["$id"])
    assert built["status"] == "ready", built["buildLogs"]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["python", "node"])
def test_malicious_function_gets_nothing_and_leaves_nothing(hostile: dict[str, Any], family: str) -> None:
    marker = f"{900 + secrets.randbelow(99)}.{secrets.randbelow(10**6):06d}"
    _deploy_attacker(hostile, family, marker)
    execution = hostile["functions"].create_execution("attacker")
    assert execution["status"] == "completed", execution["errors"]
    seen = json.loads(execution["responseBody"])

    for path, outcome in seen.items():
        if path.startswith("/") and path != "/proc/parent/environ":
            assert outcome.startswith("denied"), f"{hostile['mode']}/{family} read {path}: {outcome[:80]}"
    assert seen["listing"].startswith("denied")
    text = json.dumps(seen)
    for secret in (hostile["key"], SERVER_SECRET, "victim-code"):
        assert secret not in text, f"{secret[:12]}... reached the function"
    assert not [name for name in seen["env"] if name.startswith("FNSYNC_")]
    assert seen["env"]["HOME"] != os.environ.get("HOME")

    hostile["runner"].stop()
    assert survivors(marker) == []


@pytest.mark.slow
@pytest.mark.parametrize("family", ["python", "node"])
def test_daemonizing_function_that_times_out(hostile: dict[str, Any], family: str) -> None:
    marker = f"{800 + secrets.randbelow(99)}.{secrets.randbelow(10**6):06d}"
    _deploy_attacker(hostile, family, marker, timeout=2)
    functions = hostile["functions"]

    timed_out = functions.create_execution("attacker", path="/hang")
    assert (timed_out["status"], timed_out["responseStatusCode"]) == ("failed", 500)
    assert "timed out" in timed_out["errors"]
    wait_until(lambda: survivors(marker) == [], timeout=10, what="the daemon to die with its worker")

    queued = functions.create_execution("attacker", xasync=True, path="/hang")
    done = wait_until(lambda: (e := functions.get_execution("attacker", queued["$id"]))["status"] not in ("waiting", "processing") and e,
                      timeout=30, what="the async execution to end")
    assert done["status"] == "failed" and "timed out" in done["errors"]

    again = functions.create_execution("attacker")  # the server is fine: a fresh worker serves the next call
    assert again["status"] == "completed"
    assert functions.create_execution("victim")["status"] == "completed"

    hostile["runner"].stop()
    assert survivors(marker) == []
