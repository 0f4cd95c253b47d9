"""Run the local server: API key persistence, a thread runner for embedding, and the foreground command.

While a server runs it leaves `server.json` (endpoint, pid, project) in its data dir, so other
fnsync commands can find it with `find_running(data_dir)`; the file is removed on a clean exit and
ignored when its pid is gone or its endpoint no longer answers.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
from rich.console import Console

from localserver.app import create_app
from localserver.config import ServerConfig
from localserver.files import private_dir, write_private
from localserver.sandbox import choose_mode

KEY_FILE = "api-key"
DISCOVERY_FILE = "server.json"


def ensure_api_key(data_dir: Path, explicit: str | None) -> str:
    """The key to serve with: `explicit` if given, else the one kept in the data dir (made once, mode 0600)."""
    if explicit:
        return explicit
    path = data_dir / KEY_FILE
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            path.chmod(0o600)  # an older key file may have been created readable by others
            return stored
    private_dir(data_dir)
    key = "standard_" + secrets.token_hex(64)
    write_private(path, key + "\n")
    return key


def _bind(host: str, port: int) -> socket.socket:
    """Bind and listen before announcing the endpoint, so clients never see a refused connection."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _endpoint(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/v1"


def _uvicorn(config: ServerConfig, endpoint: str) -> uvicorn.Server:
    app = create_app(config.model_copy(update={"public_endpoint": endpoint}))
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))


@dataclass
class RunningServer:
    """A server running in a daemon thread of this process."""

    endpoint: str
    config: ServerConfig
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 20.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout)


def start_in_thread(config: ServerConfig, host: str = "127.0.0.1", port: int = 0, timeout: float = 20.0) -> RunningServer:
    """Start uvicorn in a daemon thread and return once it accepts requests (port 0 picks a free port)."""
    sock = _bind(host, port)
    endpoint = _endpoint(host, sock.getsockname()[1])
    server = _uvicorn(config, endpoint)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="fnsync-local-server")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"local server did not start on {endpoint}")
        time.sleep(0.02)
    return RunningServer(endpoint=endpoint, config=config.model_copy(update={"public_endpoint": endpoint}), server=server, thread=thread)


def _write_discovery(data_dir: Path, endpoint: str, project: str) -> Path:
    path = data_dir / DISCOVERY_FILE
    write_private(path, json.dumps({"endpoint": endpoint, "pid": os.getpid(), "project": project}))
    return path


def _remove_discovery(path: Path) -> None:
    """Remove the discovery file only if it is still ours (another server may have replaced it)."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_running(data_dir: Path) -> dict[str, Any] | None:
    """`{endpoint, pid, project}` of a live server on `data_dir`, or None if there is none."""
    try:
        info = json.loads((data_dir / DISCOVERY_FILE).read_text())
        pid, endpoint = int(info["pid"]), str(info["endpoint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid):
        return None
    try:
        response = httpx.get(endpoint.rstrip("/") + "/health/version", timeout=2.0)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return info


def serve_forever(config: ServerConfig, host: str = "127.0.0.1", port: int = 8080, console: Console | None = None) -> None:
    """Serve in the foreground until SIGINT or SIGTERM, then shut down cleanly and exit normally."""
    console = console or Console(highlight=False, soft_wrap=True)
    mode, why = choose_mode(config.sandbox)  # a sandbox asked for but unusable stops here, before binding
    sock = _bind(host, port)
    endpoint = _endpoint(host, sock.getsockname()[1])
    server = _uvicorn(config, endpoint)
    private_dir(config.data_dir)
    discovery = _write_discovery(config.data_dir, endpoint, config.project_id)

    # uvicorn re-raises the signal that stopped it once its own handlers are removed; with ours in
    # place that becomes a no-op, so the process leaves through the normal path (and cleans up).
    def swallow(sig: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, swallow) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        console.print(f"[bold]fnsync local server[/bold] (Appwrite {config.version} Functions API)")
        console.print(f"  Endpoint:   {endpoint}")
        console.print(f"  Project ID: {config.project_id}")
        console.print(f"  API key:    {config.api_key}")
        console.print(f"  Data:       {config.data_dir}")
        if mode == "none":
            console.print(f"  Sandbox:    [bold red]none: USER CODE IS NOT ISOLATED[/bold red] ({why}); see docs/sandbox.md")
        else:
            console.print(f"  Sandbox:    {mode} ({why})")
        console.print("Press Ctrl+C to stop.")
        console.file.flush()
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        _remove_discovery(discovery)
