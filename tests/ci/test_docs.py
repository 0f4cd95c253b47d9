"""docs/ci.md's copy-paste workflows: valid YAML, only the action's real inputs and outputs, only real flags."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml

from syncer.cli import cli

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "ci.md").read_text()
ACTION = yaml.safe_load((REPO / "action.yml").read_text())


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE, re.S)


def steps_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow.get("jobs", {}).values() for step in job.get("steps", [])]


def test_workflows_use_the_action_as_it_is() -> None:
    workflows = [yaml.safe_load(text) for text in blocks("yaml")]
    github = [w for w in workflows if "jobs" in w]
    assert len(github) >= 4  # plan on PR, apply on main, nightly drift, Gitea/Forgejo
    uses = [step for w in github for step in steps_of(w) if str(step.get("uses", "")).startswith("your-org/fnsync@")]
    assert {step["with"]["command"] for step in uses} == {"plan", "apply", "drift"}
    for step in uses:
        assert set(step["with"]) <= set(ACTION["inputs"]), step["with"]
    referenced = set(re.findall(r"steps\.fnsync\.outputs\.([a-z-]+)", PAGE))
    assert referenced and referenced <= set(ACTION["outputs"])
    triggers = [w.get("on", w.get(True)) for w in github]  # YAML 1.1 reads the key `on` as true
    assert any("pull_request" in t for t in triggers) and any("schedule" in t for t in triggers)


def fnsync_commands() -> list[list[str]]:
    commands = []
    for text in [*blocks("yaml"), *blocks("sh")]:
        for line in text.splitlines():
            match = re.search(r'(?:^|[\s"/])fnsync (plan|apply|drift|validate|schema)\b([^#\n]*)', line)
            if match:
                commands.append([match.group(1), *shlex.split(match.group(2).strip().rstrip('"'))])
    return commands


def test_every_fnsync_command_in_the_page_parses() -> None:
    commands = fnsync_commands()
    assert len(commands) >= 6
    for argv in commands:
        with click.Context(cli) as ctx:
            command = cli.get_command(ctx, argv[0])
            assert command is not None, argv
            command.make_context(argv[0], argv[1:], parent=ctx)  # raises on an unknown flag or bad choice


def test_gitlab_pipeline_comments_only_in_merge_request_pipelines() -> None:
    [gitlab] = [yaml.safe_load(text) for text in blocks("yaml") if "fnsync-plan:" in text]
    plan = gitlab["fnsync-plan"]
    assert plan["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert any("--comment" in line for line in plan["script"])
