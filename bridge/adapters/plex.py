"""Plex Media Server: websocket alerts and webhooks -> PlayEvents; Simkl resume points -> Plex.

One adapter per configured server. HTTP goes through plexapi's `PlexServer` (its XML parsing,
headers and token handling); the notifications socket is read by `plex_alerts.AlertSocket`,
which adds the pings and watchdog plexapi's AlertListener lacks. The reader (under the
Supervisor) only queues; a worker thread handles each alert, because handling one needs HTTP
calls (the item's metadata, the session's user) that must not hold up pongs.

A `playing` alert names a session and an item but no user, ids or duration: the first alert of
a session resolves the item's metadata (and its show's, for an episode) and the user from
`/status/sessions`, once; later alerts only move its state and position. An episode's season is
read too: the episodes whose Media part is the played file are one multi-episode file, all marked.
While the socket is down the Supervisor polls `/status/sessions`. A play missing from any sessions
list read (those polls, the read on reconnecting, the read for a new session) ended without its
`stopped` alert reaching us and is closed at its last known position.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable
from xml.etree.ElementTree import ParseError

from plexapi.exceptions import NotFound, PlexApiException
from plexapi.server import PlexServer as PlexClient
from requests import RequestException

from bridge.adapters import plex_webhook
from bridge.adapters.base import Backoff, Sink, Supervisor
from bridge.adapters.plex_alerts import NOTIFICATIONS, AlertSocket, bad_notification
from bridge.adapters.plex_guid import parse_guid
from bridge.adapters.plex_map import (
    NotMatched, event_from_metadata, in_excluded_library, metadata_from_xml, same_file_episodes, webhook_event,
)
from bridge.adapters.plex_resume import ResumeWriter
from bridge.config import PlexServer
from bridge.events import EventError, Kind, PlayEvent, Resume, State
from bridge.http import HttpError, HttpServer

log = logging.getLogger("bridge.adapters.plex")

STATES = {"playing": State.PLAYING, "paused": State.PAUSED, "stopped": State.STOPPED}
# A show re-matched in Plex (Fix Match) has new ids: its cached metadata is read again after this.
SHOW_TTL = 600.0
# A season's episodes (whose files tell a multi-episode file): shared by one play's alerts and webhooks.
SEASON_TTL = 120.0
# /status/sessions lists a player waiting for data as `buffering`: its session is still going on.
SESSION_STATES = {**STATES, "buffering": State.PLAYING}


@dataclass(frozen=True)
class Live:
    """One entry of /status/sessions."""

    rating_key: str
    user: str
    state: State
    position: float  # seconds


@dataclass
class Play:
    event: PlayEvent  # the mapped item; state and position as last reported
    rating_key: str


class PlexAdapter:
    def __init__(self, cfg: PlexServer, *, clock: Callable[[], float] = time.time, backoff: Backoff | None = None,
                 poll_interval: float = 10.0, ping_interval: float = 20.0, watchdog: float = 45.0,
                 timeout: float = 10.0):
        self.cfg = cfg
        self.name = f"plex/{cfg.name}"
        self.server_name = cfg.name
        self.clock = clock
        self.ping_interval, self.watchdog, self.timeout = ping_interval, watchdog, timeout
        self.machine_id: str | None = None
        self.plays: dict[str, Play] = {}  # by sessionKey
        self._skipped: dict[str, str] = {}  # sessionKey -> ratingKey not sent (excluded, no id)
        self._told: set[str] = set()  # things already logged once
        self._cache: dict[str, tuple[float, Any]] = {}  # show:/season:ratingKey -> (good until, what was read)
        self._client: PlexClient | None = None
        self._socket: AlertSocket | None = None
        self._sink: Sink | None = None
        self._inbox: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.supervisor = Supervisor(self.name, self._listen, poll=self._poll, poll_interval=poll_interval,
                                     backoff=backoff or Backoff(1.0, 60.0), log=log)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        self._sink = sink
        if not self.cfg.alerts:
            return  # webhooks only: nothing to listen to
        self._worker = threading.Thread(target=self._work, name=f"{self.name}-worker", daemon=True)
        self._worker.start()
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stopping.set()
        if self._socket is not None:
            self._socket.abort()
        self.supervisor.stop()
        self._inbox.put(None)
        if self._worker is not None:
            self._worker.join(5)

    def register_routes(self, http: HttpServer, sink: Sink) -> None:
        if self.cfg.webhooks:
            self._sink = self._sink or sink
            plex_webhook.register(http, self)

    def client(self) -> PlexClient:
        """plexapi's server object; (re)made when missing. Raises while the server is down."""
        client = self._client  # read once: the listener may drop it from another thread meanwhile
        if client is None:
            client = self._client = PlexClient(self.cfg.url, self.cfg.token, timeout=self.timeout)
            self.machine_id = client.machineIdentifier
        return client

    def identify(self) -> str | None:
        if self.machine_id is None:
            try:
                self.client()
            except (PlexApiException, RequestException) as exc:
                log.debug("%s: server not reachable to learn its identity: %s", self.name, exc)
        return self.machine_id

    def _listen(self, stop: threading.Event, connected: threading.Event) -> None:
        self._client = None  # a restarted server may have changed; ask it again
        url = self.client().url(NOTIFICATIONS, includeToken=True).replace("http", "ws", 1)
        sock = AlertSocket(url, ping_interval=self.ping_interval, watchdog=self.watchdog, connect_timeout=self.timeout)
        sock.open()
        self._socket = sock

        def alive() -> None:
            connected.set()
            log.info("%s: listening to %s notifications", self.name, self.cfg.url)
            self._inbox.put(("connected", None))

        try:
            sock.serve(lambda container: self._inbox.put(("alert", container)), stop, alive)
        finally:
            sock.close()

    def _poll(self) -> None:
        """While disconnected (Supervisor thread): read the sessions list, let the worker act on it."""
        self._inbox.put(("sessions", self._sessions()))

    # -- the worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        while (message := self._inbox.get()) is not None:
            kind, data = message
            try:
                if kind == "alert":
                    self._alert(data)
                elif kind == "connected":
                    self._catch_up(self._sessions())
                else:
                    self._catch_up(data)
            except (PlexApiException, RequestException) as exc:
                log.warning("%s: %s failed: %s", self.name, kind, exc)
            except Exception as exc:  # a surprise in one message must not stop the next
                log.error("%s: %s failed: %s: %s", self.name, kind, type(exc).__name__, exc)

    def _alert(self, container: dict[str, Any]) -> None:
        if container.get("type") != "playing":
            return  # timeline, activity, status ...: not about playback
        entries = container.get("PlaySessionStateNotification")
        if not isinstance(entries, list):
            log.warning("%s: playing alert ignored: PlaySessionStateNotification is not a list", self.name)
            return
        for entry in entries:
            problem = bad_notification(entry)
            if problem:
                log.warning("%s: playing alert ignored: %s", self.name, problem)
            elif entry["state"] in STATES:  # `buffering` is transient: the next alert says more
                self._update(str(entry["sessionKey"]), str(entry["ratingKey"]), STATES[entry["state"]],
                             entry["viewOffset"] / 1000, None)

    def _update(self, key: str, rating_key: str, state: State, position: float, live: Live | None) -> None:
        now = self.clock()
        play = self.plays.get(key)
        if play is not None and play.rating_key != rating_key:
            self._close(key, now)  # the player moved on to the next item in the same session
            play = None
        if play is None:
            if state is State.STOPPED:
                self._skipped.pop(key, None)
                self._told.discard(f"user:{key}")
                return
            if self._skipped.get(key) == rating_key:
                return
            play = self._begin(key, rating_key, live)
            if play is None:
                return
        else:
            position = _alert_position(state, position, play.event.position)
        # Identical paused frames are passed on too: Plex repeats them while the session lives, and
        # they are what keeps a long pause from looking silent to the core's session timeout.
        event = replace(play.event, state=state, position=position, at=now)
        play.event = event
        if state is State.STOPPED:
            del self.plays[key]
        self._send(event)

    def _close(self, key: str, now: float) -> None:
        play = self.plays.pop(key)
        self._send(replace(play.event, state=State.STOPPED, at=now))

    def _begin(self, key: str, rating_key: str, live: Live | None) -> Play | None:
        """Resolve a new session's item and user once; None when it is not to be sent."""
        if live is None:
            listed = self._sessions()
            # The list is fresh anyway: plays whose `stopped` alert never came are closed now, not
            # left to the core's silence timeout (and kept here forever).
            self._close_ended(listed)
            live = listed.get(key)
        if live is None or live.rating_key != rating_key:
            self._once(f"user:{key}", logging.INFO, "session %s is not in /status/sessions (yet): its user is unknown; waiting", key)
            return None
        try:
            meta = self._metadata(rating_key)
            if in_excluded_library(meta, self.cfg.exclude_libraries):
                raise NotMatched(f"plex item {rating_key} {meta.get('title')!r} is in excluded library "
                                 f"{meta.get('librarySectionTitle')!r}")
            if _needs_show(meta):
                meta["grandparent"] = self._show(str(meta["grandparentRatingKey"]))
            event = event_from_metadata(meta, server=self.cfg.name, user=live.user, session=key,
                                        state=live.state, position=live.position, at=self.clock())
            event = self._same_file(meta, event)
        except (EventError, NotFound) as exc:
            self._skipped[key] = rating_key
            level = logging.INFO if isinstance(exc, NotMatched) else logging.WARNING
            self._once(f"item:{rating_key}", level, "not sent: %s", exc)
            return None
        play = Play(event, rating_key)
        self.plays[key] = play
        self._told.discard(f"user:{key}")  # said for this session; kept, the set would grow with every play
        return play

    def _catch_up(self, live: dict[str, Live]) -> None:
        """A fresh sessions list: close plays that ended unseen, carry on or begin the others."""
        self._close_ended(live)
        for key, entry in live.items():
            self._update(key, entry.rating_key, entry.state, entry.position, entry)

    def _close_ended(self, live: dict[str, Live]) -> None:
        """Close the plays a sessions list no longer holds, at their last known position."""
        now = self.clock()
        for key, play in list(self.plays.items()):
            if key not in live or live[key].rating_key != play.rating_key:
                log.info("%s: session %s ended unreported; closing it at its last known position", self.name, key)
                self._close(key, now)
        for key in [k for k in self._skipped if k not in live]:
            del self._skipped[key]  # ended unseen: its next use is a new session

    # -- server reads ---------------------------------------------------------------------------

    def _sessions(self) -> dict[str, Live]:
        root = self.client().query("/status/sessions")
        out: dict[str, Live] = {}
        for element in root if root is not None else ():
            user, player = element.find("User"), element.find("Player")
            key, rating_key = element.get("sessionKey"), element.get("ratingKey")
            state = SESSION_STATES.get(player.get("state", "") if player is not None else "playing")
            if not key or not rating_key or user is None or state is None:
                continue  # a session Plex lists without an owner (transcoder jobs) or in no known state
            name = user.get("title") or user.get("id") or ""
            offset = element.get("viewOffset") or "0"
            out[key] = Live(rating_key, name, state, int(offset) / 1000 if offset.isdigit() else 0.0)
        return out

    def _metadata(self, rating_key: str) -> dict[str, Any]:
        root = self.client().query(f"/library/metadata/{rating_key}")
        first = next((e for e in root if e.tag in ("Video", "Directory", "Track")), None) if root is not None else None
        if first is None:
            raise EventError(f"plex item {rating_key}: /library/metadata returned no item")
        return metadata_from_xml(first)

    def _show(self, rating_key: str) -> dict[str, Any]:
        """A show's metadata, shared by its episodes' plays and webhooks for SHOW_TTL seconds."""
        return self._cached(f"show:{rating_key}", SHOW_TTL, lambda: self._metadata(rating_key))

    def _season(self, rating_key: str) -> list[dict[str, Any]]:
        """A season's episodes (with their Media parts), kept SEASON_TTL seconds."""
        def read() -> list[dict[str, Any]]:
            root = self.client().query(f"/library/metadata/{rating_key}/children")
            return [metadata_from_xml(e) for e in root if e.tag == "Video"] if root is not None else []
        return self._cached(f"season:{rating_key}", SEASON_TTL, read)

    def _cached(self, key: str, ttl: float, read: Callable[[], Any]) -> Any:
        now = self.clock()
        cached = self._cache.get(key)  # read once: webhooks (HTTP threads) and the worker share it
        if cached is None or cached[0] < now:
            fresh = {k: v for k, v in self._cache.items() if v[0] >= now}
            cached = fresh[key] = (now + ttl, read())
            self._cache = fresh
        return cached[1]

    def _same_file(self, meta: dict[str, Any], event: PlayEvent) -> PlayEvent:
        """An episode with every other episode of its season stored in the same file (a
        multi-episode file); the one episode when the season or the files cannot be read."""
        season = str(meta.get("parentRatingKey", ""))
        if event.kind is not Kind.EPISODE or not season.isdigit():
            return event
        try:
            found = same_file_episodes(meta, self._season(season))
        except (PlexApiException, RequestException, EventError, ParseError) as exc:
            log.debug("%s: season %s of plex item %s not read (%s): marked as its one episode",
                      self.name, season, meta.get("ratingKey"), exc)
            return event
        if event.episodes[0] not in found:
            log.debug("%s: plex item %s: no media file to find in its season: marked as its one episode",
                      self.name, meta.get("ratingKey"))
            return event
        return replace(event, episodes=found)

    # -- webhooks -------------------------------------------------------------------------------

    def webhook(self, payload: dict[str, Any]) -> tuple[int, Any]:
        """One webhook's payload (already parsed by plex_webhook); HTTP reply for it."""
        meta = payload.get("Metadata")
        if isinstance(meta, dict):
            if in_excluded_library(meta, self.cfg.exclude_libraries):
                return 200, {"ignored": "excluded library"}
            if _needs_show(meta) and "grandparent" not in meta:
                show = self._webhook_show(str(meta["grandparentRatingKey"]))
                if show is not None:
                    meta["grandparent"] = show
        try:
            event = webhook_event(payload, server=self.cfg.name, at=self.clock())
        except NotMatched as exc:
            self._once(f"item:{meta.get('ratingKey') if isinstance(meta, dict) else '?'}", logging.INFO, "not sent: %s", exc)
            return 200, {"ignored": str(exc)}
        except EventError as exc:
            raise HttpError(400, str(exc)) from None
        if event is None:
            return 200, {"ignored": f"{payload.get('event')} is not a playback event"}
        self._send(self._same_file(meta, event))
        return 202, {"accepted": True}

    def _webhook_show(self, rating_key: str) -> dict[str, Any] | None:
        # Without the server the episode may still map by its own ids: a failure is not fatal.
        try:
            return self._show(rating_key)
        except (PlexApiException, RequestException, EventError) as exc:
            self._once(f"show:{rating_key}", logging.WARNING, "could not read show %s from the server: %s", rating_key, exc)
            return None

    # -- resume points --------------------------------------------------------------------------

    def apply_resume(self, resumes: list[Resume]) -> int:
        """Set the resume_user's view offsets from Simkl's playbacks of that user's account."""
        user = self.cfg.resume_user
        if not resumes or not user:
            return 0
        owner = self.client().myPlexUsername
        if owner and owner.casefold() != user.casefold():
            self._once("resume-user", logging.WARNING, "resume_user %r is not the token's owner %r: setting "
                       "%r's resume points needs that user's own token; skipped", user, owner, user)
            return 0
        return ResumeWriter(self.name, self.client().query, self.cfg.exclude_libraries).apply(resumes)

    def resume_owner(self) -> tuple[str, str, str] | None:
        return ("plex", self.cfg.name, self.cfg.resume_user) if self.cfg.resume_user else None

    # -- helpers --------------------------------------------------------------------------------

    def _send(self, event: PlayEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def _once(self, what: str, level: int, message: str, *args: Any) -> None:
        if what not in self._told:
            self._told.add(what)
            log.log(level, "%s: " + message, self.name, *args)


def _needs_show(meta: dict[str, Any]) -> bool:
    """Whether an episode's show must be read for its ids: a legacy or HAMA episode GUID already
    names the show (plus season/episode); a new agent's names only the episode."""
    if meta.get("type") != "episode" or not meta.get("grandparentRatingKey"):
        return False
    own = parse_guid(meta.get("guid"))
    return own is None or own.episode is None


def _alert_position(state: State, offset: float, last: float) -> float:
    """Where an alert puts an ongoing play. Some clients end a session with a `stopped` alert at
    viewOffset 0: that play stopped where it last was, not at its beginning."""
    return last if state is State.STOPPED and offset == 0 else offset


def adapters_from_config(servers: tuple[PlexServer, ...] | list[PlexServer]) -> list[PlexAdapter]:
    return [PlexAdapter(server) for server in servers]
