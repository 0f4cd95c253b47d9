"""`--branch-env BRANCH=ENV`: a push to BRANCH loads the commit's manifest with environment ENV, so staging and
production branches deploy their own settings and variables from one manifest; an environment the manifest
does not define fails the delivery terminally with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from appwrite.services.functions import Functions

from tests.syncer.support import run_cli
from tests.webhook.conftest import INSTALLATION, Receiver, admin
from tests.webhook.test_end_to_end import NODE, REPO_ID, deliver, deployments_of, push, settled
from tests.webhook.support import ZERO, Remote
from webhook import WebhookConfig
from webhook.config import parse_branch_envs

pytestmark = pytest.mark.slow

MANIFEST = """\
version: 1
defaults:
  timeout: 15
functions:
  api:
    name: API
    runtime: node-18.0
    path: api
    entrypoint: index.js
    variables:
      MODE: development
environments:
  staging:
    functions:
      api:
        timeout: 30
        variables:
          MODE: staging
  production:
    defaults:
      timeout: 60
    functions:
      api:
        variables:
          MODE: production
"""


def relink(sdk: Functions, branch: str) -> None:
    """Point `api` at another branch, as the console would (one function is linked to one branch)."""
    function = sdk.get("api")
    sdk.update("api", function["name"], function["runtime"], entrypoint=function["entrypoint"], installation_id=INSTALLATION,
               provider_repository_id=str(REPO_ID), provider_branch=branch, provider_root_directory="api")


def settings(sdk: Functions) -> tuple[int, dict[str, str]]:
    variables = {v["key"]: v["value"] for v in sdk.list_variables("api")["variables"]}
    return int(sdk.get("api")["timeout"]), variables


async def test_each_branch_deploys_its_environment(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    base = remote.commit({"api/index.js": NODE, "functions.yaml": MANIFEST})
    staging = remote.commit({"api/index.js": NODE + "// staging\n"}, branch="staging")
    release = remote.commit({"api/index.js": NODE + "// release\n"}, branch="release/1.0")
    appwrite_sdk.create("api", "api", "node-18.0", entrypoint="index.js", installation_id=INSTALLATION,
                        provider_repository_id=str(REPO_ID), provider_branch="staging", provider_root_directory="api")
    mapping = (("staging", "staging"), ("release/*", "production"), ("*", "production"))  # first match wins
    async with receiver(branch_envs=mapping) as client:
        done = await settled(client, await deliver(client, "push", push(remote, ZERO, staging, None, branch="staging", created=True)))
        assert done["status"] == "done" and set(done["deployments"]) == {"api"}, done
        assert settings(appwrite_sdk) == (30, {"MODE": "staging"})
        history = (await client.get(f"/deliveries/{done['id']}", headers=admin())).json()["history"]
        assert any("loaded with environment staging (branch staging)" in h["message"] for h in history)

        relink(appwrite_sdk, "release/1.0")
        done = await settled(client, await deliver(client, "push", push(remote, ZERO, release, None, branch="release/1.0", created=True)))
        assert done["status"] == "done" and set(done["deployments"]) == {"api"}, done
        assert settings(appwrite_sdk) == (60, {"MODE": "production"})  # the environment's defaults apply

    relink(appwrite_sdk, "main")  # an unmapped branch deploys the manifest as written
    async with receiver() as client:
        done = await settled(client, await deliver(client, "push", push(remote, ZERO, base, None, created=True)))
        assert done["status"] == "done", done
        assert settings(appwrite_sdk) == (15, {"MODE": "development"})


async def test_an_unknown_environment_fails_the_delivery_terminally(receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"api/index.js": NODE, "functions.yaml": MANIFEST})
    appwrite_sdk.create("api", "api", "node-18.0", entrypoint="index.js", installation_id=INSTALLATION,
                        provider_repository_id=str(REPO_ID), provider_branch="main", provider_root_directory="api")
    async with receiver(branch_envs=(("main", "prod"),)) as client:
        failed = await settled(client, await deliver(client, "push", push(remote, ZERO, sha, None, created=True)))
    assert failed["status"] == "failed" and failed["attempts"] == 1, failed
    assert "environment 'prod' (branch main, --branch-env)" in failed["error"]
    assert "unknown environment 'prod'" in failed["error"] and "staging, production" in failed["error"]
    assert deployments_of(appwrite_sdk, "api") == []


# --- configuration -------------------------------------------------------------------------------------------


def test_branch_env_parsing_and_first_match(tmp_path: Path) -> None:
    assert parse_branch_envs(["main=production", " release/*=prod-eu ", "a=b=staging"]) == (
        ("main", "production"), ("release/*", "prod-eu"), ("a=b", "staging"))
    for bad in ("main", "=production", "main=", ""):
        with pytest.raises(ValueError, match="BRANCH=ENV"):
            parse_branch_envs([bad])
    base: dict[str, Any] = {"FNSYNC_WEBHOOK_SECRET": "s"}
    config = WebhookConfig.from_environ({**base, "FNSYNC_WEBHOOK_BRANCH_ENV": "main=production, feature/*=staging,*=dev"},
                                        data_dir=tmp_path)
    assert [config.environment_for(b) for b in ("main", "feature/x", "other")] == ["production", "staging", "dev"]
    flags = WebhookConfig.from_environ({**base, "FNSYNC_WEBHOOK_BRANCH_ENV": "main=production"}, data_dir=tmp_path,
                                       branch_envs=(("main", "staging"),))
    assert flags.environment_for("main") == "staging" and flags.environment_for("dev") is None  # flags win
    with pytest.raises(ValueError, match="environment names"):
        WebhookConfig.from_environ(base, data_dir=tmp_path, branch_envs=(("main", "../prod"),))


def test_cli_refuses_a_bad_branch_env_before_starting(tmp_path: Path) -> None:
    env = {"FNSYNC_WEBHOOK_SECRET": "webhook-secret-for-tests", "APPWRITE_ENDPOINT": "http://127.0.0.1:9/v1", "APPWRITE_PROJECT_ID": "p",
           "APPWRITE_API_KEY": "k", "FNSYNC_WEBHOOK_BRANCH_ENV": None}
    result = run_cli(env, "webhook", "--data", str(tmp_path / "d"), "--branch-env", "main")
    assert result.exit_code == 1 and "expected BRANCH=ENV" in result.output, result.output
    result = run_cli({**env, "FNSYNC_WEBHOOK_BRANCH_ENV": "main=no good"}, "webhook", "--data", str(tmp_path / "d"))
    assert result.exit_code == 1 and "environment names" in result.output, result.output
    assert not (tmp_path / "d").exists()
