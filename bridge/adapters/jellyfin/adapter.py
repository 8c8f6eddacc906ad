"""Jellyfin: the server's websocket and `/Sessions` -> PlayEvents; resume points.

One adapter per configured server, on the adapter skeleton. What the socket tells an API key
depends on the server's version (the table is in plugins/jellyfin/README.md): 10.8 and 10.11+
push the session list after `SessionsStart`, 10.9.0-10.10.7 never do (their subscription throws
on the server when no user is behind the key), and no version sends an API key `UserDataChanged`
(the server sends it to the sessions of the user whose data changed; a key has none).

So the listener (the Supervisor's thread) reads `GET /Sessions` every `socket_poll` seconds while
the socket is up until a `Sessions` push proves the subscription, and always on 10.9-10.10; a
KeepAlive answer proves nothing, as every version answers it, subscribed or not. Nothing is
pushed on subscribing, so the list is read at once too, which also closes what ended while we were
away. A list read while pushes came is dropped: they are as new or newer, and an older list applied
after a newer one would replay a stopped play as a new one. While the socket is down the
Supervisor reads the list every `poll_interval` seconds. The listener only queues; the worker turns
consecutive lists into plays, pauses, resumes and stops (`sessions.diff`), and at each stop reads
the item's user data for its user: Jellyfin marking it played is the server's own watched signal.
The webhook plugin's route is in webhook.py.
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

from bridge.adapters.base import AdapterBase
from bridge.adapters.jellyfin import webhook
from bridge.adapters.jellyfin.api import JellyfinApi, JellyfinError, Users
from bridge.adapters.jellyfin.map import NotMatched, norm_id, played_session, session_event
from bridge.adapters.jellyfin.resume import ResumePusher
from bridge.adapters.jellyfin.sessions import Playing, diff, ended, with_known_position
from bridge.adapters.jellyfin.titles import JellyfinTitles
from bridge.backoff import Backoff
from bridge.config import JellyfinServer
from bridge.events import EventError, Resume, State
from bridge.wire import is_number

if TYPE_CHECKING:
    from bridge.http import HttpServer

log = logging.getLogger("bridge.adapters.jellyfin")

# "0,1500": the server sends its unforced updates at most every 1.5 s (forced ones at once).
SESSIONS_START = json.dumps({"MessageType": "SessionsStart", "Data": "0,1500"})
KEEPALIVE = json.dumps({"MessageType": "KeepAlive"})
SESSIONS = "Sessions"  # the worker's one message: (a /Sessions list, when it was read)
# While the socket is up but proves no subscription. GET /Sessions with an API key is answered from
# the server's in-memory session list (SessionManager.GetSessions: no user, library or database
# lookup), so a read costs the server in proportion to its sessions, not to its users or library;
# 12 a minute is less than one playing client's own reports, and a stop is still seen within 5 s.
SOCKET_POLL = 5.0
# How long to wait for frames already on their way when a list was read: pushes among them win.
DRAIN = 0.001
# The server's ForceKeepAlive sets how often we speak; a nonsense tiny one must not become a busy loop.
MIN_KEEPALIVE = 1.0


def pushes_sessions(version: tuple[int, ...] | None) -> bool:
    """Whether this version's socket pushes sessions to an API key (unknown: try, and poll until
    a push proves it). SessionInfoWebSocketListener.Start in 10.9.0-10.10.7 reads the key's user,
    which is none."""
    return version is None or not (10, 9) <= version[:2] < (10, 11)


class JellyfinAdapter(JellyfinTitles, AdapterBase):  # the sync's LibraryHolder and TitleHolder (library.py, titles.py)
    source = "jellyfin"
    expected_errors = (JellyfinError,)

    def __init__(
        self,
        server: JellyfinServer,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 10.0,
        socket_poll: float = SOCKET_POLL,
        keepalive: float = 30.0,
        watchdog: float | None = None,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
    ):
        super().__init__(server.name, log=log, backoff=backoff, poll_interval=poll_interval)
        self.cfg = server
        self.clock = clock
        self.socket_poll = socket_poll
        self.keepalive = keepalive
        self.watchdog = watchdog
        self.timeout = timeout
        self.api = JellyfinApi(server.url, server.api_key, f"simkl-bridge-{server.name}", timeout)
        self.excluded_libraries = {str(name).casefold() for name in server.exclude_libraries}
        self.users = Users(self.api, server.user, self.name)
        self.resume = ResumePusher(self.api, self.name)
        self.snapshot: dict[str, Playing] = {}  # the worker's last list: session id -> its play
        self.subscribed = False  # whether a push proved the current socket's subscription
        self._ws: websocket.WebSocket | None = None

    @property
    def listens(self) -> bool:
        return self.cfg.websocket

    def _add_routes(self, http: HttpServer) -> None:
        if self.cfg.webhooks:
            webhook.add_routes(http, self)

    # -- the websocket (Supervisor thread) ------------------------------------------------------

    def _listen(self, stop: threading.Event, connected: threading.Event) -> None:
        version = self.api.version()
        try:
            # Only this thread sends and reads; stop's abort() needs no lock.
            ws = websocket.create_connection(self.api.socket_url(), header=[f"Authorization: {self.api.auth}"],
                                             timeout=self.timeout)
        except websocket.WebSocketBadStatusException as exc:
            # Its text holds the reply's headers and body (a proxy's whole error page): the status says enough.
            refused = ": the API key was refused" if exc.status_code in (401, 403) else ""
            raise ConnectionError(f"websocket handshake answered HTTP {exc.status_code}{refused}") from None
        self._ws = ws
        self.subscribed = False
        pushes = pushes_sessions(version)
        try:
            if pushes:  # on 10.9-10.10 it would only log an error on the server at every connect
                ws.send(SESSIONS_START)
            self.users.refresh()
            seed = (self.api.sessions(), self.clock())
            connected.set()
            named = "Jellyfin " + ".".join(map(str, version)) if version else "a Jellyfin of unknown version"
            how = "" if pushes else f"; it pushes no sessions to an API key, so /Sessions is read every {self.socket_poll:g} s"
            log.info("%s: connected to %s (%s)%s", self.name, self.cfg.url, named, how)
            self._read(ws, stop, seed)
        finally:
            self._ws = None
            ws.close(timeout=0.5)

    def _read(self, ws: websocket.WebSocket, stop: threading.Event, held: tuple[list[Any], float] | None) -> None:
        """Read until the server closes, `stop`, or the watchdog: nothing heard (no message, no pong)
        for `watchdog` seconds, by default twice the keep-alive interval and then some. `held` is a
        list read from /Sessions, queued once the frames that came meanwhile are in (unless a push was
        among them).

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
        read_at = heard + self.socket_poll  # the next read of /Sessions while no push proved the subscription
        while not stop.is_set():
            now = time.monotonic()
            silent_for = self.watchdog if self.watchdog is not None else 2 * interval + 10
            if now - heard > silent_for:
                raise ConnectionError(f"nothing heard for {silent_for:.1f} s")
            if now >= due:
                ws.send(KEEPALIVE)
                ws.ping()
                due = now + interval
            if held is None and not self.subscribed and now >= read_at:
                held = self._read_sessions()
                read_at = now + self.socket_poll
            wake = min(due, heard + silent_for, due if self.subscribed else read_at)
            ws.settimeout(DRAIN if held is not None else max(0.01, wake - now))
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                if held is not None and not self.subscribed:
                    self._post(SESSIONS, held)
                held = None
                continue
            heard = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            kind, timeout = self._on_text(frame.data.decode("utf-8", "replace"))
            if kind == SESSIONS:
                self.subscribed = True
            if timeout:
                # The server drops clients that stay quiet for its timeout: speak at half of it.
                interval = min(self.keepalive, max(MIN_KEEPALIVE, timeout / 2))
                due = min(due, heard + interval)

    def _on_text(self, text: str) -> tuple[str | None, float | None]:
        """Queue a `Sessions` push for the worker; returns the message's type, and the server's
        keep-alive timeout when it announces one."""
        try:
            message = json.loads(text)
        except json.JSONDecodeError as exc:
            log.warning("%s: ignored a websocket message that is not JSON (%s): %.80r", self.name, exc, text)
            return None, None
        kind = message.get("MessageType") if isinstance(message, dict) else None
        if not isinstance(kind, str):
            log.warning("%s: ignored a websocket message without a MessageType: %.80r", self.name, text)
            return None, None
        data = message.get("Data")
        if kind == SESSIONS:
            self._post(SESSIONS, (data, self.clock()))  # stamped on arrival: the worker may be busy
        elif kind == "ForceKeepAlive":
            if is_number(data) and data > 0:
                return kind, float(data)
            log.warning("%s: ignored ForceKeepAlive with Data %r (expected seconds)", self.name, data)
        return kind, None

    def _read_sessions(self) -> tuple[list[Any], float] | None:
        """A read while the socket is up: a failure is said once, and the socket carries on."""
        try:
            listed = (self.api.sessions(), self.clock())
        except JellyfinError as exc:
            self._once("sessions", logging.WARNING, "could not read the sessions: %s", exc)
            return None
        self._forget("sessions")
        return listed

    def _poll(self) -> None:
        self._post(SESSIONS, (self.api.sessions(), self.clock()))

    def _abort(self) -> None:
        ws = self._ws
        if ws is not None:
            ws.abort()  # type: ignore[no-untyped-call]  # websocket-client leaves it unannotated

    # -- sessions (worker thread) ---------------------------------------------------------------

    def _handle(self, kind: str, data: Any) -> None:
        sessions, now = data
        if not isinstance(sessions, list):
            log.warning("%s: ignored a Sessions message whose Data is not a list", self.name)
            return
        current = self._snapshot(sessions, now)
        events = diff(self.snapshot, current, now)
        over = ended(self.snapshot, current)
        self.snapshot = current
        for event in events:
            self._send(event)
        for play in over:
            self._played(play, now)

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
        if self.excluded(item_id, session.get("UserId")):
            return None
        if "Series" not in item:
            item = {**item, "Series": self._series_of(item)}
        event = session_event({**session, "NowPlayingItem": item}, server=self.cfg.name, at=now)
        return Playing(item_id, norm_id(session.get("UserId")), event) if event is not None else None

    def _series_of(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """An episode's series: the show's ids are on it, not on the episode."""
        is_episode = item.get("Type") == "Episode" and item.get("SeriesId")
        return self.api.series(str(item["SeriesId"])) if is_episode else None

    def _played(self, play: Playing, now: float) -> None:
        """A play is over: whether Jellyfin marked the item played for its user, its watched signal.
        A start clears Played and a stop past the server's max-resume point sets it
        (SessionManager.OnPlaybackStart, UserDataManager.UpdatePlayState), so Played now means this
        viewing. Reported apart from the play's own session, which may already play the next episode;
        under the session a webhook's "played" uses too, so the engine marks it once."""
        if not play.user_id:
            return
        try:
            item = self.api.item(play.item_id, play.user_id)
        except JellyfinError as exc:
            log.warning("%s: could not read whether %s was played to its end: %s", self.name, play.event.title, exc)
            return
        data = item.get("UserData") if item is not None else None
        if isinstance(data, dict) and data.get("Played") is True:
            self._send(replace(play.event, session=played_session(play.user_id, play.item_id), state=State.WATCHED,
                               at=now))

    # -- for the worker and webhooks ------------------------------------------------------------

    def excluded(self, item_id: str, user_id: Any) -> bool:
        if not self.excluded_libraries or not item_id:
            return False
        viewer = self.users.viewer(user_id)
        if viewer is None:
            self._once("no-viewer", logging.WARNING, "no user to ask for item libraries: exclude_libraries cannot "
                       "be applied")
            return False
        library = self.api.library(item_id, viewer)
        if library.casefold() in self.excluded_libraries:
            self._once(f"item:{item_id}", logging.INFO, "item %s is in the excluded library %r; not sent", item_id, library)
            return True
        return False

    def skip(self, key: str, exc: EventError) -> None:
        """One line per item, not one per session update of it."""
        self._once(f"item:{key}", logging.INFO if isinstance(exc, NotMatched) else logging.WARNING, "not sent: %s", exc)

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
