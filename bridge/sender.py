"""Drains the outbox into Simkl, one account at a time.

Watched items waiting together go out as one `/sync/history` POST (up to `batch_size` items);
playback writes (start/pause) go one by one through `/scrobble/*`. A 401 blocks only that account,
keeping its queue until its token changes; a permanent refusal parks the write with the reason; an
item Simkl cannot find is parked alone while the rest of its batch is delivered.

A transient failure closes the account's gate: one backoff per account (jittered, growing, at
least Simkl's Retry-After), during which nothing of that account is sent; then one request probes,
and once Simkl answers the queue drains at the normal pace. An outage costs one request per
backoff step, however many batches wait. Between flushes the sender sleeps until the next write is
due (or an enqueue wakes it), not on a timer.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn

from bridge.backoff import delay
from bridge.outbox import Entry, Outbox
from bridge.simkl.client import AuthError, PermanentError, SimklClient, SimklError, TransientError, not_found_items
from bridge.writes import HISTORY, PLAYBACK_KINDS

log = logging.getLogger("bridge.sender")

BUCKETS = ("movies", "shows", "anime", "episodes")
# The longest the sender sleeps: a login for an account whose writes wait is only seen by a flush.
RECHECK = 30.0


class _Closed(Exception):
    """The account's gate closed during this flush: stop sending for it."""


@dataclass
class Gate:
    failures: int = 0
    until: float = 0.0


@dataclass
class FlushReport:
    requests: int = 0
    sent: int = 0
    retried: int = 0
    parked: int = 0
    blocked: list[str] = field(default_factory=list)


class Sender:
    def __init__(
        self,
        outbox: Outbox,
        client_for: Callable[[str], SimklClient | None],
        *,
        batch_size: int = 500,
        clock: Callable[[], float] = time.time,
        backoff_base: float = 5.0,
        backoff_cap: float = 900.0,
        rng: Callable[[], float] = random.random,
    ):
        self.outbox = outbox
        self.client_for = client_for
        self.batch_size = batch_size
        self.clock = clock
        self.backoff_base, self.backoff_cap, self.rng = backoff_base, backoff_cap, rng
        self.blocked: set[str] = set()
        self.gates: dict[str, Gate] = {}
        self._logged_out: set[str] = set()

    def unblock(self, account: str) -> None:
        """The account has a new token: try its queue again."""
        if account in self.blocked:
            log.info("account %r has a new token; sending its queue again", account)
        self.blocked.discard(account)
        self._logged_out.discard(account)

    def flush_once(self, now: float | None = None) -> FlushReport:
        now = self.clock() if now is None else now
        report = FlushReport()
        for account in self.outbox.accounts_with_due(now):
            if account in self.gates and self.gates[account].until > now:
                continue
            client = self.client_for(account)  # may unblock the account after a new login
            if account in self.blocked:
                continue
            if client is None:
                if account not in self._logged_out:
                    self._logged_out.add(account)
                    log.warning("account %r is not logged in: %d write(s) wait for `simkl-bridge login --account %s`",
                                account, self.outbox.pending(account), account)
                continue
            try:
                self._flush_account(account, client, now, report)
            except _Closed:
                pass
            except AuthError:
                self.blocked.add(account)
                report.blocked.append(account)
                log.error("account %r: Simkl rejected the token (401) -- run: simkl-bridge login --account %s; "
                          "%d write(s) kept queued", account, account, self.outbox.pending(account))
        return report

    def _flush_account(self, account: str, client: SimklClient, now: float, report: FlushReport) -> None:
        while True:
            batch = self.outbox.due(account, now, self.batch_size, kind=HISTORY)
            if not batch:
                break
            self._send_history(client, batch, now, report)
            if len(batch) < self.batch_size:
                break
        for kind in PLAYBACK_KINDS:
            for entry in self.outbox.due(account, now, self.batch_size, kind=kind):
                self._deliver([entry], partial(client.scrobble, entry.kind, entry.body), now, report)

    def _send_history(self, client: SimklClient, batch: list[Entry], now: float, report: FlushReport) -> None:
        body: dict[str, list[Any]] = {}
        for entry in batch:
            for bucket in BUCKETS:
                body.setdefault(bucket, []).extend(entry.body.get(bucket, []))
        body = {k: v for k, v in body.items() if v}
        reply = self._deliver(batch, lambda: client.add_history(body), now, report, mark=False)
        if reply is None:
            return
        missing = [e for e in batch if _is_missing(e, not_found_items(reply))]
        if missing:
            for entry in missing:
                log.warning("%s: Simkl does not know %s; parked (see `simkl-bridge status`)", entry.account, _describe(entry))
            self.outbox.park([e.id for e in missing], "not found on Simkl", now)
            report.parked += len(missing)
            report.sent -= len(missing)
        # Parked before the rest is marked sent: a crash in between leaves them pending (sent again,
        # parked again), never recorded as delivered.
        self.outbox.mark_sent([e.id for e in batch if e not in missing], now)

    def _deliver(self, entries: list[Entry], call: Callable[[], dict[str, Any]], now: float,
                 report: FlushReport, mark: bool = True) -> dict[str, Any] | None:
        ids = [e.id for e in entries]
        account = entries[0].account
        report.requests += 1
        try:
            reply = call()
        except TransientError as exc:
            self._close_gate(account, ids, str(exc), exc.retry_after, now, report)
        except PermanentError as exc:
            self.outbox.park(ids, str(exc), now)
            report.parked += len(ids)
            log.warning("%s; %d write(s) parked", exc, len(ids))
            return None
        except AuthError:
            raise
        except SimklError as exc:  # any other client failure: keep the write, try later
            self._close_gate(account, ids, str(exc), None, now, report)
        if mark:
            self.outbox.mark_sent(ids, now)
        report.sent += len(ids)
        if self.gates.pop(account, None) is not None:
            log.info("account %r: Simkl answers again; sending its queue", account)
        return reply

    def _close_gate(self, account: str, ids: list[int], error: str, retry_after: float | None, now: float,
                    report: FlushReport) -> NoReturn:
        gate = self.gates.setdefault(account, Gate())
        wait = max(retry_after or 0.0, delay(gate.failures, self.backoff_base, self.backoff_cap, self.rng))
        gate.failures += 1
        gate.until = now + wait
        self.outbox.retry(ids, gate.until, error)
        report.retried += len(ids)
        log.warning("%s; account %r waits %.0f s (%d write(s) pending)", error, account, wait, self.outbox.pending(account))
        raise _Closed

    def next_wake(self) -> float | None:
        """When a flush can next send something: the earliest due write of an account that can send
        (not blocked, logged in), or None when nothing does."""
        waiting = self.blocked | self._logged_out  # only a login helps them: RECHECK looks for one
        times = [max(due, self.gates[a].until if a in self.gates else 0.0)
                 for a, due in self.outbox.next_due_per_account().items() if a not in waiting]
        return min(times, default=None)

    def run(self, stop: threading.Event, wake: threading.Event | None = None, idle: float = RECHECK) -> None:
        """Flush until `stop` is set, sleeping until the next write is due (at most `idle`
        seconds); `wake` (set on enqueue) cuts the sleep short."""
        wake = wake or threading.Event()
        while not stop.is_set():
            wake.clear()
            try:
                self.flush_once()
                due = self.next_wake()
                pause = idle if due is None else min(idle, due - self.clock())
            except Exception as exc:  # the sender thread must outlive any surprise
                log.error("sender: %s: %s", type(exc).__name__, exc)
                pause = idle
            if pause > 0:
                wake.wait(pause)


def _is_missing(entry: Entry, not_found: list[dict[str, Any]]) -> bool:
    """Simkl echoes unresolved items unmodified: compare each of the entry's items to them."""
    items = [item for bucket in BUCKETS for item in entry.body.get(bucket, [])]
    return any(item in not_found for item in items)


def _describe(entry: Entry) -> str:
    items = [item for bucket in BUCKETS for item in entry.body.get(bucket, [])]
    item = items[0] if items else {}
    return f"{item.get('title') or '?'} {item.get('ids', {})}"
