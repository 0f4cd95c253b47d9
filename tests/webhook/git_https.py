"""A real git server over HTTPS on 127.0.0.1 for token tests: `git http-backend` behind a TLS listener.

The certificate is self-signed, made with the `openssl` CLI for `127.0.0.1` and `localhost`, so one listener
answers under two host names (two "hosts" for git). Every request's Host and Authorization headers are recorded;
`require` makes the repositories private (401 with a Basic challenge without that exact Authorization header).
"""

from __future__ import annotations

import os
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for CN/SAN 127.0.0.1 and localhost, valid one day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


@dataclass
class Seen:
    host: str
    path: str
    authorization: str | None


@dataclass
class _State:
    root: Path
    require: str | None
    seen: list[Seen] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *_: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._cgi()

    def do_POST(self) -> None:  # noqa: N802
        self._cgi()

    def _cgi(self) -> None:
        state = self.server.state
        authorization = self.headers.get("Authorization")
        state.seen.append(Seen(self.headers.get("Host", ""), self.path, authorization))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if state.require is not None and authorization != state.require:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", ""), "GIT_PROJECT_ROOT": str(state.root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command, "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class GitHttpsServer:
    """`with GitHttpsServer(root, certs) as git:` repositories under `root` at `git.url` (and `git.other_url`)."""

    def __init__(self, root: Path, cert: Path, key: Path, require: str | None = None) -> None:
        self.state = _State(root, require)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{port}"
        self.other_url = f"https://localhost:{port}"  # the same listener under another host name
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def seen(self) -> list[Seen]:
        return list(self.state.seen)

    def __enter__(self) -> GitHttpsServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
