"""`fnsync exec` shows what the function printed, and a failure shows the function's own traceback (issue 13, point 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import fnsync

pytestmark = pytest.mark.slow

LOGGER = """\
def main(context):
    context.log("hello from log")
    context.error("careful from error")
    return context.res.text("the body")
"""

FAILER = """\
def helper():
    raise ValueError("bad input")


def main(context):
    helper()
"""

NODE_FAILER = """\
export default async ({ log }) => {
  log("node log line");
  throw new Error("node went wrong");
};
"""


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for fid, name, text in (("logger", "main.py", LOGGER), ("failer", "main.py", FAILER), ("nfailer", "index.js", NODE_FAILER)):
        (tmp_path / "fn" / fid).mkdir(parents=True)
        (tmp_path / "fn" / fid / name).write_text(text)
    (tmp_path / "functions.yaml").write_text(
        "version: 1\nfunctions:\n"
        "  logger: {name: Logger, runtime: python-3.12, path: fn/logger, entrypoint: main.py}\n"
        "  failer: {name: Failer, runtime: python-3.12, path: fn/failer, entrypoint: main.py}\n"
        "  nfailer: {name: NFailer, runtime: node-20.0, path: fn/nfailer, entrypoint: index.js}\n"
    )
    applied = fnsync("apply")
    assert applied.exit_code == 0, applied.output
    return tmp_path


def test_exec_shows_logs_after_the_response(deployed: Path) -> None:
    result = fnsync("exec", "logger")
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith("the body")  # the body stays last on stdout, pipeable
    assert "--- function log ---\nhello from log" in result.stderr
    assert "--- function errors ---\ncareful from error" in result.stderr


def test_python_failure_shows_only_the_function_frames(deployed: Path) -> None:
    result = fnsync("exec", "failer")
    assert result.exit_code == 1
    assert "ValueError: bad input" in result.stderr
    assert 'line 6, in main' in result.stderr and "in helper" in result.stderr
    assert "worker_python" not in result.stderr and "localserver" not in result.stderr


@pytest.mark.slow
def test_node_failure_shows_only_the_function_frames(deployed: Path) -> None:
    result = fnsync("exec", "nfailer")
    assert result.exit_code == 1
    assert "node log line" in result.stderr
    assert "Error: node went wrong" in result.stderr and "index.js:3" in result.stderr
    assert "worker_node" not in result.stderr and "node:internal" not in result.stderr
