"""Jellyfin: the server's websocket (and `/Sessions`) -> PlayEvents; resume points.

One adapter per configured server, on the adapter skeleton. The listener (the Supervisor's
thread) holds the websocket: it subscribes to session updates (`SessionsStart`), seeds itself
with `GET /Sessions`, keeps the socket alive, treats a socket silent past the watchdog as dead,
and only queues what it hears, so that lookups on the server never hold up its KeepAlive. The
worker turns the queue into plays, pauses, resumes and stops: the differences between consecutive
session snapshots (`sessions.diff`). While the socket is down the Supervisor polls `/Sessions` into
the same queue, so a stop is not missed and a session that vanished meanwhile is closed at its last
known position. `UserDataChanged` turning an item played is the server's own watched signal. The
webhook plugin's route is in webhook.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import websocket

from bridge.adapters.base import AdapterBase, remember
from bridge.adapters.jellyfin import webhook
from bridge.adapters.jellyfin.api import JellyfinApi, JellyfinError, Users
from bridge.adapters.jellyfin.map import NotMatched, item_event, norm_id, played_session, session_event
from bridge.adapters.jellyfin.resume import ResumePusher
from bridge.adapters.jellyfin.sessions import Playing, diff, ended, newly_played, with_known_position
from bridge.backoff import Backoff
from bridge.config import JellyfinServer
from bridge.events import EventError, PlayEvent, Resume, State
from bridge.wire import is_number

if TYPE_CHECKING:
    from bridge.http import HttpServer

log = logging.getLogger("bridge.adapters.jellyfin")

# "0,1500": push at once, then at most every 1.5 s (Jellyfin rate-limits session pushes to this).
SESSIONS_START = json.dumps({"MessageType": "SessionsStart", "Data": "0,1500"})
KEEPALIVE = json.dumps({"MessageType": "KeepAlive"})
# The messages the worker handles, queued as (Data, when it arrived); the poll queues SESSIONS too.
SESSIONS, USER_DATA = "Sessions", "UserDataChanged"
# A "mark played" without a session in sight is believed only when its LastPlayedDate is this fresh.
RECENT_MARK = 300.0
# A Played flag that arrives after the session's stop still belongs to that viewing for this long.
ENDED_MEMORY = 300.0
# The server's ForceKeepAlive sets how often we speak; a nonsense tiny one must not become a busy loop.
MIN_KEEPALIVE = 1.0


class JellyfinAdapter(AdapterBase):
    source = "jellyfin"
    expected_errors = (JellyfinError,)

    def __init__(
        self,
        server: JellyfinServer,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 10.0,
        keepalive: float = 30.0,
        watchdog: float | None = None,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
    ):
        super().__init__(server.name, log=log, backoff=backoff, poll_interval=poll_interval)
        self.cfg = server
        self.clock = clock
        self.keepalive = keepalive
        self.watchdog = watchdog
        self.timeout = timeout
        self.api = JellyfinApi(server.url, server.api_key, f"simkl-bridge-{server.name}", timeout)
        self.excluded_libraries = {str(name).casefold() for name in server.exclude_libraries}
        self.users = Users(self.api, server.user, self.name)
        self.resume = ResumePusher(self.api, self.name)
        # Worker state: the last snapshot, and what each (user id, item id) last did.
        self.snapshot: dict[str, Playing] = {}
        self._played: dict[tuple[str, str], bool] = {}  # the last Played flag seen
        self._ended: dict[tuple[str, str], tuple[PlayEvent, float]] = {}  # recent stops, and when
        self._ws: websocket.WebSocket | None = None

    @property
    def listens(self) -> bool:
        return self.cfg.websocket

    def _add_routes(self, http: HttpServer) -> None:
        if self.cfg.webhooks:
            webhook.add_routes(http, self)

    # -- the websocket (Supervisor thread) ------------------------------------------------------

    def _listen(self, stop: threading.Event, connected: threading.Event) -> None:
        try:
            # Only this thread sends and reads; stop's abort() needs no lock.
            ws = websocket.create_connection(self.api.socket_url(), header=[f"Authorization: {self.api.auth}"],
                                             timeout=self.timeout)
        except websocket.WebSocketBadStatusException as exc:
            # Its text holds the reply's headers and body (a proxy's whole error page): the status says enough.
            refused = ": the API key was refused" if exc.status_code in (401, 403) else ""
            raise ConnectionError(f"websocket handshake answered HTTP {exc.status_code}{refused}") from None
        self._ws = ws
        try:
            ws.send(SESSIONS_START)
            self.users.refresh()
            # Jellyfin pushes nothing right after subscribing: seed from the REST list. This also
            # closes what ended while we were away.
            self._poll()
            connected.set()
            log.info("%s: connected to %s", self.name, self.cfg.url)
            self._read(ws, stop)
        finally:
            self._ws = None
            ws.close(timeout=0.5)

    def _read(self, ws: websocket.WebSocket, stop: threading.Event) -> None:
        """Read until the server closes, `stop`, or the watchdog: nothing heard (no message, no pong)
        for `watchdog` seconds, by default twice the keep-alive interval and then some.

        Jellyfin drops a client that sends no `KeepAlive` message within the timeout its
        `ForceKeepAlive` announces: an application message, which a websocket ping does not stand
        in for, at an interval the server sets. So this loop is ours rather than websocket-client's
        `run_forever(ping_interval=, ping_timeout=)`, which pings on a fixed schedule from a thread
        of its own, watches only for pongs (and only within ping_interval), takes its handshake
        timeout from the process-wide default and logs an error of its own at every disconnect.
        The library's part: the handshake and read timeouts, the ping, answering the server's pings."""
        interval = self.keepalive
        heard = time.monotonic()
        due = heard + interval  # the next KeepAlive
        while not stop.is_set():
            now = time.monotonic()
            silent_for = self.watchdog if self.watchdog is not None else 2 * interval + 10
            if now - heard > silent_for:
                raise ConnectionError(f"nothing heard for {silent_for:.1f} s")
            if now >= due:
                ws.send(KEEPALIVE)
                ws.ping()
                due = now + interval
            ws.settimeout(max(0.01, min(due, heard + silent_for) - now))
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            heard = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return
            if opcode == websocket.ABNF.OPCODE_TEXT and (timeout := self._on_text(frame.data.decode("utf-8", "replace"))):
                # The server drops clients that stay quiet for its timeout: speak at half of it.
                interval = min(self.keepalive, max(MIN_KEEPALIVE, timeout / 2))
                due = min(due, heard + interval)

    def _on_text(self, text: str) -> float | None:
        """Queue one text message for the worker; returns the server's keep-alive timeout when it
        announces one."""
        try:
            message = json.loads(text)
        except json.JSONDecodeError as exc:
            log.warning("%s: ignored a websocket message that is not JSON (%s): %.80r", self.name, exc, text)
            return None
        kind = message.get("MessageType") if isinstance(message, dict) else None
        if not isinstance(kind, str):
            log.warning("%s: ignored a websocket message without a MessageType: %.80r", self.name, text)
            return None
        data = message.get("Data")
        if kind == "ForceKeepAlive":
            if is_number(data) and data > 0:
                return float(data)
            log.warning("%s: ignored ForceKeepAlive with Data %r (expected seconds)", self.name, data)
        elif kind in (SESSIONS, USER_DATA):
            self._post(kind, (data, self.clock()))  # stamped on arrival: the worker may be busy
        return None

    def _poll(self) -> None:
        self._post(SESSIONS, (self.api.sessions(), self.clock()))

    def _abort(self) -> None:
        ws = self._ws
        if ws is not None:
            ws.abort()  # type: ignore[no-untyped-call]  # websocket-client leaves it unannotated

    # -- sessions (worker thread) ---------------------------------------------------------------

    def _handle(self, kind: str, data: Any) -> None:
        message, at = data
        if kind == USER_DATA:
            self._user_data(message, at)
        elif isinstance(message, list):
            self._apply(message, at)
        else:
            log.warning("%s: ignored a Sessions message whose Data is not a list", self.name)

    def _apply(self, sessions: list[Any], now: float) -> None:
        current = self._snapshot(sessions, now)
        events = diff(self.snapshot, current, now)
        self._ended = {k: v for k, v in self._ended.items() if now - v[1] <= ENDED_MEMORY}
        self._ended.update({(old.user_id, old.item_id): (old.event, now) for old in ended(self.snapshot, current)})
        self.snapshot = current
        for event in events:
            self._send(event)

    def _snapshot(self, sessions: list[Any], now: float) -> dict[str, Playing]:
        current: dict[str, Playing] = {}
        for session in sessions:
            if not isinstance(session, dict):
                log.warning("%s: ignored a session that is not an object", self.name)
                continue
            sid = str(session.get("Id") or "")
            try:
                playing = self._playing(session, now)
            except JellyfinError as exc:
                # A lookup failed, not the play: carry on with what we knew rather than invent a stop.
                log.warning("%s: %s", self.name, exc)
                if sid in self.snapshot:
                    current[sid] = self.snapshot[sid]
                continue
            except EventError as exc:
                item = session.get("NowPlayingItem")
                self.skip((norm_id(item.get("Id")) if isinstance(item, dict) else "") or sid, exc)
                continue
            playing = with_known_position(self.snapshot.get(sid), playing) if playing is not None else None
            if playing is not None:
                current[sid] = playing
        return current

    def _playing(self, session: dict[str, Any], now: float) -> Playing | None:
        item = session.get("NowPlayingItem")
        if item is None or not self.users.wanted(session.get("UserName"), session.get("UserId")):
            return None
        if not isinstance(item, dict):
            raise EventError("jellyfin session.NowPlayingItem: expected an object")
        item_id = norm_id(item.get("Id"))
        if self.excluded(item_id):
            return None
        if "Series" not in item:
            item = {**item, "Series": self._series_of(item)}
        event = session_event({**session, "NowPlayingItem": item}, server=self.cfg.name, at=now)
        return Playing(item_id, norm_id(session.get("UserId")), event) if event is not None else None

    def _series_of(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """An episode's series: the show's ids are on it, not on the episode."""
        is_episode = item.get("Type") == "Episode" and item.get("SeriesId")
        return self.api.series(str(item["SeriesId"])) if is_episode else None

    # -- for the worker and webhooks ------------------------------------------------------------

    def excluded(self, item_id: str) -> bool:
        if not self.excluded_libraries or not item_id:
            return False
        library = self.api.library(item_id)
        if library.casefold() in self.excluded_libraries:
            self._once(f"item:{item_id}", logging.INFO, "item %s is in the excluded library %r; not sent", item_id, library)
            return True
        return False

    def skip(self, key: str, exc: EventError) -> None:
        """One line per item, not one per session update of it."""
        self._once(f"item:{key}", logging.INFO if isinstance(exc, NotMatched) else logging.WARNING, "not sent: %s", exc)

    # -- users and the watched signal (worker thread) -------------------------------------------

    def _user_data(self, data: Any, now: float) -> None:
        entries = data.get("UserDataList") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            log.warning("%s: ignored a UserDataChanged message without a UserDataList", self.name)
            return
        uid = norm_id(data.get("UserId"))
        self.users.ensure(uid)
        if not self.users.wanted(self.users.names.get(uid), uid):
            return
        for entry in entries:
            item_id = norm_id(entry.get("ItemId")) if isinstance(entry, dict) else ""
            if not item_id:
                continue
            playing = next((p for p in self.snapshot.values() if p.item_id == item_id and p.user_id == uid), None)
            stopped = self._ended.get((uid, item_id))
            was = self._played.get((uid, item_id))
            remember(self._played, (uid, item_id), entry.get("Played") is True)
            seen = playing is not None or stopped is not None
            if self.resume.echo(item_id) or not newly_played(was, entry, seen, now, RECENT_MARK):
                continue
            if playing is not None:  # the viewing still on: its own session, so its stop is not marked again
                self._send(replace(playing.event, state=State.WATCHED, at=now))
            elif stopped is not None:
                # Just stopped, at its last position. Not under its own session, which may already play
                # the next episode: the engine would close that viewing to open this one again.
                self._send(replace(stopped[0], session=played_session(uid, item_id), state=State.WATCHED, at=now))
            else:
                self._watched(uid, item_id, now)

    def _watched(self, uid: str, item_id: str, now: float) -> None:
        """An item nobody was seen playing turned played: a hand mark. Looked up to be mapped."""
        try:
            item = self.api.item(item_id, uid)
            if item is None or self.excluded(item_id):
                return
            series = self._series_of(item)
            # The webhook reports the same hand-mark under this session: the engine marks it once.
            event = item_event(item, server=self.cfg.name, user=self.users.name(uid),
                               session=played_session(uid, item_id), state=State.WATCHED, position_ticks=None, at=now,
                               series=series)
        except JellyfinError as exc:
            log.warning("%s: could not look up item %s marked played: %s", self.name, item_id, exc)
            return
        except EventError as exc:
            self.skip(item_id, exc)
            return
        self._send(event)

    # -- resume points --------------------------------------------------------------------------

    def resume_owner(self) -> tuple[str, str, str] | None:
        if self.cfg.user is None:
            return None
        self.users.ensure()
        # `users:` rules name people; the configured user may be an id, so report its name.
        return ("jellyfin", self.cfg.name, self.users.names.get(self.users.configured_id or "") or self.cfg.user)

    def apply_resume(self, resumes: list[Resume]) -> int:
        if not resumes:
            return 0
        if self.cfg.user is None:
            log.info("%s: no `user:` configured, so Simkl's resume points are not pushed to Jellyfin", self.name)
            return 0
        self.users.ensure()
        if self.users.configured_id is None:
            return 0
        try:
            return self.resume.push(self.users.configured_id, resumes)
        except JellyfinError as exc:
            log.warning("%s: resume points not pushed: %s", self.name, exc)
            return 0
