"""The scrobble engine: per-session state machine from PlayEvents to Simkl writes.

Pure decisions: no I/O, no clock of its own (time comes from the events and from `tick(now)`).
Each transition declares the states it goes from and to; `handle` looks the pair up.

The rules that keep Simkl honest:
- Scrobble calls only on real player actions: play/resume -> start, pause -> pause. Progress
  updates while playing change nothing (Simkl extrapolates progress itself).
- A stop below the watched threshold saves a playback (pause); at or above it, or on the server's
  own "watched" signal, the item is marked in history once per viewing.
- The same viewing reported twice (duplicate stops, a webhook and a websocket for one play, the
  tail of a resumed session) is marked once; a rewatch from the beginning counts again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from bridge.events import PlayEvent, State
from bridge.item import Item
from bridge.simkl.bodies import history_body, scrobble_body
from bridge.times import iso
from bridge.writes import HISTORY, PAUSE, START, Write

log = logging.getLogger("bridge.engine")

# Below this a stop is a mis-click, not a resume point worth saving.
MIN_RESUME_PROGRESS = 1.0
# A marked session that plays again from before this percentage is a new viewing (a rewatch on a
# player that never reported a stop in between, e.g. a webhook `media.scrobble` without `media.stop`).
REWATCH_START = 5.0
# Two sources reporting the same player action (alerts + webhook) arrive within this many seconds.
ECHO_WINDOW = 30.0
# How long a mark is remembered for dedupe; the outbox re-seeds it after a restart.
MARK_MEMORY = 7 * 86400.0

ResolveAccount = Callable[[str, str, str], "str | None"]
SessionKey = tuple[str, str, str]


@dataclass
class Session:
    account: str
    event: PlayEvent  # the latest event: item identity and last known position
    state: State
    started_at: float  # when this viewing began
    start_progress: float  # where it began (a resumed tail starts past the threshold)
    marked: bool = False
    saved_progress: float | None = None  # progress of the last pause written for this session
    heard: int = 0  # when it was last heard, in the engine's own count: `sessions` is in this order


@dataclass(frozen=True)
class Transition:
    sources: frozenset[State | None]  # None = no open session
    target: State
    action: str  # name of the Engine method that produces the writes


ANY = frozenset({None, State.PLAYING, State.PAUSED})
TRANSITIONS = (
    Transition(frozenset({None, State.PAUSED}), State.PLAYING, "_start"),
    Transition(frozenset({State.PLAYING}), State.PLAYING, "_progress"),
    Transition(frozenset({None, State.PLAYING}), State.PAUSED, "_pause"),
    Transition(frozenset({State.PAUSED}), State.PAUSED, "_progress"),
    Transition(ANY, State.STOPPED, "_stop"),
    Transition(ANY, State.WATCHED, "_watched"),
)
_TABLE = {(s, t.target): t for t in TRANSITIONS for s in t.sources}


class Engine:
    def __init__(
        self,
        resolve_account: ResolveAccount,
        *,
        threshold: float = 80.0,
        session_timeout: float = 1800.0,
        send_start: bool = True,
    ):
        self.resolve_account = resolve_account
        self.threshold = threshold
        self.session_timeout = session_timeout
        self.send_start = send_start
        # Least recently heard first: the timeout sweep stops at the first session still alive.
        self.sessions: OrderedDict[SessionKey, Session] = OrderedDict()
        # (account, item_key) -> epoch seconds of each remembered mark
        self.marks: dict[tuple[str, str], list[float]] = {}
        self._mark_order: deque[tuple[float, tuple[str, str]]] = deque()  # to forget the oldest first
        # (account, item_key, kind) -> (epoch seconds, session key) of the last start/pause written
        self.recent: dict[tuple[str, str, str], tuple[float, SessionKey]] = {}
        self._recent_order: deque[tuple[float, tuple[str, str, str]]] = deque()
        self._unmapped: set[SessionKey] = set()
        self._heard_count = 0
        # What the last handle() or tick() changed, for revert(): each touched session as it was
        # before, and how to take back each mark and playback write it remembered.
        self._before: dict[SessionKey, Session | None] = {}
        self._undo: list[Callable[[], None]] = []

    def reconfigure(self, resolve_account: ResolveAccount, *, threshold: float, session_timeout: float, send_start: bool) -> None:
        """A reloaded config's rules and settings, for every event and tick from now on."""
        self.resolve_account = resolve_account
        self.threshold = threshold
        self.session_timeout = session_timeout
        self.send_start = send_start

    # -- inputs ---------------------------------------------------------------------------------

    def seed_marks(self, marks: list[tuple[str, Item, float]]) -> None:
        """Remember marks made before a restart (from the outbox) so they are not made again."""
        for account, item, at in marks:
            self._remember_mark(account, item.key, at)

    def handle(self, event: PlayEvent) -> list[Write]:
        """The writes `event` makes. The engine remembers them at once; a caller that cannot store
        them calls `revert()` before anything else reaches the engine."""
        self._before, self._undo = {}, []
        key: SessionKey = (event.source, event.server, event.session)
        account = self.resolve_account(event.source, event.server, event.user)
        if account is None:
            if key not in self._unmapped:
                self._unmapped.add(key)
                log.info(
                    "%s/%s: play by user %r maps to no Simkl account; not sent (add it under `users:`)",
                    event.source, event.server, event.user,
                )
            return []
        writes: list[Write] = []
        session = self._keep(key)
        if session is not None and (session.event.item_key != event.item_key or session.account != account
                                    or self._starts_over(session, event)):
            # The player moved on to another item within one session (playlists, next episode), or
            # began the same one again after it was marked.
            writes += self._close(key, session, session.event.at)
            session = None
        transition = _TABLE[(session.state if session else None, event.state)]
        if session is None:
            session = Session(account, event, event.state, event.at, event.progress)
        writes += getattr(self, transition.action)(key, session, event)
        return writes

    def tick(self, now: float) -> list[Write]:
        """Close sessions silent for longer than the timeout, from their last known position."""
        # Forgetting first: what revert() takes back is then always the newest of what is remembered.
        self._forget_older_than(now)
        self._before, self._undo = {}, []
        writes: list[Write] = []
        while self.sessions:
            key, session = next(iter(self.sessions.items()))
            if now - session.event.at < self.session_timeout:
                break
            log.info("%s: silent for %.0f s; closing at %.0f%%", "/".join(key), now - session.event.at,
                     session.event.progress)
            self._keep(key)
            writes += self._close(key, session, session.event.at)
        return writes

    def revert(self) -> None:
        """Forget what the last handle() or tick() decided, as its writes could not be stored: an
        engine that remembered a mark nobody stored would not make it again for the resent event."""
        for undo in reversed(self._undo):
            undo()
        for key, before in self._before.items():
            self.sessions.pop(key, None)
            if before is not None:
                self.sessions[key] = before
        if self._before:
            ordered = sorted(self.sessions.items(), key=lambda item: item[1].heard)
            self.sessions.clear()
            self.sessions.update(ordered)
        self._before, self._undo = {}, []

    def _keep(self, key: SessionKey) -> Session | None:
        """The session at `key`, kept as it is now for revert() (the first time in this call)."""
        session = self.sessions.get(key)
        if key not in self._before:
            self._before[key] = replace(session) if session is not None else None
        return session

    # -- transitions ----------------------------------------------------------------------------

    def _start(self, key: SessionKey, session: Session, event: PlayEvent) -> list[Write]:
        self._open(key, session, event)
        if not self.send_start:
            return []
        return self._playback_write(START, key, session, event)

    def _progress(self, key: SessionKey, session: Session, event: PlayEvent) -> list[Write]:
        self._open(key, session, event)
        return []

    def _pause(self, key: SessionKey, session: Session, event: PlayEvent) -> list[Write]:
        self._open(key, session, event)
        return self._playback_write(PAUSE, key, session, event)

    def _stop(self, key: SessionKey, session: Session, event: PlayEvent) -> list[Write]:
        session.event = self._keep_known_position(session.event, event)
        return self._close(key, session, event.at)

    def _watched(self, key: SessionKey, session: Session, event: PlayEvent) -> list[Write]:
        session.event = self._keep_known_position(session.event, event)
        if key not in self.sessions:
            # The server's signal usually arrives mid-play; keep the session so its stop is known.
            session.state = State.PLAYING
        self._heard(key, session)
        return self._mark(session, event.at)

    # -- helpers --------------------------------------------------------------------------------

    def _open(self, key: SessionKey, session: Session, event: PlayEvent) -> None:
        session.event = self._keep_known_position(session.event, event)
        session.state = event.state
        self._heard(key, session)

    def _heard(self, key: SessionKey, session: Session) -> None:
        self._heard_count += 1
        session.heard = self._heard_count
        self.sessions[key] = session
        self.sessions.move_to_end(key)

    @staticmethod
    def _keep_known_position(previous: PlayEvent, event: PlayEvent) -> PlayEvent:
        # Some stops carry no position or duration (Kodi's OnStop, Plex webhooks): keep the last one.
        if event.duration <= 0 and previous.duration > 0:
            return replace(event, position=previous.position, duration=previous.duration)
        return event

    def _starts_over(self, session: Session, event: PlayEvent) -> bool:
        return (session.marked and event.state is State.PLAYING and event.duration > 0
                and event.progress < REWATCH_START)

    def _close(self, key: SessionKey, session: Session, at: float) -> list[Write]:
        self.sessions.pop(key, None)
        event = session.event
        if event.progress >= self.threshold:
            return self._mark(session, at)
        # A viewing already marked (here, or by another source reporting the same play with a stale
        # position) leaves no resume point: Simkl would offer to resume a watched item.
        if (session.marked or self._marked_since(session) or event.progress < MIN_RESUME_PROGRESS
                or session.saved_progress == event.progress):
            return []
        return self._playback_write(PAUSE, key, session, replace(event, at=at))

    def _mark(self, session: Session, at: float) -> list[Write]:
        if session.marked:
            return []
        session.marked = True
        event = session.event
        if self._is_repeat(session):
            log.info("%s: %s already marked for this viewing; not sent again", session.account, _describe(event))
            return []
        # Not a repeat, yet marked before: a new viewing after an earlier one (one that started
        # over, or came back later). Only such a viewing is a rewatch.
        rewatch = bool(self.marks.get((session.account, event.item_key)))
        self._remember_mark(session.account, event.item_key, at)
        self._undo.append(partial(self._unremember_mark, (session.account, event.item_key)))
        watched_at = iso(at)
        return [_write(session, HISTORY, watched_at, history_body(event, watched_at), at, rewatch)]

    def _marked_since(self, session: Session) -> bool:
        """A mark made after this viewing began belongs to this viewing (reported by another source)."""
        earlier = self.marks.get((session.account, session.event.item_key), [])
        return bool(earlier) and max(earlier) >= session.started_at

    def _is_repeat(self, session: Session) -> bool:
        if not self.marks.get((session.account, session.event.item_key)):
            return False
        # A viewing that began already past the threshold is the tail of one that was marked.
        return self._marked_since(session) or session.start_progress >= self.threshold

    def _playback_write(self, kind: str, key: SessionKey, session: Session, event: PlayEvent) -> list[Write]:
        # A scrobble names the show; without its ids Simkl cannot hold a resume point (the mark
        # at the end still goes through, by the episode's own ids).
        if event.addressed_by_episode_ids or self._echo(kind, session, key, event.at):
            return []
        recent = (session.account, event.item_key, kind)
        self._undo.append(partial(self._restore_recent, recent, self.recent.get(recent)))
        self.recent[recent] = (event.at, key)
        self._recent_order.append((event.at, recent))
        if kind == PAUSE:
            session.saved_progress = event.progress
        return [_write(session, kind, f"{event.at!r}:{'/'.join(key)}", scrobble_body(event), event.at)]

    def _echo(self, kind: str, session: Session, key: SessionKey, at: float) -> bool:
        """The same player action already reported for this item by another session (source)."""
        last = self.recent.get((session.account, session.event.item_key, kind))
        return last is not None and last[1] != key and abs(at - last[0]) < ECHO_WINDOW

    def _remember_mark(self, account: str, item_key: str, at: float) -> None:
        self.marks.setdefault((account, item_key), []).append(at)
        self._mark_order.append((at, (account, item_key)))

    def _unremember_mark(self, k: tuple[str, str]) -> None:
        self._mark_order.pop()
        self.marks[k].pop()
        if not self.marks[k]:
            del self.marks[k]

    def _restore_recent(self, recent: tuple[str, str, str], before: tuple[float, SessionKey] | None) -> None:
        self._recent_order.pop()
        self.recent.pop(recent)
        if before is not None:
            self.recent[recent] = before

    def _forget_older_than(self, now: float) -> None:
        """Drop marks past MARK_MEMORY and playback writes past ECHO_WINDOW, oldest first: the cost
        is what is forgotten, not what is remembered."""
        while self._mark_order and self._mark_order[0][0] < now - MARK_MEMORY:
            at, k = self._mark_order.popleft()
            times = self.marks.get(k, [])
            if at in times:
                times.remove(at)
            if not times:
                self.marks.pop(k, None)
        while self._recent_order and self._recent_order[0][0] < now - ECHO_WINDOW:
            at, recent = self._recent_order.popleft()
            if recent in self.recent and self.recent[recent][0] == at:
                del self.recent[recent]
        if len(self._unmapped) > 10_000:
            self._unmapped.clear()


def _describe(event: PlayEvent) -> str:
    if event.episodes:
        eps = ",".join(str(e) for e in event.episodes)
        return f"{event.title or event.ids.key()} S{event.season}E{eps}"
    return event.title or event.ids.key()


def _write(session: Session, kind: str, instant: str, body: dict[str, Any], at: float, rewatch: bool = False) -> Write:
    """The idempotency key names the account, item and instant: the same write made twice (a resent
    event, a restart) is one outbox row."""
    item = session.event.item
    return Write(account=session.account, kind=kind, item=item,
                 idem_key=f"{kind}:{session.account}:{item.key}:{instant}", body=body, at=at, rewatch=rewatch)
