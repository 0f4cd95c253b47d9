"""Deploy the fixture functions in this folder to a server through the official `appwrite` SDK."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import Any

from appwrite.input_file import InputFile

from tests.helpers import wait_until

HERE = Path(__file__).resolve().parent


def archive(folder: str | Path, replace: dict[str, str] | None = None) -> bytes:
    """A tar.gz of one fixture folder; `replace` swaps or adds files (path -> text) for variants."""
    root = HERE / folder
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    files.update({name: text.encode() for name, text in (replace or {}).items()})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def deploy(functions: Any, function_id: str, folder: str, entrypoint: str, *, activate: bool = True,
           replace: dict[str, str] | None = None) -> str:
    """Upload a fixture folder, wait until its build is ready (and active); returns the deployment id."""
    deployment = functions.create_deployment(
        function_id, InputFile.from_bytes(archive(folder, replace), "code.tar.gz"), activate, entrypoint=entrypoint
    )
    deployment_id = deployment["$id"]

    def finished() -> dict[str, Any] | None:
        current = functions.get_deployment(function_id, deployment_id)
        return current if current["status"] in ("ready", "failed", "canceled") else None

    result = wait_until(finished, timeout=60, what=f"build of {deployment_id}")
    assert result["status"] == "ready", result["buildLogs"]
    if activate:
        wait_until(lambda: functions.get(function_id)["deployment"] == deployment_id, timeout=20, what="activation")
    return deployment_id


def create_and_deploy(functions: Any, function_id: str, runtime: str, folder: str, entrypoint: str, **settings: Any) -> str:
    functions.create(function_id, function_id, runtime, entrypoint=entrypoint, **settings)
    return deploy(functions, function_id, folder, entrypoint)
