"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, pg_ctl on 127.0.0.1 and a free port.

One per pytest session, so one per pytest-xdist worker: its own mkdtemp folder (data dir and socket) and port.

The server refuses to run as root, so under root it runs as the `postgres` user (the Debian package creates it)
with the data dir handed to that user. Each test gets a fresh database (`new_database`), dropped with the
cluster. Without PostgreSQL the tests are skipped locally, but fail in CI (CI=true).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from webhook.store_pg import migrate

CI_INSTALL = "apt-get update && apt-get install -y postgresql"
TEMPLATE = "fnsync_template"  # migrated once per cluster; each test's database is a copy


def find_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    for name in ("initdb",):
        found = shutil.which(name)
        if found and Path(found).resolve().with_name("pg_ctl").exists():
            return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="fnsync-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user: str | None = None
        self._template = False
        if os.geteuid() == 0:  # postgres will not run as root
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *argv: str) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        # The port is free when picked but not held: under pytest-xdist another worker's server may take it
        # before pg_ctl binds it, so a failed start is retried on a newly picked port.
        for attempt in range(3):
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
            try:
                self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
                return
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
                self.port = _free_port()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def drop_database(self, url: str) -> None:
        """Drop a test's database, disconnecting whoever is still connected; a failure only leaves it behind."""
        try:
            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
        except psycopg.Error:
            pass

    def new_database(self, migrated: bool = True) -> str:
        """A fresh database; `migrated`: a copy of a template already at the newest schema (a file copy, faster
        than running the migrations in every test), else an empty one."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            if migrated and not self._template:
                conn.execute(f"CREATE DATABASE {TEMPLATE}")
                migrate(self.url(TEMPLATE))
                self._template = True
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE if migrated else 'template0'}")
        return self.url(name)
