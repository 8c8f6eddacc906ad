"""What each side looked like after the last sync, per account, in SQLite in the state dir.

"Watched on the server since last time" and "removed on Simkl since last time" are facts only
against a record of last time. The baseline keeps, per account: Simkl's `/sync/activities` stamps
and the `date_from` watermark of the last read; Simkl's watched items as last read, plus the
bridge's own writes (a back-dated write never shows in a `date_from` delta); and per media server,
which of its items were watched.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridge.library import LibraryItem, Shelf, Title, TitleShelf
from bridge.sync.plan import Before
from bridge.sync.titles_plan import TitlesBefore

SIMKL = "simkl"
SIMKL_TITLES = "titles:simkl"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reads (
    account TEXT PRIMARY KEY,
    activities TEXT NOT NULL,
    watermark TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    account TEXT NOT NULL,
    side TEXT NOT NULL,
    key TEXT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (account, side, key)
) WITHOUT ROWID;
-- The sides synced at least once: "synced, and it held nothing" is not "never synced".
CREATE TABLE IF NOT EXISTS synced (
    account TEXT NOT NULL,
    side TEXT NOT NULL,
    PRIMARY KEY (account, side)
) WITHOUT ROWID;
"""


class Baseline:
    def __init__(self, path: str | Path):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- Simkl's side ---------------------------------------------------------------------------

    def activities(self, account: str) -> tuple[dict[str, Any], str] | None:
        """The activities stamps and `date_from` watermark of the account's last read; None before
        its first sync."""
        with self._lock:
            row = self._db.execute("SELECT activities, watermark FROM reads WHERE account=?", (account,)).fetchone()
        return None if row is None else (json.loads(row[0]), row[1])

    def simkl(self, account: str) -> Shelf:
        return Shelf(self._entries(account, SIMKL))

    def simkl_titles(self, account: str) -> TitleShelf | None:
        """Simkl's movies and shows with ratings and buckets as last read; None: never synced."""
        return TitleShelf(self._titles(account, SIMKL_TITLES)) if self._synced(account, SIMKL_TITLES) else None

    def save_simkl(self, account: str, activities: dict[str, Any], watermark: str, shelf: Iterable[LibraryItem],
                   titles: TitleShelf | None = None) -> None:
        """Simkl as just read (with the bridge's own writes), in one transaction with its stamps: the
        stamps never move past what the stored sides hold."""
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO reads VALUES (?, ?, ?)", (account, json.dumps(activities), watermark))
            self._replace(account, SIMKL, shelf)
            if titles is not None:
                self._replace(account, SIMKL_TITLES, titles)

    # -- a server's side ------------------------------------------------------------------------

    def before(self, account: str, server: str) -> Before | None:
        """Both sides after the last sync of this account with this server; None for the first."""
        with self._lock:
            synced = self._db.execute("SELECT 1 FROM items WHERE account=? AND side=? LIMIT 1",
                                      (account, _server(server))).fetchone()
        if synced is None or self.activities(account) is None:
            return None
        watched = frozenset(e.key for e in self._entries(account, _server(server)) if e.watched)
        return Before(watched, self.simkl(account))

    def titles_before(self, account: str, server: str) -> TitlesBefore | None:
        """Both sides' titles as this server's last titles sync left them (None before its first).
        Simkl's side is kept per server, as that server took it: what one server missed (down,
        refused, a one-way run) is still a change for it next time, whatever the others did."""
        if not self._synced(account, _titles(server)):
            return None
        return TitlesBefore({t.key: t for t in self._titles(account, _titles(server))},
                            TitleShelf(self._titles(account, _taken(server))))

    def save_titles(self, account: str, server: str, titles: Iterable[Title], simkl: Iterable[Title]) -> None:
        """The server's titles and Simkl's as the server took them, together."""
        with self._transaction():
            self._replace(account, _titles(server), titles)
            self._replace(account, _taken(server), simkl)

    def save_server(self, account: str, server: str, shelf: Iterable[LibraryItem]) -> None:
        with self._transaction():
            self._replace(account, _server(server), shelf)

    # -- storage --------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _entries(self, account: str, side: str) -> list[LibraryItem]:
        with self._lock:
            rows = self._db.execute("SELECT entry FROM items WHERE account=? AND side=?", (account, side)).fetchall()
        return [LibraryItem.from_json(json.loads(r[0])) for r in rows]

    def _titles(self, account: str, side: str) -> list[Title]:
        with self._lock:
            rows = self._db.execute("SELECT entry FROM items WHERE account=? AND side=?", (account, side)).fetchall()
        return [Title.from_json(json.loads(r[0])) for r in rows]

    def _synced(self, account: str, side: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM synced WHERE account=? AND side=?", (account, side)).fetchone() is not None

    def _replace(self, account: str, side: str, shelf: Iterable[LibraryItem | Title]) -> None:
        self._db.execute("DELETE FROM items WHERE account=? AND side=?", (account, side))
        self._db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)",
                             [(account, side, e.key, e.stored if isinstance(e, LibraryItem) else json.dumps(e.to_json()))
                              for e in shelf])
        self._db.execute("INSERT OR IGNORE INTO synced VALUES (?, ?)", (account, side))


def _server(name: str) -> str:
    return f"server:{name}"


def _titles(name: str) -> str:
    return f"titles:server:{name}"


def _taken(name: str) -> str:
    return f"titles:simkl:{name}"

