"""What a pusher or a slow VCS API can make the receiver do: manifest paths outside the repository all get the
same answer, and an unreachable VCS API never holds up a deployment."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from appwrite.services.functions import Functions

from tests.helpers import async_wait_until
from tests.webhook.conftest import Receiver
from tests.webhook.support import ZERO, Remote
from tests.webhook.test_end_to_end import NODE, deliver, link, push, settled

import pytest
pytestmark = pytest.mark.slow


class StalledApi:
    """Accepts connections and reads what is sent, never answers: an API behind a black hole. Tracks which
    connections the client still holds open."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.received: list[bytes] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.open.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                with self._lock:
                    self.received.append(data)
        except OSError:
            pass
        with self._lock:  # the client gave up (its timeout) or we closed it
            if conn in self.open:
                self.open.remove(conn)

    def waiting(self) -> int:
        """Requests the client has sent and is still waiting on."""
        with self._lock:
            return len(self.open) if self.received else 0

    def close(self) -> None:
        try:  # shutdown first: a listening socket closed while a thread waits in accept() still takes connections
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self._lock:
            for conn in self.open:
                try:  # shutdown, not just close: the client sees the end at once (close alone sends nothing
                    conn.shutdown(socket.SHUT_RDWR)  # while our reader thread is still blocked in recv on it)
                except OSError:
                    pass
                conn.close()


async def test_an_unreachable_vcs_api_does_not_hold_up_the_deployment(
    receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path
) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"a/index.js": NODE})
    link(appwrite_sdk, "loud", "a")
    api = StalledApi()
    try:
        async with receiver(github_api_url=api.url, github_token="ghs_test", report_timeout=600) as client:
            delivery = await deliver(client, "push", push(remote, ZERO, sha, None, created=True))
            async def in_flight() -> int:
                return api.waiting()

            await async_wait_until(in_flight, what="the pending status to be sent")
            done = await settled(client, delivery)
            assert done["status"] == "done" and set(done["deployments"]) == {"loud"}, done
            # deployed while its `pending` status is still in flight: reporting is off the deployment's path
            assert api.waiting() >= 1 and b"/statuses/" in b"".join(api.received)
            api.close()  # lets the shutdown's drain finish at once
    finally:
        api.close()


async def test_manifest_paths_outside_the_repository_get_one_message(
    receiver: Receiver, appwrite_sdk: Functions, tmp_path: Path
) -> None:
    """Whether a host path exists must not show: every path leaving the repository fails the same way."""
    remote = Remote(tmp_path)
    base = remote.commit({"src/index.js": NODE})
    link(appwrite_sdk, "fn-p", "src")
    existing_dir, missing_dir = tmp_path, tmp_path / "no-such-dir"
    (tmp_path / "index.js").write_text(NODE)  # so the existing folder even has the entrypoint
    manifest = "version: 1\nfunctions:\n  fn-p:\n    name: p\n    runtime: node-18.0\n    path: {path}\n    entrypoint: index.js\n{extra}"
    cases = {
        "absolute, exists": {"path": existing_dir, "extra": ""},
        "absolute, missing": {"path": missing_dir, "extra": ""},
        "relative, exists": {"path": "../..", "extra": ""},
        "relative, missing": {"path": "../../no-such-dir", "extra": ""},
        "include, exists": {"path": "src", "extra": "    include: [/etc/hostname]\n"},
        "include, missing": {"path": "src", "extra": "    include: [/no/such/file]\n"},
    }
    errors: dict[str, str] = {}
    async with receiver() as client:
        before = base
        for name, values in cases.items():
            sha = remote.commit({"functions.yaml": manifest.format(**values)})
            failed = await settled(client, await deliver(client, "push", push(remote, before, sha, ["functions.yaml"])))
            assert failed["status"] == "failed", (name, failed)
            errors[name] = failed["error"].replace("'/etc/hostname'", "X").replace("'/no/such/file'", "X")
            before = sha
    paths = {errors[name] for name in cases if not name.startswith("include")}
    includes = {errors[name] for name in cases if name.startswith("include")}
    assert paths == {"function fn-p: path leaves the repository"}, errors
    assert includes == {"function fn-p: include X leaves the repository"}, errors
