"""A bridge process for the kill -9 suite (tests/test_crash.py): the daemon's own `Bridge` (engine, outbox,
sender, client, reconciliation) plays one scripted scenario against the emulator and kills itself at a named
crash point.

`work(state, url, scenario, trial, crash, say)` says `ready` once set up, `ack <what> <item> [<progress>]`
each time the bridge acknowledged a write (its `sink` returned: the write is durable; an item is `ep:N`, episode
N of the crash show, or `film:N`), and `done` at the end, with `seen <json>` (how often it reached each crash
point) just before. Scenario `finish` only finishes what
killed workers left: it drains the outbox and reconciles.

With crash `POINT:N` the worker kills itself with SIGKILL the N-th time it reaches POINT (see CRASH_POINTS), so
the kill lands mid-run by construction; it ends normally if it never gets there (the test treats that as a
failure). The points are wrapped around the real Bridge, its outbox's SQLite connection and the client here:
the bridge's code carries no hooks.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import requests

from bridge.config import parse
from bridge.daemon import Bridge
from bridge.events import Ids, Kind, Numbering, PlayEvent, State
from bridge.simkl.auth import TokenStore
from bridge.simkl.client import ClientConfig, SimklClient

# Where a worker can be told to die, and what is true of the write at hand when it does.
CRASH_POINTS = {
    "event": "before the N-th event reaches the bridge's sink: nothing of it is decided",
    "commit": "inside the N-th outbox transaction (an event's writes, sent, retried, parked), its statements run, before COMMIT",
    "committed": "right after the N-th outbox COMMIT returned, before its caller went on (a write may be stored unacknowledged)",
    "ack": "right after the N-th `ack` was said",
    "request": "before the N-th request to Simkl (history, scrobble) leaves",
    "answered": "Simkl answered the N-th request, before the bridge recorded the outcome (it is sent again)",
    "marked": "right after the N-th mark_sent committed",
    "delete": "inside reconciliation, before its N-th playback delete leaves",
    "deleted": "inside reconciliation, Simkl answered its N-th playback delete, before the next one",
}
# A show of the emulator's catalog with room for every trial's episodes, and one Simkl does not know.
ANIDB, UNKNOWN = 990001, 990002
SHOW = {"type": "anime", "title": "Crash Test", "year": 2026, "runtime": 24, "anime_type": "tv", "episodes": 10**6,
        "ids": {"simkl": 990001, "slug": "crash-test", "anidb": ANIDB}}
BLOCK = 10  # item numbers each trial has for itself: trial t plays BLOCK*t + 1 ... BLOCK*t + BLOCK
# Simkl keeps one playback per show or movie: what is paused is a film of its own (TMDB and Simkl id FILMS + N).
FILMS = 5_000_000
TOKEN = "test-token-0123456789abcdef"


def film(n: int) -> dict[str, Any]:
    return {"type": "movie", "title": f"Crash Film {n}", "year": 2026, "runtime": 100,
            "ids": {"simkl": FILMS + n, "slug": f"crash-film-{n}", "tmdb": FILMS + n}}


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
    """The outbox's SQLite connection, with a crash point just before and just after each COMMIT."""

    def __init__(self, db: sqlite3.Connection, crash: Crash):
        self._db, self._crash = db, crash

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql != "COMMIT":
            return self._db.execute(sql, *args)
        self._crash.reach("commit")
        cursor = self._db.execute(sql, *args)
        self._crash.reach("committed")
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def dying(obj: Any, name: str, crash: Crash, before: str | None, after: str | None = None) -> None:
    """`obj.name` with a crash point before the call and one after it returned."""
    real = getattr(obj, name)

    def call(*args: Any, **kw: Any) -> Any:
        if before:
            crash.reach(before)
        result = real(*args, **kw)
        if after:
            crash.reach(after)
        return result

    setattr(obj, name, call)


def with_crash_points(bridge: Bridge, client: SimklClient, crash: Crash) -> None:
    bridge.outbox._db = DyingConnection(bridge.outbox._db, crash)  # type: ignore[assignment]
    dying(bridge, "sink", crash, "event")
    dying(bridge.outbox, "mark_sent", crash, None, "marked")
    dying(client, "add_history", crash, "request", "answered")
    dying(client, "scrobble", crash, "request", "answered")
    dying(client, "delete_playback", crash, "delete", "deleted")
    # A sync plan (a later issue) gets its points the same way: dying(plan, "apply", crash, "sync", "synced").


class Run:
    """One worker's bridge, its clock and what it says."""

    def __init__(self, state: str, url: str, trial: int, say: Callable[[str], None], crash: Crash):
        self.url, self.say, self.crash = url, say, crash
        self.base = BLOCK * trial
        self.now = time.time()  # after any pause another device made: the marks below come later
        self.flushes = 0
        config = parse(f"""
state_dir: {state}
simkl: {{client_id: emulator-client, api_url: "{url}"}}
accounts: {{alice: {{}}}}
users: [{{user: alice, account: alice}}]
""")
        self.client = SimklClient(ClientConfig(base_url=url, client_id="emulator-client", post_interval=0, max_retries=0),
                                  TOKEN)
        TokenStore(config.state_dir).put("alice", TOKEN)
        self.bridge = Bridge(config, adapters=[], client_factory=lambda account, token: self.client, clock=lambda: self.now)
        self.bridge.sender.backoff_base, self.bridge.sender.backoff_cap = 1.0, 1.0

    def episode(self, n: int, state: State, progress: float, show: int = ANIDB) -> None:
        self.now += 60
        self.bridge.sink(PlayEvent("kodi", "lr", "alice", f"e{self.base + n}", Kind.EPISODE, Ids(anidb=show), state,
                                   position=progress, duration=100.0, season=1, episodes=(self.base + n,),
                                   numbering=Numbering.ANIDB, title="Crash Test", at=self.now))

    def film(self, n: int, state: State, progress: float) -> None:
        self.now += 60
        self.bridge.sink(PlayEvent("plex", "home", "alice", f"f{self.base + n}", Kind.MOVIE, Ids(tmdb=FILMS + self.base + n),
                                   state, position=progress, duration=100.0, title=f"Crash Film {self.base + n}", at=self.now))

    def ack(self, what: str, item: str, n: int, progress: float | None = None) -> None:
        self.say(f"ack {what} {item}:{self.base + n}" + (f" {progress:g}" if progress is not None else ""))
        self.crash.reach("ack")

    def flush(self) -> None:
        """One flush, later than every backoff: a failed send is tried at the next one."""
        self.flushes += 1
        self.bridge.sender.flush_once(now=self.now + 3600.0 * self.flushes)

    def drain(self) -> None:
        while self.bridge.outbox.pending():
            self.flush()


def watches(run: Run) -> None:
    """Episodes played to the end; a flush after every other one."""
    for n in range(1, 9):
        run.episode(n, State.PLAYING, 0)
        run.episode(n, State.STOPPED, 95)
        run.ack("watch", "ep", n)
        if n % 2 == 0:
            run.flush()


def pauses(run: Run) -> None:
    """Films paused, resumed and stopped short of the end: scrobble start and pause writes."""
    for n in range(1, 4):
        run.film(n, State.PLAYING, 0)
        run.flush()
        run.film(n, State.PAUSED, 30)
        run.ack("pause", "film", n, 30)
        run.flush()
        run.film(n, State.PLAYING, 30)
        run.film(n, State.STOPPED, 60)
        run.ack("pause", "film", n, 60)
        run.flush()


def outage(run: Run) -> None:
    """Simkl fails the first requests: the sender retries them later (outbox retry commits)."""
    requests.post(f"{run.url}/_emulator/fault", json={"kind": "500", "count": 3}, timeout=10)
    for n in range(1, 7):
        run.episode(n, State.STOPPED, 95)
        run.ack("watch", "ep", n)
        run.flush()


def parked(run: Run) -> None:
    """Every other episode is of a show Simkl does not know: parked with the reason, never sent again."""
    for n in range(1, 7):
        unknown = n % 2 == 0
        run.episode(n, State.STOPPED, 95, show=UNKNOWN if unknown else ANIDB)
        run.ack("parked" if unknown else "watch", "ep", n)
        if n % 2 == 0:
            run.flush()


RECONCILED = (1, 2, 3, 4, 5)  # films paused on another device before the run; all but the last are then watched here


def reconcile(run: Run) -> None:
    """Films paused elsewhere, then watched here while Simkl was away: the start's reconciliation deletes
    their playbacks before the watches go out (Simkl would offer to resume a watched film)."""
    for n in RECONCILED[:-1]:
        run.film(n, State.STOPPED, 95)
        run.ack("watch", "film", n)
    run.bridge.reconcile()


def finish(run: Run) -> None:
    """What killed workers left: everything pending delivered, stale playbacks deleted."""
    run.bridge.reconcile()


SCENARIOS: dict[str, Callable[[Run], None]] = {
    "watches": watches, "pauses": pauses, "outage": outage, "parked": parked, "reconcile": reconcile, "finish": finish,
}


def setup(url: str, scenario: str, base: int) -> None:
    """Before `ready`: the films a scenario plays join the catalog; for `reconcile` another device of the
    same account pauses them on Simkl."""
    # A fault a killed worker left unused would change what this one meets.
    requests.post(f"{url}/_emulator/recover", json={}, timeout=10)
    if scenario not in ("pauses", "reconcile"):
        return
    for n in RECONCILED:
        requests.post(f"{url}/_emulator/catalog", json={"item": film(base + n)}, timeout=10).raise_for_status()
    if scenario == "reconcile":
        other = SimklClient(ClientConfig(base_url=url, client_id="emulator-client", post_interval=0, max_retries=0), TOKEN)
        for n in RECONCILED:
            other.scrobble("pause", {"progress": 40, "movie": {"ids": {"tmdb": FILMS + base + n}}})


def work(state: str, url: str, scenario: str, trial: int, crash_spec: str | None, say: Callable[[str], None]) -> None:
    crash = Crash(crash_spec)
    setup(url, scenario, BLOCK * trial)
    run = Run(state, url, trial, say, crash)
    with_crash_points(run.bridge, run.client, crash)
    say("ready")
    SCENARIOS[scenario](run)
    run.drain()
    say(f"seen {json.dumps(crash.seen)}")
    say("done")


def forked(conn: Connection, state: str, url: str, scenario: str, trial: int, crash_spec: str | None) -> None:
    """`work` in a process forked from a server that has imported all of it: no start-up to wait for.
    Each line is one message on `conn`, whole or not at all, whenever the process dies."""
    try:
        work(state, url, scenario, trial, crash_spec, conn.send)
    except BaseException:
        conn.send(f"error {traceback.format_exc()}")
        raise
