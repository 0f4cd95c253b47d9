"""Run a composite action's steps as the shell commands they are, the way a GitHub runner does.

No GitHub runner is available here, so this reproduces the part of one that `action.yml` relies on: inputs
with their defaults, `${{ ... }}` in `env:`/`working-directory:`/outputs (only the expressions the action uses;
any other one fails the test instead of being skipped), `bash --noprofile --norc -eo pipefail` per step, the
GITHUB_OUTPUT file of each step, GITHUB_PATH additions for the following steps, and the job summary file.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Runner:
    """One job's runner: its folders and the variables every step sees."""

    root: Path
    workspace: Path
    token: str
    env: dict[str, str] = field(default_factory=dict)  # the workflow's env (APPWRITE_*, GITHUB_* of the event)
    path: list[str] = field(default_factory=list)  # GITHUB_PATH additions so far, newest first

    def __post_init__(self) -> None:
        self.temp = self.root / "runner-temp"
        self.temp.mkdir(parents=True, exist_ok=True)
        self.summary = self.root / "step-summary.md"
        self.summary.touch()


@dataclass
class StepResult:
    id: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


@dataclass
class ActionResult:
    steps: list[StepResult]
    outputs: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(step.returncode == 0 for step in self.steps)

    @property
    def log(self) -> str:
        return "\n".join(step.stdout + step.stderr for step in self.steps)


def run_action(action_dir: Path, runner: Runner, inputs: dict[str, str], *, skip: tuple[str, ...] = ()) -> ActionResult:
    """Run `action_dir/action.yml` with `inputs`; steps whose id is in `skip` are left out (already done)."""
    action = yaml.safe_load((action_dir / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    unknown = set(inputs) - set(action["inputs"])
    assert not unknown, f"not inputs of the action: {unknown}"
    context: dict[str, Any] = {"action_path": str(action_dir), "token": runner.token, "steps": {}}
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    values = {name: evaluate(value, values, context) for name, value in values.items()}
    values.update(inputs)
    results: list[StepResult] = []
    for step in action["runs"]["steps"]:
        if step.get("id") in skip:
            continue
        result = _run_step(step, runner, values, context)
        results.append(result)
        context["steps"][result.id] = result.outputs
        if result.returncode != 0:
            return ActionResult(results, {})
    outputs = {name: evaluate(spec["value"], values, context) for name, spec in action.get("outputs", {}).items()}
    return ActionResult(results, outputs)


def _run_step(step: dict[str, Any], runner: Runner, inputs: dict[str, str], context: dict[str, Any]) -> StepResult:
    assert step.get("shell") == "bash" and "run" in step, f"only `run:` steps in bash are supported: {step}"
    step_id = step.get("id", "")
    output_file = runner.root / f"output-{step_id}"
    output_file.write_text("")
    path_file = runner.root / f"path-{step_id}"
    path_file.write_text("")
    script = runner.root / f"step-{step_id}.sh"
    script.write_text(step["run"])
    env = {
        "PATH": os.pathsep.join([*runner.path, os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": os.environ.get("HOME", str(runner.root)),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(runner.temp),
        "GITHUB_WORKSPACE": str(runner.workspace),
        "GITHUB_ACTION_PATH": context["action_path"],
        "GITHUB_OUTPUT": str(output_file),
        "GITHUB_PATH": str(path_file),
        "GITHUB_STEP_SUMMARY": str(runner.summary),
        **runner.env,
        **{name: evaluate(str(value), inputs, context) for name, value in (step.get("env") or {}).items()},
    }
    cwd = runner.workspace / evaluate(str(step.get("working-directory", ".")), inputs, context)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )
    runner.path[:0] = reversed([line for line in path_file.read_text().splitlines() if line])
    return StepResult(step_id, done.returncode, done.stdout, done.stderr, parse_outputs(output_file.read_text()))


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's two forms: `name=value` lines and `name<<DELIMITER` ... `DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def evaluate(text: str, inputs: dict[str, str], context: dict[str, Any]) -> str:
    """Substitute the `${{ }}` expressions action.yml uses; anything else is a test failure."""

    def one(match: re.Match[str]) -> str:
        expression = match.group(1)
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return inputs[parts[1]]
        if expression == "github.action_path":
            return str(context["action_path"])
        if expression == "github.token":
            return str(context["token"])
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return str(context["steps"].get(parts[1], {}).get(parts[3], ""))
        raise AssertionError(f"the test runner does not know the expression ${{{{ {expression} }}}}")

    return EXPRESSION.sub(one, text)
