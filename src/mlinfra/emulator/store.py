"""The control plane's durable memory: one SQLite file of JSON records keyed by kind and name.

Records are the API's own dicts (what Describe* returns, before projection), so the store needs
no schema per resource kind and a restarted emulator answers exactly as before.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
"""


class StoreError(Exception):
    """The state file is unusable (another format version, corrupt)."""


class Store:
    """Thread-safe JSON records in SQLite; one connection guarded by a lock.

    The control plane is low-traffic and every call is a few microseconds of SQLite work, so a
    single connection under a lock is simpler and no slower than a pool.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._writes: dict[str, int] = {}  # kind -> puts and deletes since opened
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not an mlinfra emulator state file ({exc})") from None
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT_VERSION),))
        elif row[0] != str(FORMAT_VERSION):
            raise StoreError(
                f"{path}: state format {row[0]}, this mlinfra reads format {FORMAT_VERSION}"
            )

    @property
    def lock(self) -> threading.RLock:
        """Held by the control plane around read-modify-write sequences."""
        return self._lock

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM resources WHERE kind=? AND name=?", (kind, name)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, name: str, record: dict[str, Any], created: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?)",
                (kind, name, created, json.dumps(record)),
            )
            self._writes[kind] = self._writes.get(kind, 0) + 1

    def delete(self, kind: str, name: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM resources WHERE kind=? AND name=?", (kind, name))
            self._writes[kind] = self._writes.get(kind, 0) + 1
        return cur.rowcount > 0

    def writes(self, kind: str) -> int:
        """How many times records of `kind` were written or deleted since the store opened:
        what a service keeping them in memory compares to know its copy is current."""
        with self._lock:
            return self._writes.get(kind, 0)

    def all(self, kind: str, prefix: str = "") -> list[dict[str, Any]]:
        """Every record of a kind (whose name starts with `prefix`), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM resources WHERE kind=? AND substr(name, 1, ?)=? "
                "ORDER BY created, name",
                (kind, len(prefix), prefix),
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
