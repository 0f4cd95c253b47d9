"""`fnsync apply` (and `plan`) append Markdown to GITHUB_STEP_SUMMARY when a runner sets it, and only then."""

from __future__ import annotations

from pathlib import Path

from tests.ci.support import clean_env, two_function_project
from tests.conftest import LocalServer
from tests.syncer.support import fnsync, server_env

import pytest
pytestmark = pytest.mark.slow

SECRET = "summary-secret-value-987"


def test_apply_writes_the_result_and_its_plan_to_the_job_summary(tmp_path: Path, local_server: LocalServer) -> None:
    project = two_function_project(tmp_path / "repo")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {**clean_env(GITHUB_STEP_SUMMARY=str(summary)), **server_env(local_server, API_TOKEN=SECRET)}

    applied = fnsync(project, env, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, never overwritten
    assert "### fnsync apply for `functions.yaml`" in text and "**✅ Apply complete**" in text
    assert "| `api` | ✅ |" in text and "| `cron` | ✅ |" in text
    assert "#### The plan it applied" in text and "Plan: 2 to create" in text
    assert SECRET not in text

    again = fnsync(project, env, "apply", "--yes")
    assert again.exit_code == 0
    assert summary.read_text().count("### fnsync apply") == 2 and "**No changes.**" in summary.read_text()


def test_an_unwritable_summary_is_a_warning_not_a_failure(tmp_path: Path, local_server: LocalServer) -> None:
    project = two_function_project(tmp_path / "repo")
    env = {**clean_env(GITHUB_STEP_SUMMARY=str(tmp_path)), **server_env(local_server, API_TOKEN=SECRET)}  # a folder
    result = fnsync(project, env, "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "could not write the job summary" in result.stderr
