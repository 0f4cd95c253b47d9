"""Run a fake VCS API (a Litestar app) on 127.0.0.1, port 0, in a daemon thread; shared by the fakes."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from typing import Any

import uvicorn
from litestar import Litestar, Request

from tests.helpers import wait_until


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


async def read_json(request: Request) -> tuple[Any, bool]:
    """(body, ok): the parsed JSON body (None when empty), ok=False when it is not JSON."""
    raw = await request.body()
    if not raw:
        return None, True
    try:
        return json.loads(raw), True
    except json.JSONDecodeError:
        return None, False


class ServedApp:
    """`with ServedApp(app) as served:` the app listening; `served.url` is its base URL."""

    def __init__(self, app: Litestar, what: str) -> None:
        self.what = what
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, what=f"{self.what} start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
