"""What the outbox holds, as people and monitors ask it: per account, the recent writes and their
result, the oldest write still waiting.

Opened read-only (SQLite's `mode=ro`): `simkl-bridge status` next to a running daemon, or on a
state dir it cannot write, never creates, migrates, locks or changes the file. Each query is an
index range of the outbox's own indexes, so a scrape costs the same with a big backlog.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bridge.writes import HISTORY, KINDS, LIBRARY_KINDS, describe

PENDING, SENT, PARKED = "pending", "sent", "parked"
_ROW = "id, account, kind, body, at, state, attempts, last_error, done_at"


class OutboxMissing(Exception):
    """There is no outbox yet: the daemon never ran with this state dir."""


@dataclass(frozen=True)
class Row:
    id: int
    account: str
    kind: str
    what: str  # `describe`d
    at: float  # when the engine decided it
    state: str
    attempts: int
    error: str  # why it is parked, or the last failed attempt of a pending write
    done_at: float | None  # sent or parked at

    @property
    def when(self) -> float:
        return self.done_at if self.done_at is not None else self.at

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "account": self.account, "kind": self.kind, "what": self.what, "at": self.at,
                "state": self.state, "attempts": self.attempts, "error": self.error, "done_at": self.done_at}


@dataclass
class AccountCounts:
    pending: int = 0
    sent: int = 0
    parked: int = 0
    last_sent_at: float | None = None


class OutboxView:
    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.exists():
            raise OutboxMissing(f"{path} does not exist yet")
        self._db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._first_seen: dict[int, float] = {}  # write id -> when `oldest_pending` first saw it first in line

    def close(self) -> None:
        self._db.close()

    def _rows(self, sql: str, *args: Any) -> list[Row]:
        return [_row(r) for r in self._db.execute(sql, args).fetchall()]

    def counts(self) -> dict[str, AccountCounts]:
        out: dict[str, AccountCounts] = {}
        for account, state, n in self._db.execute("SELECT account, state, COUNT(*) FROM writes GROUP BY account, state"):
            setattr(out.setdefault(account, AccountCounts()), state, n)
        for account, last in self._db.execute("SELECT account, MAX(done_at) FROM writes WHERE state='sent' GROUP BY account"):
            out.setdefault(account, AccountCounts()).last_sent_at = last
        return out

    def pending(self, account: str, limit: int = 50) -> list[Row]:
        """The oldest waiting writes of an account, in the order they are sent."""
        per_kind = [self._rows(f"SELECT {_ROW} FROM writes INDEXED BY writes_pending "
                               "WHERE account=? AND kind=? AND state='pending' ORDER BY id LIMIT ?", account, k, limit)
                    for k in KINDS]
        return list(heapq.merge(*per_kind, key=lambda r: r.id))[:limit]

    def parked(self, account: str | None = None, limit: int = 1000) -> list[Row]:
        return self._rows(f"SELECT {_ROW} FROM writes WHERE state='parked' AND (? IS NULL OR account=?) ORDER BY id LIMIT ?",
                          account, account, limit)

    def recent(self, accounts: Iterable[str], limit: int = 50) -> list[Row]:
        """The latest writes, newest first: delivered, parked, and the accounts' waiting ones."""
        sent = self._rows(f"SELECT {_ROW} FROM writes INDEXED BY writes_sent WHERE state='sent' "
                          "ORDER BY done_at DESC LIMIT ?", limit)
        parked = self._rows(f"SELECT {_ROW} FROM writes WHERE state='parked' ORDER BY done_at DESC LIMIT ?", limit)
        waiting = [r for a in accounts for r in self.pending(a, limit)]
        return sorted([*sent, *parked, *waiting], key=lambda r: r.when, reverse=True)[:limit]

    def oldest_pending(self, accounts: Iterable[str], now: float) -> tuple[Row, float] | None:
        """The write that has waited longest of those first in line (the outbox sends in id order),
        and for how long: since it was decided, or since this view first saw it waiting, whichever
        is later (a play the Kodi addon kept on disk for days was not waiting here all that time)."""
        firsts = [rows[0] for a in accounts if (rows := self.pending(a, 1))]
        self._first_seen = {r.id: self._first_seen.get(r.id, now) for r in firsts}
        waited = [(r, now - max(r.at, self._first_seen[r.id])) for r in firsts]
        return max(waited, key=lambda w: w[1], default=None)

    def synced_after(self, account: str, after: int) -> tuple[int, int, int]:
        """(written, pending, parked): the account's library writes (watches, unwatches, ratings, list
        moves: not paused positions) after id `after`, as a sync's are delivered
        (bridge/sync/progress.py); a range of the ids, in one pass."""
        kinds = (HISTORY, *LIBRARY_KINDS)
        written, pending, parked = self._db.execute(
            "SELECT COUNT(*), TOTAL(state='pending'), TOTAL(state='parked') FROM writes WHERE id > ? AND account=? "
            f"AND kind IN ({','.join('?' * len(kinds))})", (after, account, *kinds)).fetchone()
        return int(written), int(pending), int(parked)

    def last_error(self, account: str) -> Row | None:
        """The newest write of the account that failed: parked, or pending after a failed attempt."""
        failed = [r for r in [*self.pending(account, 50), *self.parked(account)] if r.error]
        return max(failed, key=lambda r: r.when, default=None)

    def get(self, ids: list[int]) -> list[Row]:
        marks = ",".join("?" * len(ids))
        return self._rows(f"SELECT {_ROW} FROM writes WHERE id IN ({marks}) ORDER BY id", *ids) if ids else []


def _row(r: tuple[Any, ...]) -> Row:
    id_, account, kind, body, at, state, attempts, error, done_at = r
    try:
        what = describe(kind, json.loads(body))
    except ValueError:
        what = f"{kind} (unreadable body)"
    return Row(id_, account, kind, what, at, state, attempts, error, done_at)
