"""Jellyfin: the server's websocket (and `/Sessions`) -> PlayEvents; webhooks; resume points.

One adapter per configured server. Under the Supervisor, one listener thread holds the websocket:
it subscribes to session updates (`SessionsStart`), seeds itself with `GET /Sessions`, keeps the
socket alive (`KeepAlive` plus a websocket ping), and treats a socket that stays silent past the
watchdog as dead. Plays, pauses, resumes and stops are the differences between consecutive session
snapshots (`jellyfin_sessions.diff`); while the socket is down the Supervisor polls `/Sessions`
with the same diff, so a stop is not missed and a session that vanished meanwhile is closed at its
last known position. `UserDataChanged` turning an item played is the server's own watched signal.

The webhook plugin's Generic destination posts to `/jellyfin/<name>` (or `/jellyfin`, served by the
first server with webhooks on) on the bridge's HTTP endpoint, with the bridge's secret.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from typing import Any, Callable

import websocket

from bridge.adapters.base import Backoff, Sink, Supervisor
from bridge.adapters.jellyfin_api import JellyfinApi, JellyfinError, Users, remember
from bridge.adapters.jellyfin_map import (NotMatched, item_event, norm_id, parse_webhook_body, played_session,
                                          session_event, webhook_event, webhook_state, webhook_user)
from bridge.adapters.jellyfin_resume import ResumePusher
from bridge.adapters.jellyfin_sessions import Playing, diff, ended, newly_played, with_known_position
from bridge.config import JellyfinServer
from bridge.events import EventError, PlayEvent, Resume, State
from bridge.http import HttpError, HttpServer, Request

log = logging.getLogger("bridge.adapters.jellyfin")

# "0,1500": push at once, then at most every 1.5 s (Jellyfin rate-limits session pushes to this).
SESSIONS_START = json.dumps({"MessageType": "SessionsStart", "Data": "0,1500"})
KEEPALIVE = json.dumps({"MessageType": "KeepAlive"})
# A "mark played" without a session in sight is believed only when its LastPlayedDate is this fresh.
RECENT_MARK = 300.0
# A Played flag that arrives after the session's stop still belongs to that viewing for this long.
ENDED_MEMORY = 300.0
# The server's ForceKeepAlive sets how often we speak; a nonsense tiny one must not become a busy loop.
MIN_KEEPALIVE = 1.0


class JellyfinAdapter:
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
        self.cfg = server
        self.name = f"jellyfin/{server.name}"
        self.clock = clock
        self.keepalive = keepalive
        self.watchdog = watchdog
        self.timeout = timeout
        self.api = JellyfinApi(server.url, server.api_key, f"simkl-bridge-{server.name}", timeout)
        self.excluded = {str(name).casefold() for name in server.exclude_libraries}
        self.snapshot: dict[str, Playing] = {}
        self.users = Users(self.api, server.user, self.name)
        self._played: dict[tuple[str, str], bool] = {}  # (user id, item id) -> last Played flag seen
        self._ended: dict[tuple[str, str], tuple[PlayEvent, float]] = {}  # recent stops, by (user, item)
        self._skipped: dict[str, None] = {}  # items already logged as not sent
        self._sink: Sink | None = None
        self._ws: websocket.WebSocket | None = None
        self.supervisor = Supervisor(self.name, self._listen, poll=self._poll, poll_interval=poll_interval,
                                     backoff=backoff or Backoff(1.0, 60.0), log=log)
        self.resume = ResumePusher(self.api, self.name)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        self._sink = sink
        if self.cfg.websocket:
            self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stopping.set()
        ws = self._ws
        if ws is not None:
            ws.abort()  # wakes the listener out of its read at once
        self.supervisor.stop()

    def register_routes(self, server: HttpServer, sink: Sink) -> None:
        """`POST /jellyfin/<name>` per server with webhooks on; the first also answers `/jellyfin`."""
        if not self.cfg.webhooks:
            return
        self._sink = sink  # the bridge registers routes before it starts adapters
        server.add_route("POST", f"/jellyfin/{self.cfg.name}", self._webhook, secret=True)
        if ("POST", "/jellyfin") not in server.routes:
            server.add_route("POST", "/jellyfin", self._webhook, secret=True)

    # -- the websocket --------------------------------------------------------------------------

    def _listen(self, stop: threading.Event, connected: threading.Event) -> None:
        try:
            ws = websocket.create_connection(self.api.socket_url(), header=[f"Authorization: {self.api.auth}"],
                                             timeout=self.timeout, enable_multithread=True)
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
            self._apply(self.api.sessions())
            connected.set()
            log.info("%s: connected to %s", self.name, self.cfg.url)
            self._read(ws, stop)
        finally:
            self._ws = None
            ws.close(timeout=0.5)

    def _read(self, ws: websocket.WebSocket, stop: threading.Event) -> None:
        interval = self.keepalive
        now = time.monotonic()
        heard, next_ping = now, now + interval
        while not stop.is_set():
            now = time.monotonic()
            silent_for = self.watchdog if self.watchdog is not None else 2 * interval + 10
            if now - heard > silent_for:
                raise ConnectionError(f"nothing heard for {silent_for:.1f} s")
            if now >= next_ping:
                ws.send(KEEPALIVE)
                ws.ping()
                next_ping = now + interval
            ws.settimeout(max(0.01, min(next_ping, heard + silent_for) - now))
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            heard = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return
            if opcode == websocket.ABNF.OPCODE_TEXT:
                keepalive = self._on_message(frame.data.decode("utf-8", "replace"))
                if keepalive:
                    # The server drops clients that stay quiet for its timeout: speak at half of it.
                    interval = min(self.keepalive, max(MIN_KEEPALIVE, keepalive / 2))
                    next_ping = min(next_ping, heard + interval)

    def _on_message(self, text: str) -> float | None:
        """Handle one text message; returns the server's keep-alive timeout when it announces one."""
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
            if isinstance(data, (int, float)) and not isinstance(data, bool) and data > 0:
                return float(data)
            log.warning("%s: ignored ForceKeepAlive with Data %r (expected seconds)", self.name, data)
        elif kind == "Sessions":
            if isinstance(data, list):
                self._apply(data)
            else:
                log.warning("%s: ignored a Sessions message whose Data is not a list", self.name)
        elif kind == "UserDataChanged":
            self._user_data(data)
        return None

    def _poll(self) -> None:
        self._apply(self.api.sessions())

    # -- sessions -------------------------------------------------------------------------------

    def _apply(self, sessions: list[Any]) -> None:
        # Session state is only ever touched by the Supervisor's thread (listener and poll): no lock.
        now = self.clock()
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
                self._skip((norm_id(item.get("Id")) if isinstance(item, dict) else "") or sid, exc)
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
        if self._excluded(item_id):
            return None
        if "Series" not in item:
            item = {**item, "Series": self._series_of(item)}
        event = session_event({**session, "NowPlayingItem": item}, server=self.cfg.name, at=now)
        return Playing(item_id, norm_id(session.get("UserId")), event) if event is not None else None

    def _series_of(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """An episode's series: the show's ids are on it, not on the episode."""
        is_episode = item.get("Type") == "Episode" and item.get("SeriesId")
        return self.api.series(str(item["SeriesId"])) if is_episode else None

    def _excluded(self, item_id: str) -> bool:
        if not self.excluded or not item_id:
            return False
        library = self.api.library(item_id)
        if library.casefold() in self.excluded:
            self._once(item_id, logging.INFO, "item %s is in the excluded library %r; not sent", item_id, library)
            return True
        return False

    def _skip(self, key: str, exc: EventError) -> None:
        self._once(key, logging.INFO if isinstance(exc, NotMatched) else logging.WARNING, "not sent: %s", exc)

    def _once(self, key: str, level: int, message: str, *args: Any) -> None:
        """One line per item, not one per session update of it."""
        if key not in self._skipped:
            remember(self._skipped, key, None)
            log.log(level, "%s: " + message, self.name, *args)

    # -- users and the watched signal -------------------------------------------------------------

    def _user_data(self, data: Any) -> None:
        entries = data.get("UserDataList") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            log.warning("%s: ignored a UserDataChanged message without a UserDataList", self.name)
            return
        uid = norm_id(data.get("UserId"))
        self.users.ensure(uid)
        if not self.users.wanted(self.users.names.get(uid), uid):
            return
        now = self.clock()
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
            if item is None or self._excluded(item_id):
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
            self._skip(item_id, exc)
            return
        self._send(event)

    def _send(self, event: PlayEvent) -> None:
        # A listener still in a slow connect when stop() stopped waiting for it must not write after.
        if self._sink is not None and not self.supervisor.stopping.is_set():
            self._sink(event)

    # -- webhooks -------------------------------------------------------------------------------

    def _webhook(self, request: Request) -> tuple[int, Any]:
        try:
            body = parse_webhook_body(request.body())
            # Decided before any lookup: the plugin posts every notification type, for every user.
            if webhook_state(body) is None:
                return 200, {"accepted": False, "reason": "not a playback notification"}
            if not self.users.wanted(webhook_user(body), body.get("UserId")):
                return 200, {"accepted": False, "reason": "another user's play"}
            if self._lookup(self._excluded, norm_id(body.get("ItemId"))):
                return 200, {"accepted": False, "reason": "excluded library"}
            # The webhook carries only the episode's ids; the show's make it the item the socket reports.
            series = self._lookup(self.api.series, body.get("SeriesId")) if body.get("ItemType") == "Episode" else None
            event = webhook_event(body, server=self.cfg.name, at=self.clock(), series=series)
        except NotMatched as exc:
            self._skip(norm_id(body.get("ItemId")) or str(exc), exc)
            return 200, {"accepted": False, "reason": str(exc)}
        except EventError as exc:
            raise HttpError(400, str(exc)) from None
        if event is not None:
            self._send(event)
        return 202, {"accepted": True}

    def _lookup(self, call: Callable[[str], Any], key: Any) -> Any:
        """A lookup a webhook can do without: on failure, logged, and the webhook goes on without it."""
        if not key:
            return None
        try:
            return call(str(key))
        except JellyfinError as exc:
            log.warning("%s: webhook: %s", self.name, exc)
            return None

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


def adapters_from_config(servers: tuple[JellyfinServer, ...] | list[JellyfinServer]) -> list[JellyfinAdapter]:
    return [JellyfinAdapter(server) for server in servers]
