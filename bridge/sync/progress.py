"""How far a sync's additions are on their way to Simkl, from the outbox's own counts: the daemon's
log line every few seconds, the bar of `simkl-bridge sync` on a terminal, and /metrics.

The sender delivers up to `outbox.batch_size` writes of a kind a POST, at Simkl's one POST a second,
so what waits takes ceil(pending / batch_size) POSTs: the time left is that budget, and the line
says so. It is not extrapolated from the pace so far: a gate closed by an outage would make any
such guess wrong both while it lasts and after.

A sync's additions are the account's library writes (watches, unwatches, ratings, list moves; not
paused positions) from the first one waiting when the sync
queued its first chunk on: counted by their ids, so a chunk queued while the first are sent grows
the total, and no clock decides what belongs to the sync.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.outbox_view import OutboxView
from bridge.simkl.client import ClientConfig

log = logging.getLogger("bridge.sync")

PROGRESS_EVERY = 5.0  # seconds between two lines about one account's delivery
LOOK_EVERY = 1.0  # seconds between two looks at whether a delivery is over: its last line is prompt
POST_SECONDS = ClientConfig.post_interval  # Simkl: one POST a second per token
BAR_WIDTH = 30


@dataclass(frozen=True)
class Progress:
    account: str  # or several, joined, for one bar over them
    written: int  # the sync's additions queued so far
    pending: int
    parked: int  # refused by Simkl: `simkl-bridge status` lists them
    posts: int  # the POSTs the pending ones take
    batch_size: int

    @classmethod
    def of(cls, account: str, counts: tuple[int, int, int], batch_size: int) -> Progress:
        written, pending, parked = counts
        return cls(account, written, pending, parked, -(-pending // batch_size), batch_size)

    @property
    def sent(self) -> int:
        return self.written - self.pending - self.parked

    @property
    def percent(self) -> int:
        # Rounded down: 100% only once nothing waits.
        return 100 * (self.written - self.pending) // self.written if self.written else 100

    def line(self) -> str:
        parked = f", {self.parked:,} parked (see `simkl-bridge status`)" if self.parked else ""
        head = f"sync {self.account}: {self.sent:,} of {self.written:,} sent{parked} ({self.percent}%)"
        if not self.pending:
            return f"{head}, done"
        return (f"{head}, about {self.posts * POST_SECONDS:,.0f} s left at Simkl's 1 POST/s "
                f"({self.posts:,} POST(s) of up to {self.batch_size:,})")

    def bar(self, width: int = BAR_WIDTH) -> str:
        filled = width * self.percent // 100
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.line()}"


def combined(parts: list[Progress]) -> Progress:
    """Several accounts' deliveries as one: the sender sends one account after the other, so their
    POSTs add up."""
    return Progress(", ".join(p.account for p in parts), sum(p.written for p in parts), sum(p.pending for p in parts),
                    sum(p.parked for p in parts), sum(p.posts for p in parts), max(p.batch_size for p in parts))


class Drains:
    """The accounts whose sync additions are being delivered. `clock` times the lines only."""

    def __init__(self, view: OutboxView, batch_size: Callable[[], int], *, every: float = PROGRESS_EVERY,
                 clock: Callable[[], float] = time.monotonic):
        self.view, self.batch_size, self.every, self.clock = view, batch_size, every, clock
        self._after: dict[str, int] = {}  # account -> the id its sync's additions come after
        self._said: dict[str, float] = {}  # account -> when its last line was said
        self._lock = threading.Lock()

    def follow(self, account: str) -> None:
        """A sync queued additions for `account`: follow them until none waits. Called again while
        they are followed, nothing changes: the next chunks are counted from the same first write."""
        with self._lock:
            if account in self._after:
                return
            first = self.view.pending(account, 1)
            if first:  # none: the sender took them all already, there is nothing to follow
                self._after[account] = first[0].id - 1
                self._said[account] = float("-inf")

    def _read(self, account: str) -> Progress:
        return Progress.of(account, self.view.synced_after(account, self._after[account]), self.batch_size())

    def read(self) -> dict[str, Progress]:
        """Each followed account's delivery now (/metrics, the status page, the bar)."""
        with self._lock:
            return {account: self._read(account) for account in self._after}

    def due(self) -> list[Progress]:
        """What to say now: an account's progress at most every `every` seconds, and once when none
        of its additions waits any more (then it is no longer followed)."""
        now, out = self.clock(), []
        with self._lock:
            for account in list(self._after):
                waits = bool(self.view.pending(account, 1))  # one index probe; the counts read a range
                if waits and now - self._said[account] < self.every:
                    continue
                progress = self._read(account)
                if progress.written:  # only playbacks waited: no sync's to speak of
                    out.append(progress)
                self._said[account] = now
                # Decided on the counts, not the probe: a chunk queued between the two is followed.
                if not progress.pending:
                    del self._after[account], self._said[account]
        return out

    def run(self, stop: threading.Event) -> None:
        """The daemon's: the lines in the log until `stop`."""
        while not stop.wait(LOOK_EVERY):
            try:
                for progress in self.due():
                    log.info(progress.line())
            except Exception as exc:  # the lines are worth less than the thread that says them
                log.error("sync progress: %s: %s", type(exc).__name__, exc)
