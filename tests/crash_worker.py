"""A bridge process for the kill -9 test: enqueue watched episodes and flush them to the emulator.

`work(db, url, token, first, count, crash, say)` says `ready` once set up, `ack <n>` once episode n's write is committed
(enqueue returned), `done` when the outbox is empty. Count 0 only finishes what an earlier, killed worker left behind.

With crash `POINT:N` the worker kills itself with SIGKILL the N-th time it reaches POINT (see CRASH_POINTS), so the
kill lands mid-run by construction; it ends normally if it never gets there (the test treats that as a failure). The
points are wrapped around the real Outbox, SQLite connection and client here: the bridge's code carries no hooks.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import traceback
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from typing import Any

from bridge.events import Ids, Kind, Numbering, PlayEvent, State
from bridge.outbox import Outbox
from bridge.sender import Sender
from bridge.simkl.bodies import history_body
from bridge.simkl.client import ClientConfig, SimklClient
from bridge.times import iso
from bridge.writes import HISTORY, Write

PACE = 0.005

# Where a worker can be told to die, and what is true of the write at hand when it does.
CRASH_POINTS = {
    "enqueue": "before the N-th enqueue: nothing of that write is committed",
    "commit": "inside the N-th outbox transaction (enqueue or mark_sent), its statements run, before COMMIT",
    "committed": "the N-th enqueue committed, before the caller saw it return (the write may go out unacknowledged)",
    "ack": "right after `ack` of the N-th write was printed",
    "request": "before the N-th /sync/history POST leaves",
    "answered": "Simkl answered the N-th POST, before the outbox marks its writes sent (they are sent again)",
    "marked": "right after the N-th mark_sent committed",
}


def write_for(n: int) -> Write:
    ev = PlayEvent("kodi", "lr", "alice", str(n), Kind.EPISODE, Ids(anidb=69), State.STOPPED, season=1, episodes=(n,),
                   numbering=Numbering.ANIDB, title="One Piece")
    at = 1_700_000_000.0 + n * 60
    return Write("alice", HISTORY, ev.item, f"{HISTORY}:alice:{ev.item_key}:{iso(at)}", history_body(ev, iso(at)), at)


class Crash:
    """Counts arrivals at each point and dies at the chosen arrival."""

    def __init__(self, spec: str | None):
        self.point, self.at = "", 0
        if spec:
            point, _, n = spec.partition(":")
            if point not in CRASH_POINTS or not n.isdigit() or int(n) < 1:
                raise ValueError(f"bad crash point {spec!r}; expected POINT:N, POINT one of {sorted(CRASH_POINTS)}")
            self.point, self.at = point, int(n)
        self.seen = dict.fromkeys(CRASH_POINTS, 0)

    def reach(self, point: str) -> None:
        self.seen[point] += 1
        if point == self.point and self.seen[point] == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


class DyingConnection:
    """The outbox's SQLite connection, with a crash point just before each COMMIT."""

    def __init__(self, db: sqlite3.Connection, crash: Crash):
        self._db, self._crash = db, crash

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self._crash.reach("commit")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def with_crash_points(outbox: Outbox, client: SimklClient, crash: Crash) -> None:
    outbox._db = DyingConnection(outbox._db, crash)  # type: ignore[assignment]
    enqueue, mark_sent, add_history = outbox.enqueue, outbox.mark_sent, client.add_history

    def dying_enqueue(write: Write) -> bool:
        crash.reach("enqueue")
        new = enqueue(write)
        crash.reach("committed")
        return new

    def dying_mark_sent(ids: Iterable[int], now: float = 0.0) -> None:
        mark_sent(ids, now)
        crash.reach("marked")

    def dying_add_history(body: dict[str, Any]) -> dict[str, Any]:
        crash.reach("request")
        reply = add_history(body)
        crash.reach("answered")
        return reply

    outbox.enqueue = dying_enqueue  # type: ignore[method-assign]
    outbox.mark_sent = dying_mark_sent  # type: ignore[method-assign]
    client.add_history = dying_add_history  # type: ignore[method-assign]


def work(db: str, url: str, token: str, first: int, count: int, crash_spec: str | None, say: Callable[[str], None]) -> None:
    crash = Crash(crash_spec)
    outbox = Outbox(db)
    client = SimklClient(ClientConfig(base_url=url, client_id="emulator-client", post_interval=PACE), token)
    with_crash_points(outbox, client, crash)
    sender = Sender(outbox, lambda account: client, batch_size=4, backoff_base=0.01, backoff_cap=0.05)
    say("ready")
    for n in range(first, first + count):
        outbox.enqueue(write_for(n))
        say(f"ack {n}")
        crash.reach("ack")
        if n % 2:
            sender.flush_once()
    while outbox.pending():
        sender.flush_once(now=1e12)
    say("done")


def forked(conn: Connection, db: str, url: str, token: str, first: int, count: int, crash_spec: str | None) -> None:
    """`work` in a process forked from a server that has imported all of it: no start-up to wait for.
    Each line is one message on `conn`, whole or not at all, whenever the process dies."""
    try:
        work(db, url, token, first, count, crash_spec, conn.send)
    except BaseException:
        conn.send(f"error {traceback.format_exc()}")
        raise
