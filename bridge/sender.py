"""Drains the outbox into Simkl, one account at a time.

Watched items waiting together go out as one `/sync/history` POST (up to `batch_size` items);
playback writes (start/pause) go one by one through `/scrobble/*`. A 401 blocks only that account,
keeping its queue until its token changes; a permanent refusal parks the write with the reason; an
item Simkl cannot find is parked alone while the rest of its batch is delivered. A write is
delivered once Simkl's reply confirms it (bridge/confirm.py): when its counts fall short, Simkl's
library is read back, and what it did not record is parked with the reason.

Then the library writes (history removals, ratings, their removals, add-to-list: bridge/writes.py),
in requests of one kind (add-to-list: of one bucket), confirmed as their pages say (bridge/confirm.py).

A rewatch (Write.rewatch) goes alone; on an account with `track_rewatches` it asks Simkl for a
rewatch session (`?allow_rewatch=yes`), and is sent again, if ever, with the session's
`rewatch_id`. No other write asks for one.

A transient failure closes the account's gate: one backoff per account (jittered, growing, at
least Simkl's Retry-After), during which nothing of that account is sent; then one request probes,
and once Simkl answers the queue drains at the normal pace. An outage costs one request per
backoff step, however many batches wait. Simkl refusing calls for its API limits (403, 412, 423:
QuotaError) closes the gate the same way for much longer, minutes growing to hours, said once in
one loud line; the reason stays on each waiting write (`status` shows it, and the gate's wait).
Between flushes the sender sleeps until the next write is due (or an enqueue wakes it), not on a
timer.
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

from bridge import confirm
from bridge.backoff import delay
from bridge.outbox import Entry, Outbox
from bridge.simkl.client import AuthError, PermanentError, QuotaError, SimklClient, SimklError, TransientError
from bridge.times import iso
from bridge.writes import HISTORY, LIBRARY_KINDS, LIST, PLAYBACK_KINDS, RATE, UNRATE, UNWATCH, describe

log = logging.getLogger("bridge.sender")

BUCKETS = ("movies", "shows", "anime", "episodes")
# The longest the sender sleeps: a login for an account whose writes wait is only seen by a flush.
RECHECK = 30.0
# Beyond this many writes in one request, a line per write is a flood no one reads (a first library
# sync's 54,000 lines cost a second of CPU); `simkl-bridge status` lists what waits.
LINES_PER_REQUEST = 20
# Each library write kind's endpoint and the client's method for it.
LIBRARY_POSTS = {UNWATCH: ("/sync/history/remove", "remove_history"), RATE: ("/sync/ratings", "add_ratings"),
                 UNRATE: ("/sync/ratings/remove", "remove_ratings"), LIST: ("/sync/add-to-list", "add_to_list")}
# Waits while Simkl refuses calls for its API limits: five minutes, doubling up to six hours.
QUOTA_BASE, QUOTA_CAP = 300.0, 6 * 3600.0


class _Closed(Exception):
    """The account's gate closed during this flush: stop sending for it."""


@dataclass
class Gate:
    failures: int = 0
    until: float = 0.0
    quota: bool = False  # closed for Simkl's API limits: said loudly once


@dataclass
class FlushReport:
    requests: int = 0
    sent: int = 0
    retried: int = 0
    parked: int = 0
    blocked: list[str] = field(default_factory=list)

    def add(self, other: FlushReport) -> None:
        self.requests, self.sent = self.requests + other.requests, self.sent + other.sent
        self.retried, self.parked = self.retried + other.retried, self.parked + other.parked


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
        quota_base: float = QUOTA_BASE,
        quota_cap: float = QUOTA_CAP,
        track_rewatches: Callable[[str], bool] = lambda account: False,
    ):
        self.outbox = outbox
        self.client_for = client_for
        self.batch_size = batch_size
        self.clock = clock
        self.backoff_base, self.backoff_cap, self.rng = backoff_base, backoff_cap, rng
        self.quota_base, self.quota_cap = quota_base, quota_cap
        self.track_rewatches = track_rewatches  # an account's `track_rewatches` setting, read when sending
        self.blocked: set[str] = set()
        self.gates: dict[str, Gate] = {}
        self._logged_out: set[str] = set()
        self.totals = FlushReport()  # since start, for /metrics

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
        self.totals.add(report)
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
                if self._deliver([entry], partial(client.scrobble, entry.kind, entry.body), now, report) is not None:
                    _delivered([entry], f"POST /scrobble/{entry.kind}")
        for kind in LIBRARY_KINDS:
            while batch := self.outbox.due(account, now, self.batch_size, kind=kind):
                for entries in confirm.requests(kind, batch):
                    self._send_library(client, kind, entries, now, report)
                if len(batch) < self.batch_size:
                    break

    def _send_library(self, client: SimklClient, kind: str, entries: list[Entry], now: float,
                      report: FlushReport) -> None:
        path, method = LIBRARY_POSTS[kind]
        body = confirm.merged(entries)
        args = (confirm.list_to(entries[0]), body) if kind == LIST else (body,)
        reply = self._deliver(entries, partial(getattr(client, method), *args), now, report, mark=False)
        if reply is None:
            return
        missing = confirm.not_found(entries, reply)
        self._park(missing, confirm.NOT_FOUND, now, report)
        rest = [e for e in entries if e not in missing]
        unsure = confirm.short_ratings(rest, reply) if kind == RATE else []
        self._taken([e for e in rest if e not in unsure], f"POST {path} ({len(entries)} in one request)", now, report)
        if unsure:
            self._read_ratings(client, unsure, now, report)

    def _read_ratings(self, client: SimklClient, entries: list[Entry], now: float, report: FlushReport) -> None:
        """Ask Simkl's ratings whether they hold what its reply did not count (an anime may be
        either type there). Until they answer, the entries stay pending."""
        replies = []
        for kind, values in confirm.ratings_reads(entries):
            reply = self._read(entries, partial(client.get_ratings, kind, values), now, report)
            if reply is None:
                return
            replies.append(reply)
        missing = confirm.not_rated(entries, replies)
        self._park(missing, confirm.NOT_RATED, now, report)
        self._taken([e for e in entries if e not in missing], "POST /sync/ratings, then its ratings read back", now, report)

    def _send_history(self, client: SimklClient, batch: list[Entry], now: float, report: FlushReport) -> None:
        # `allow_rewatch` is one flag for a whole request: a rewatch shares it with nothing else.
        plain = [e for e in batch if not e.rewatch]
        for entries in ([plain] if plain else []) + [[e] for e in batch if e.rewatch]:
            self._send_request(client, entries, now, report)

    def _send_request(self, client: SimklClient, entries: list[Entry], now: float, report: FlushReport) -> None:
        rewatch = entries[0].rewatch and self.track_rewatches(entries[0].account)
        body: dict[str, list[Any]] = {}
        for entry in entries:
            pin = {"rewatch_id": entry.rewatch_id} if rewatch and entry.rewatch_id is not None else {}
            for bucket in BUCKETS:
                body.setdefault(bucket, []).extend({**item, **pin} for item in entry.body.get(bucket, []))
        body = {k: v for k, v in body.items() if v}
        reply = self._deliver(entries, lambda: client.add_history(body, allow_rewatch=rewatch), now, report, mark=False)
        if reply is None:
            return
        session = confirm.rewatch_session(reply) if rewatch else None
        if session is not None and session != entries[0].rewatch_id:
            self.outbox.set_rewatch_id(entries[0].id, session)
        missing = confirm.not_found(entries, reply)
        self._park(missing, confirm.NOT_FOUND, now, report)
        unsure = confirm.unconfirmed([e for e in entries if e not in missing], reply)
        taken = [e for e in entries if e not in missing and e not in unsure]
        self._taken(taken, f"POST /sync/history ({len(entries)} in one request)", now, report)
        if unsure:
            self._read_back(client, unsure, now, report)

    def _read_back(self, client: SimklClient, entries: list[Entry], now: float, report: FlushReport) -> None:
        """Ask Simkl's library whether it holds what its reply did not confirm. Until it answers
        the entries stay pending: sent again, Simkl's reply is read again."""
        library = self._read(entries, partial(client.get_all_items, date_from=iso(confirm.read_back_since(entries, now)),
                                              extended="full_anime_seasons", episode_watched_at="yes"), now, report)
        if library is None:
            return
        missing = confirm.not_in_library(entries, library)
        self._park(missing, confirm.NOT_RECORDED, now, report)
        self._taken([e for e in entries if e not in missing], "POST /sync/history, then its library read back",
                    now, report)

    def _read(self, entries: list[Entry], call: Callable[[], dict[str, Any]], now: float,
              report: FlushReport) -> dict[str, Any] | None:
        """Simkl's answer to a read confirming `entries`; None when it cannot be read (they are parked)."""
        report.requests += 1
        try:
            return call()
        except PermanentError as exc:
            self._park(entries, f"Simkl's reply did not confirm it, and its library could not be read: {exc}", now, report)
            return None
        except (QuotaError, TransientError) as exc:
            self._close_gate(entries[0].account, [e.id for e in entries], str(exc), exc.retry_after, now, report,
                             quota=isinstance(exc, QuotaError))

    def _park(self, entries: list[Entry], reason: str, now: float, report: FlushReport) -> None:
        for entry in entries:
            log.warning("%s: %s: %s; parked (see `simkl-bridge status`)", entry.account, _describe(entry), reason)
        self.outbox.park([e.id for e in entries], reason, now)
        report.parked += len(entries)

    def _taken(self, entries: list[Entry], request: str, now: float, report: FlushReport) -> None:
        self.outbox.mark_sent([e.id for e in entries], now)
        report.sent += len(entries)
        _delivered(entries, request)

    def _deliver(self, entries: list[Entry], call: Callable[[], dict[str, Any]], now: float,
                 report: FlushReport, mark: bool = True) -> dict[str, Any] | None:
        """Simkl's reply to `call`, the entries marked sent unless the caller confirms them itself."""
        ids = [e.id for e in entries]
        account = entries[0].account
        report.requests += 1
        try:
            reply = call()
        except QuotaError as exc:
            self._close_gate(account, ids, str(exc), exc.retry_after, now, report, quota=True)
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
                    report: FlushReport, quota: bool = False) -> NoReturn:
        gate = self.gates.setdefault(account, Gate())
        base, cap = (self.quota_base, self.quota_cap) if quota else (self.backoff_base, self.backoff_cap)
        wait = max(retry_after or 0.0, delay(gate.failures, base, cap, self.rng))
        gate.failures += 1
        gate.until = now + wait
        self.outbox.retry(ids, gate.until, error)
        report.retried += len(ids)
        pending = self.outbox.pending(account)
        if quota and not gate.quota:
            log.error("account %r: %s -- nothing is sent for %.0f s, then one request tries again, waiting longer "
                      "each time (up to %.0f h); %d write(s) kept queued", account, error, wait, cap / 3600, pending)
        elif quota:
            log.info("%s; account %r waits %.0f s more (%d write(s) pending)", error, account, wait, pending)
        else:
            log.warning("%s; account %r waits %.0f s (%d write(s) pending)", error, account, wait, pending)
        gate.quota = quota
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


def _delivered(entries: list[Entry], request: str) -> None:
    """One line per write Simkl took: a person reading the log sees what went where. A request of
    more than LINES_PER_REQUEST (a library sync's 500 a second, a long backlog's) is one line."""
    if len(entries) > LINES_PER_REQUEST:
        first, last = entries[0], entries[-1]
        log.info("%s: delivered %d writes, %s to %s (%s)", first.account, len(entries),
                 describe(first.kind, first.body), describe(last.kind, last.body), request)
        return
    for entry in entries:
        log.info("%s: delivered %s (%s)", entry.account, describe(entry.kind, entry.body), request)


def _describe(entry: Entry) -> str:
    items = [item for bucket in BUCKETS for item in entry.body.get(bucket, [])]
    item = items[0] if items else {}
    return f"{item.get('title') or '?'} {item.get('ids', {})}"
