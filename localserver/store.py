"""A small document store over SQLite: one table per collection, documents kept as JSON.

Appwrite stores functions, deployments, builds, variables and executions as documents; we do the
same so that query filtering (`localserver.queries`) works on plain dicts. Each document keeps its
insertion order (`_seq`), which is Appwrite's default list order. All access goes through one
connection guarded by a lock, so concurrent requests and worker threads are safe.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localserver.files import FILE_MODE, private_dir, private_file

Document = dict[str, Any]

COLLECTIONS = ("functions", "variables", "deployments", "builds", "executions", "meta")


class Store:
    """Thread-safe collections of JSON documents keyed by `$id`, with an optional parent (`parent`)."""

    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        # SQLite gives the -wal and -shm files the database's mode: create it 0600 before SQLite opens it.
        private_file(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if companion.exists():
                companion.chmod(FILE_MODE)
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for name in COLLECTIONS:
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} ("
                " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " id TEXT NOT NULL UNIQUE,"
                " parent TEXT NOT NULL DEFAULT '',"
                " doc TEXT NOT NULL)"
            )
            self._conn.execute(f"CREATE INDEX IF NOT EXISTS {name}_parent ON {name}(parent, seq)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes atomically; nested use joins the outer transaction."""
        with self._lock:
            if self._conn.in_transaction:
                yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def insert(self, collection: str, doc: Document, parent: str = "") -> Document:
        """Insert a new document; raises `KeyError` if the `$id` exists already."""
        with self._lock:
            try:
                self._conn.execute(
                    f"INSERT INTO {collection} (id, parent, doc) VALUES (?, ?, ?)",
                    (doc["$id"], parent, json.dumps(doc)),
                )
            except sqlite3.IntegrityError as exc:
                raise KeyError(doc["$id"]) from exc
        return doc

    def get(self, collection: str, doc_id: str) -> Document | None:
        with self._lock:
            row = self._conn.execute(f"SELECT doc FROM {collection} WHERE id = ?", (doc_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, collection: str, doc: Document) -> Document:
        """Replace an existing document (keeps its position in insertion order)."""
        with self._lock:
            self._conn.execute(f"UPDATE {collection} SET doc = ? WHERE id = ?", (json.dumps(doc), doc["$id"]))
        return doc

    def delete(self, collection: str, doc_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute(f"DELETE FROM {collection} WHERE id = ?", (doc_id,))
        return cur.rowcount > 0

    def delete_children(self, collection: str, parent: str) -> int:
        with self._lock:
            cur = self._conn.execute(f"DELETE FROM {collection} WHERE parent = ?", (parent,))
        return cur.rowcount

    def all(self, collection: str, parent: str | None = None) -> list[Document]:
        """Every document of a collection (optionally under one parent), oldest first."""
        with self._lock:
            if parent is None:
                rows = self._conn.execute(f"SELECT doc FROM {collection} ORDER BY seq").fetchall()
            else:
                rows = self._conn.execute(
                    f"SELECT doc FROM {collection} WHERE parent = ? ORDER BY seq", (parent,)
                ).fetchall()
        return [json.loads(row[0]) for row in rows]
