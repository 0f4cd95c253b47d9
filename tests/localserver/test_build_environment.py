"""Builds and executions as Appwrite 1.6.2 runs them: the build worker's environment (a dynamic key a build
command can call the API with, never shown in the build log), Appwrite's timing fields, and the memory of
the specification enforced on each process (ported in spirit from tests/e2e/Services/Functions at 1.6.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localserver.cgroups import CpuLimits
from tests.localserver.support import create_function, upload, wait_built

pytestmark = pytest.mark.slow

# A build step that prints its APPWRITE_* environment and calls the API with the build's key (curl, as
# Appwrite users do in build commands); the key itself must never reach the log.
BUILD_COMMANDS = (
    'env | grep "^APPWRITE_" | sort; '
    'curl -s -o /dev/null -w "functions.read=%{http_code}\\n" -H "X-Appwrite-Project: $APPWRITE_FUNCTION_PROJECT_ID" '
    '-H "X-Appwrite-Key: $APPWRITE_FUNCTION_API_KEY" "$APPWRITE_FUNCTION_API_ENDPOINT/functions/$APPWRITE_FUNCTION_ID"; '
    'curl -s -o /dev/null -w "functions.write=%{http_code}\\n" -X DELETE -H "X-Appwrite-Project: $APPWRITE_FUNCTION_PROJECT_ID" '
    '-H "X-Appwrite-Key: $APPWRITE_FUNCTION_API_KEY" "$APPWRITE_FUNCTION_API_ENDPOINT/functions/$APPWRITE_FUNCTION_ID"; '
    'echo "key-length=${#APPWRITE_FUNCTION_API_KEY}"'
)


def _env_lines(logs: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in logs.splitlines() if line.startswith("APPWRITE_") and "=" in line)


def test_build_environment_and_key_as_appwrites_build_worker(appwrite_sdk: Any, local_server: Any) -> None:
    create_function(appwrite_sdk, "fn", "python-3.11", scopes=["functions.read"], specification="s-1vcpu-512mb")
    appwrite_sdk.create_variable("fn", "MY_VAR", "mine")
    done = wait_built(appwrite_sdk, "fn", upload(appwrite_sdk, "fn", commands=BUILD_COMMANDS + '; echo "MY_VAR=$MY_VAR"')["$id"])
    assert done["status"] == "ready", done["buildLogs"]
    logs = done["buildLogs"]
    seen = _env_lines(logs)
    assert seen["APPWRITE_FUNCTION_API_ENDPOINT"] == local_server.endpoint
    assert seen["APPWRITE_FUNCTION_API_KEY"] == "[redacted]"  # printed by `env`, scrubbed from the log
    assert "key-length=" in logs and "key-length=0" not in logs
    assert seen["APPWRITE_FUNCTION_ID"] == "fn" and seen["APPWRITE_FUNCTION_NAME"] == "Fn"
    assert seen["APPWRITE_FUNCTION_DEPLOYMENT"] == done["$id"]
    assert seen["APPWRITE_FUNCTION_PROJECT_ID"] == local_server.project
    assert (seen["APPWRITE_FUNCTION_RUNTIME_NAME"], seen["APPWRITE_FUNCTION_RUNTIME_VERSION"]) == ("Python", "3.11")
    assert (seen["APPWRITE_FUNCTION_CPUS"], seen["APPWRITE_FUNCTION_MEMORY"]) == ("1", "1024")  # builds: >= 1024 MB
    assert seen["APPWRITE_REGION"] == "default" and seen["APPWRITE_VERSION"] == "1.6.2"
    assert "APPWRITE_DEPLOYMENT_TYPE" in seen
    vcs = {name: value for name, value in seen.items() if name.startswith("APPWRITE_VCS_")}
    assert len(vcs) == 12 and set(vcs.values()) == {""}  # not from git
    assert "MY_VAR=mine" in logs
    assert "functions.read=200" in logs and "functions.write=401" in logs  # the function's scopes, no more
    assert local_server.api_key not in logs
    assert appwrite_sdk.get("fn")["$id"] == "fn"


def test_build_time_is_whole_seconds_rounded_up_and_duration_has_fractions(appwrite_sdk: Any) -> None:
    create_function(appwrite_sdk)
    done = wait_built(appwrite_sdk, "fn", upload(appwrite_sdk)["$id"])
    assert done["status"] == "ready"
    assert isinstance(done["buildTime"], int) and done["buildTime"] >= 1  # ceil(end - start): never 0 once built
    execution = appwrite_sdk.create_execution("fn")
    assert execution["status"] == "completed"
    assert isinstance(execution["duration"], float) and execution["duration"] > 0


MEMORY_PROBE = b'''
import json, os

def main(context):
    try:
        block = bytearray(768 * 1024 * 1024)
        outcome = "allocated"
        del block
    except MemoryError:
        outcome = "MemoryError"
    return context.res.json({"outcome": outcome, "memory": os.environ["APPWRITE_FUNCTION_MEMORY"]})
'''


def test_specification_memory_is_enforced(appwrite_sdk: Any) -> None:
    """768 MB fails under s-1vcpu-512mb and works under s-1vcpu-1gb (RLIMIT_DATA; docs/sandbox.md)."""
    create_function(appwrite_sdk, specification="s-1vcpu-512mb")
    assert wait_built(appwrite_sdk, "fn", upload(appwrite_sdk, files={"main.py": MEMORY_PROBE})["$id"])["status"] == "ready"
    small = json.loads(appwrite_sdk.create_execution("fn")["responseBody"])
    assert small == {"outcome": "MemoryError", "memory": "512"}
    appwrite_sdk.update("fn", "Fn", specification="s-1vcpu-1gb")
    large = json.loads(appwrite_sdk.create_execution("fn")["responseBody"])
    assert large == {"outcome": "allocated", "memory": "1024"}


def test_specification_cpus_are_a_cgroup_quota(appwrite_sdk: Any, local_server: Any) -> None:
    """Where the server may create CPU cgroups, the deployment's workers share a quota of `cpus` CPUs."""
    limits = CpuLimits(local_server.data_dir)
    if not limits.available:
        pytest.skip("no writable CPU cgroup controller here: CPU is not limited (docs/sandbox.md)")
    create_function(appwrite_sdk, specification="s-2vcpu-2gb")
    deployment = upload(appwrite_sdk)["$id"]
    assert wait_built(appwrite_sdk, "fn", deployment)["status"] == "ready"
    assert appwrite_sdk.create_execution("fn")["status"] == "completed"
    assert limits.base is not None
    group = limits.base / f"fn.{deployment}"
    quota = (group / "cpu.cfs_quota_us").read_text().strip() if (group / "cpu.cfs_quota_us").exists() \
        else (group / "cpu.max").read_text().split()[0]
    assert quota == "200000"  # 2 CPUs per 100 ms period
    members = [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
    assert members, "the warm worker runs inside its deployment's cgroup"
