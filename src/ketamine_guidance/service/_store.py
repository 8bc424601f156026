"""The SQLite store: feedback from the EHR and the token ids already used.

One file, shared by every worker of one machine (WAL mode lets readers and one writer
work at once).  Each call is one short transaction under a lock, so the store can be
used from the event loop and from threads alike.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    service TEXT NOT NULL,
    card TEXT NOT NULL,
    outcome TEXT NOT NULL,
    outcome_timestamp TEXT NOT NULL,
    override_system TEXT,
    override_code TEXT,
    override_display TEXT,
    user_comment TEXT,
    accepted_suggestions TEXT NOT NULL,
    ruleset_id TEXT NOT NULL,
    ruleset_version TEXT NOT NULL,
    ruleset_digest TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS used_jti (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    exp INTEGER NOT NULL,
    PRIMARY KEY (iss, jti)
);
"""

_COLUMNS = (
    "service",
    "card",
    "outcome",
    "outcome_timestamp",
    "override_system",
    "override_code",
    "override_display",
    "user_comment",
    "accepted_suggestions",
    "ruleset_id",
    "ruleset_version",
    "ruleset_digest",
    "received_at",
)


class Store:
    """Feedback rows and used ``jti`` values in one SQLite file (read it with any SQLite tool)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        # Closed when the store is, or at the latest when it is collected: an app made
        # and dropped without running (a test, an embedding) leaves no open file behind.
        self._closer = weakref.finalize(self, self._db.close)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.execute("PRAGMA journal_mode = WAL")
        # WAL with NORMAL: a commit survives a crash of the service, not of the machine.
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._closer()

    def use_jti(self, iss: str, jti: str, exp: int, now: int) -> bool:
        """Record a token id; False if it was used before (a replay)."""
        with self._lock, self._db:  # one transaction: committed, or rolled back on error
            self._db.execute("DELETE FROM used_jti WHERE exp < ?", (now,))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO used_jti (iss, jti, exp) VALUES (?, ?, ?)", (iss, jti, exp)
            )
            return cursor.rowcount == 1

    def add_feedback(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Store feedback rows (each with every column); return how many."""
        values = [
            tuple(json.dumps(row[c]) if c == "accepted_suggestions" else row[c] for c in _COLUMNS)
            for row in rows
        ]
        marks = ", ".join("?" for _ in _COLUMNS)
        sql = f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES ({marks})"  # noqa: S608
        with self._lock, self._db:
            self._db.executemany(sql, values)
        return len(values)
