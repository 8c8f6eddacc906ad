"""Events waiting for the bridge, in a SQLite file in the addon's profile folder.

An event is committed here before any attempt to send it, and leaves only once the bridge took it
(or refused it for good), so a bridge outage or a Kodi restart loses nothing and sends in order.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from typing import Any

log = logging.getLogger("kodibridge.queue")

LIMIT = 10_000  # about a year of heavy viewing; beyond it the oldest go


class DiskQueue:
    def __init__(self, path: str, limit: int = LIMIT):
        self.limit = limit
        self._lock = threading.Lock()  # player callbacks and the sender thread share it
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)")

    def put(self, event: dict[str, Any]) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO events (body) VALUES (?)", (json.dumps(event, sort_keys=True),))
            (count,) = self._db.execute("SELECT COUNT(*) FROM events").fetchone()
            over = count - self.limit
            if over > 0:
                self._db.execute("DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?)", (over,))
        if over > 0:
            log.warning("queue full (%d events waiting for the bridge): dropped the oldest %d", self.limit, over)

    def head(self, n: int = 50) -> list[tuple[int, dict[str, Any]]]:
        """The oldest `n` events, oldest first, with their queue ids."""
        with self._lock:
            rows = self._db.execute("SELECT id, body FROM events ORDER BY id LIMIT ?", (n,)).fetchall()
        return [(row_id, json.loads(body)) for row_id, body in rows]

    def remove(self, row_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM events WHERE id = ?", (row_id,))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
