"""Bounded memory: a real `fnsync webhook` process deploys a commit holding a 1 GiB file, then takes 40 concurrent
24 MiB unsigned bodies, and its peak RSS (VmHWM) stays under 300 MB throughout."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from appwrite.services.functions import Functions

from tests.conftest import LocalServer
from tests.helpers import wait_until
from tests.webhook.conftest import ADMIN
from tests.webhook.support import SECRET, ZERO, Remote, encode, github_headers
from tests.webhook.test_end_to_end import NODE, active, link, push

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 300 * 1024 * 1024
BIG = 1024 * 1024 * 1024
BODY = 24 * 1024 * 1024


def peak_rss(pid: int) -> int:
    """VmHWM of a process, in bytes."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE).group(1)) * 1024  # type: ignore[union-attr]


@pytest.fixture
def receiver_process(local_server: LocalServer, tmp_path: Path, database: str | None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    env = {**os.environ, "FNSYNC_WEBHOOK_SECRET": SECRET, "FNSYNC_ADMIN_TOKEN": ADMIN, "APPWRITE_ENDPOINT": local_server.endpoint,
           "APPWRITE_PROJECT_ID": local_server.project, "APPWRITE_API_KEY": local_server.api_key}
    for name in ("GITHUB_TOKEN", "GITLAB_TOKEN", "GITEA_TOKEN"):
        env.pop(name, None)
    log = tmp_path / "receiver.log"
    argv = [sys.executable, "-c", "from syncer.cli import main; main()", "webhook", "--port", "0", "--data", str(tmp_path / "data"),
            "--allow-clone-url", "file://*", *(("--database", database) if database else ())]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=out, cwd=ROOT)
    try:
        def listening() -> str | None:
            assert process.poll() is None, log.read_text()
            found = re.findall(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            return found[-1] if found else None

        url = wait_until(listening, timeout=60, what="the receiver to listen")
        wait_until(lambda: _healthy(url), timeout=30, what="the receiver to answer")
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz").status_code == 200
    except httpx.TransportError:
        return False


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.slow
def test_peak_memory_stays_bounded(receiver_process: tuple[str, subprocess.Popen[bytes]], appwrite_sdk: Functions, tmp_path: Path) -> None:
    url, process = receiver_process
    remote = Remote(tmp_path / "repo")
    work = Path(remote.work.working_tree_dir or ".")
    (work / "fn").mkdir()
    (work / "fn" / "index.js").write_text(NODE)
    (work / "assets").mkdir()
    with (work / "assets" / "big.bin").open("wb") as big:
        big.truncate(BIG)  # sparse: costs no disk here; git stores it compressed, the export writes it out
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "a 1 GiB asset")
    _git(work, "push", "-q", "origin", "HEAD:refs/heads/main")
    sha = remote.work.head.commit.hexsha
    link(appwrite_sdk, "fn-big", "fn")

    body = encode(push(remote, ZERO, sha, None, created=True))
    answer = httpx.post(f"{url}/webhooks/github", content=body, headers=github_headers("push", body))
    assert answer.status_code == 202, answer.text
    delivery = answer.json()["delivery"]

    def finished() -> dict | None:  # type: ignore[type-arg]
        record = httpx.get(f"{url}/deliveries/{delivery}", headers={"Authorization": f"Bearer {ADMIN}"}).json()
        return record if record["status"] in ("done", "failed") else None

    record = wait_until(finished, timeout=600, interval=0.5, what="the 1 GiB commit to deploy")
    assert record["status"] == "done" and active(appwrite_sdk, "fn-big") == record["deployments"]["fn-big"], record
    after_deploy = peak_rss(process.pid)
    assert after_deploy < LIMIT, f"peak RSS {after_deploy / 2**20:.0f} MiB while deploying a 1 GiB file"

    # a body declared over the cap is refused before any of it is read
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as raw:
        raw.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 413"), "expected 413 before the body"

    # 40 concurrent unsigned bodies of 24 MiB: read a few at a time, each refused with 401
    payload = b'{"padding": "' + b"x" * (BODY - 20) + b'"}'
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64}

    async def flood() -> list[int]:
        async with httpx.AsyncClient(timeout=120) as client:
            answers = await asyncio.gather(*(client.post(f"{url}/webhooks/github", content=payload, headers=headers) for _ in range(40)))
        return [a.status_code for a in answers]

    started = time.monotonic()
    statuses = asyncio.run(flood())
    assert statuses == [401] * 40, statuses
    peak = peak_rss(process.pid)
    assert peak < LIMIT, f"peak RSS {peak / 2**20:.0f} MiB after 40 concurrent 24 MiB bodies ({time.monotonic() - started:.1f}s)"
    print(f"peak RSS: {after_deploy / 2**20:.0f} MiB after the 1 GiB deploy, {peak / 2**20:.0f} MiB after the bodies")
