"""The durable outbox: every Simkl write is committed to SQLite before anything is sent.

A write acknowledged by `enqueue` survives a kill -9 at any instant (WAL, synchronous=FULL). A write
that was in flight when the process died is still pending and is resent with the same body and
`watched_at`, which Simkl treats as the same watch. Writes Simkl refuses for good are parked with
their reason (the dead letter), never retried by themselves.

Every watched item's latest mark is also kept in `marks`, a compact table (account, item, when)
that outlives the write it came from: the engine's dedupe and startup reconciliation read it, so
sent writes can be pruned, and the file grows with the items watched, not with how often. Every query the bridge runs while
it works is an index range in the order it wants (tests/test_outbox.py reads the query plans), so
its cost does not grow with the backlog.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bridge import outbox_guard as guard
from bridge.item import Item
from bridge.outbox_guard import OutboxError
from bridge.outbox_migrate import v1_to_v2
from bridge.writes import HISTORY, KINDS, SUPERSEDES, Write

SCHEMA_VERSION = 2
# Each step upgrades a file from the version before it (bridge/outbox_migrate.py).
_MIGRATIONS = {2: v1_to_v2}

PENDING, SENT, PARKED = "pending", "sent", "parked"

SCHEMA = """
CREATE TABLE IF NOT EXISTS writes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    idem_key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    done_at REAL,
    rewatch INTEGER NOT NULL DEFAULT 0,
    rewatch_id INTEGER
);
CREATE INDEX IF NOT EXISTS writes_pending ON writes (account, kind, id) WHERE state='pending';
CREATE INDEX IF NOT EXISTS writes_next ON writes (account, next_at) WHERE state='pending';
CREATE INDEX IF NOT EXISTS writes_supersede ON writes (account, item_key, kind) WHERE state='pending';
CREATE INDEX IF NOT EXISTS writes_sent ON writes (done_at) WHERE state='sent';
CREATE INDEX IF NOT EXISTS writes_parked ON writes (account, id) WHERE state='parked';
CREATE TABLE IF NOT EXISTS marks (
    account TEXT NOT NULL,
    item_key TEXT NOT NULL,
    idem_key TEXT NOT NULL UNIQUE,
    item TEXT NOT NULL,
    at REAL NOT NULL,
    write_id INTEGER NOT NULL,
    PRIMARY KEY (account, item_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS marks_at ON marks (at);
"""
_ENTRY = "id, account, kind, item_key, idem_key, body, at, attempts, next_at, last_error, rewatch, rewatch_id"
# Only an item's latest mark is kept: dedupe and reconciliation ask whether one came after a time.
MARK = ("INSERT INTO marks (account, item_key, idem_key, item, at, write_id) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (account, item_key) DO UPDATE SET idem_key=excluded.idem_key, item=excluded.item, "
        "at=excluded.at, write_id=excluded.write_id WHERE excluded.at >= marks.at")


@dataclass(frozen=True)
class Entry:
    id: int
    account: str
    kind: str
    item_key: str
    idem_key: str
    body: dict[str, Any]
    at: float
    attempts: int
    next_at: float
    last_error: str
    rewatch: bool = False  # Write.rewatch
    rewatch_id: int | None = None  # the session Simkl opened for it: a resend names it again


class Outbox:
    """`create=False` opens an outbox that exists (the CLI's commands): OutboxError when there is
    none. Any file that cannot be trusted raises OutboxRefused (bridge/outbox_guard.py)."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = str(path)
        self._file = None if self.path == ":memory:" else Path(self.path)
        self._lock = threading.RLock()
        self._broken = ""  # why commits are refused: the file was found damaged while running
        seal = None
        if self._file is not None:
            if not create and not self._file.exists():
                raise OutboxError(f"{self.path}: no outbox here yet (the bridge has not run with this state dir)")
            # The state dir also holds tokens: private to the user who runs the bridge.
            self._file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            seal = guard.read_seal(self._file)
            guard.before_open(self._file, seal)
        # One connection shared under a lock: writes are few and small, and one connection keeps
        # SQLite's locking out of the picture for the adapter threads and the sender.
        self._db = self._connect()
        self._opened = guard.file_id(self._file) if self._file is not None else None
        self._upgrade()
        self._id = ""
        self._sealing = create and self._file is not None  # the daemon's outbox, not a CLI command's look
        if self._file is not None:
            self._id = guard.own_id(self._db, self._file, seal)
        if self._sealing:
            self.renew_seal()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self._file is not None:
            guard.refuse_damaged(db, self._file)
        # Freed pages go back to the file system when pruning asks (must precede the first table).
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    def renew_seal(self) -> None:
        """Record this outbox's id and highest write beside it (at start, and hourly by the daemon)."""
        if self._file is not None:
            with self._lock:
                guard.write_seal(self._file, self._id, guard.highest_write(self._db))

    def verify(self) -> str:
        """The daemon's hourly look at the file: '' when it is whole, else why every commit is refused
        from now on (a file damaged under the bridge; restart it to have it copied aside)."""
        with self._lock:
            self._guard_file()
            # A connection of its own: this one's page cache would answer for what the file holds.
            fresh = sqlite3.connect(f"file:{quote(self.path)}?mode=ro", uri=True)
            try:
                problem = guard.damage(fresh)
            finally:
                fresh.close()
            if problem and not self._broken:
                self._broken = f"{self.path} is damaged ({problem}): restart the bridge to keep a copy and recover it"
            return self._broken

    def _guard_file(self) -> None:
        """Before a commit: the path still names the opened file; if not, it is written back."""
        if self._file is not None and guard.file_id(self._file) != self._opened:
            self._db = guard.write_back(self._db, self._file, self._connect)
            self._opened = guard.file_id(self._file)

    def _upgrade(self) -> None:
        """Create the tables, or bring an older file up to SCHEMA_VERSION, in one transaction."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: outbox schema {version} is newer than this simkl-bridge ({SCHEMA_VERSION})")
        with self._tx() as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='writes'").fetchone() is None:
                version = SCHEMA_VERSION
            else:
                version = max(version, 1)  # files of the first release carry no user_version
            for step in range(version + 1, SCHEMA_VERSION + 1):
                _MIGRATIONS[step](db)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            # A file made before incremental vacuum was asked for takes it only through one VACUUM.
            self._db.execute("VACUUM")

    def _tx(self) -> guard.Transaction:
        return guard.Transaction(self)

    def close(self) -> None:
        with self._lock:
            try:
                if self._sealing:
                    self.renew_seal()
            finally:
                self._db.close()

    # -- writing --------------------------------------------------------------------------------

    def enqueue(self, write: Write) -> bool:
        """Commit a write. False when its idem_key is already known (sent, pending, parked or marked)."""
        with self._tx() as db:
            return self._insert(db, write)

    def enqueue_many(self, writes: list[Write]) -> list[bool]:
        """Commit the writes of one event together: all of them, or none (OutboxError)."""
        with self._tx() as db:
            return [self._insert(db, write) for write in writes]

    def _insert(self, db: sqlite3.Connection, write: Write) -> bool:
        # One statement for both tables: a backfill asks it 50,000 times.
        if db.execute("SELECT 1 FROM writes WHERE idem_key=? UNION ALL SELECT 1 FROM marks WHERE idem_key=? LIMIT 1",
                      (write.idem_key, write.idem_key)).fetchone():
            return False
        moot = SUPERSEDES[write.kind]  # the unsent writes of the item this one makes moot
        if moot:
            db.execute(f"DELETE FROM writes WHERE account=? AND item_key=? AND kind IN ({','.join('?' * len(moot))}) "
                       "AND state='pending'", (write.account, write.item_key, *moot))
        cur = db.execute(
            "INSERT INTO writes (account, kind, item_key, idem_key, body, at, rewatch) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (write.account, write.kind, write.item_key, write.idem_key, json.dumps(write.body), write.at, write.rewatch),
        )
        if write.kind == HISTORY:
            db.execute(MARK, (write.account, write.item_key, write.idem_key, json.dumps(write.item.to_json()),
                              write.at, cur.lastrowid))
        return True

    def mark_sent(self, ids: Iterable[int], now: float = 0.0) -> None:
        self._set_state(ids, SENT, "", now)

    def park(self, ids: int | Iterable[int], reason: str, now: float = 0.0) -> None:
        self._set_state([ids] if isinstance(ids, int) else ids, PARKED, reason, now)

    def _set_state(self, ids: Iterable[int], state: str, error: str, now: float) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE writes SET state=?, last_error=?, done_at=? WHERE id=?",
                [(state, error, now, i) for i in ids],
            )

    def retry(self, ids: Iterable[int], next_at: float, error: str) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE writes SET attempts=attempts+1, next_at=?, last_error=? WHERE id=? AND state='pending'",
                [(next_at, error, i) for i in ids],
            )

    def set_rewatch_id(self, write_id: int, rewatch_id: int) -> None:  # Simkl's session, named by a resend
        with self._tx() as db:
            db.execute("UPDATE writes SET rewatch_id=? WHERE id=?", (rewatch_id, write_id))

    def requeue_parked(self, account: str | None = None, ids: Iterable[int] | None = None) -> int:
        """Parked writes (every one, one account's, or those of `ids`) pending again, due now."""
        with self._tx() as db:
            return sum(db.execute("UPDATE writes SET state='pending', next_at=0, attempts=0 WHERE state='parked' AND "
                                  "(? IS NULL OR account=?) AND (? IS NULL OR id=?)", (account, account, i, i)).rowcount
                       for i in (ids if ids is not None else [None]))

    def drop(self, ids: Iterable[int]) -> int:
        """Forget writes that were not delivered (pending or parked), and the marks they made."""
        with self._tx() as db:
            dropped = [i for i in ids if db.execute("DELETE FROM writes WHERE id=? AND state!='sent'", (i,)).rowcount]
            db.executemany("DELETE FROM marks WHERE write_id=?", [(i,) for i in dropped])
            return len(dropped)

    def prune(self, sent_before: float, marks_before: float) -> int:
        """Forget sent writes done before `sent_before` and the marks (of writes no longer kept)
        made before `marks_before`; give the freed pages back. Returns the rows removed."""
        with self._tx() as db:
            removed = db.execute("DELETE FROM writes WHERE state='sent' AND done_at < ?", (sent_before,)).rowcount
            removed += db.execute(
                "DELETE FROM marks WHERE at < ? AND NOT EXISTS (SELECT 1 FROM writes w WHERE w.id = marks.write_id)",
                (marks_before,),
            ).rowcount
        with self._lock:
            self._db.execute("PRAGMA incremental_vacuum")
        return removed

    # -- reading --------------------------------------------------------------------------------

    def accounts_with_due(self, now: float) -> list[str]:
        """Accounts with a pending write due by `now`: one index probe per account, not a scan."""
        return [account for account, due in self.next_due_per_account().items() if due <= now]

    def next_due_per_account(self) -> dict[str, float]:
        """{account: when its earliest pending write is due}, for every account with one."""
        with self._lock:
            # DISTINCT would read every pending row; stepping from one account to the next reads one each.
            rows = self._db.execute(
                "WITH RECURSIVE acc(name) AS ("
                " SELECT MIN(account) FROM writes WHERE state='pending'"
                " UNION ALL SELECT (SELECT MIN(account) FROM writes WHERE state='pending' AND account > acc.name)"
                " FROM acc WHERE acc.name IS NOT NULL)"
                " SELECT name, (SELECT MIN(next_at) FROM writes WHERE account=acc.name AND state='pending')"
                " FROM acc WHERE name IS NOT NULL"
            ).fetchall()
        return {name: float(due) for name, due in rows}

    def due(self, account: str, now: float, limit: int = 1000, kind: str | None = None) -> list[Entry]:
        """Pending writes due by `now`, oldest first: per kind an index range, merged in id order."""
        kinds = KINDS if kind is None else (kind,)
        with self._lock:
            per_kind = [
                self._db.execute(
                    f"SELECT {_ENTRY} FROM writes INDEXED BY writes_pending "
                    "WHERE account=? AND kind=? AND state='pending' AND next_at<=? ORDER BY id LIMIT ?",
                    (account, k, now, limit),
                ).fetchall()
                for k in kinds
            ]
        return [_entry(r) for r in heapq.merge(*per_kind)][:limit]

    def parked(self, account: str | None = None) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ENTRY} FROM writes WHERE state='parked' AND (? IS NULL OR account=?) ORDER BY id",
                (account, account),
            ).fetchall()
        return [_entry(r) for r in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        """{account: {"pending": n, "sent": n, "parked": n}}."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            rows = self._db.execute("SELECT account, state, COUNT(*) FROM writes GROUP BY account, state").fetchall()
        for account, state, n in rows:
            out.setdefault(account, {PENDING: 0, SENT: 0, PARKED: 0})[state] = n
        return out

    def pending(self, account: str | None = None) -> int:
        accounts = [account] if account is not None else list(self.next_due_per_account())
        with self._lock:
            return sum(
                self._db.execute("SELECT COUNT(*) FROM writes WHERE account=? AND state='pending'", (a,)).fetchone()[0]
                for a in accounts
            )

    def marks_since(self, ts: float) -> list[tuple[str, Item, float]]:
        """Watched marks made since ts, unless their write was parked: the engine's dedupe memory
        after a restart, and what reconciliation holds Simkl's playbacks against."""
        with self._lock:
            rows = self._db.execute(
                "SELECT account, item, at FROM marks m WHERE at >= ? AND NOT EXISTS "
                "(SELECT 1 FROM writes w WHERE w.id = m.write_id AND w.state='parked') ORDER BY at",
                (ts,),
            ).fetchall()
        return [(a, Item.from_json(json.loads(i)), t) for a, i, t in rows]


def _entry(row: tuple[Any, ...]) -> Entry:
    (id_, account, kind, item_key, idem_key, body, at, attempts, next_at, last_error, rewatch, rewatch_id) = row
    return Entry(id_, account, kind, item_key, idem_key, json.loads(body), at, attempts, next_at, last_error,
                 bool(rewatch), rewatch_id)
