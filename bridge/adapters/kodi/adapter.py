"""Kodi over JSON-RPC: player notifications -> PlayEvents, and Simkl resume points -> Kodi.

One adapter per configured Kodi. The listener (under the skeleton's Supervisor, which reconnects
with backoff) reads the TCP socket and only queues; the worker handles notifications, because
handling one needs further requests (GetItem, GetProperties) whose replies only the listener can
deliver. While a film plays, the worker's idle wake-up is the position heartbeat (see sessions.py).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bridge.adapters.base import IDLE, AdapterBase
from bridge.adapters.kodi.api import HttpRpc, KodiApi, RpcError, TcpConnection
from bridge.adapters.kodi.library import KodiLibrary
from bridge.adapters.kodi.map import NotInLibrary, event_from_item
from bridge.adapters.kodi.resume import ResumeWriter
from bridge.adapters.kodi.sessions import Play, identity, playerid, reported_position
from bridge.adapters.kodi.titles import KodiTitles
from bridge.backoff import Backoff
from bridge.config import KodiHost
from bridge.events import EventError, Resume, State
from bridge.library import LibraryHolder, LibraryItem, Title, TitleHolder
from bridge.wire import is_count

log = logging.getLogger("bridge.adapters.kodi")

# Inbox kind of a new connection, beside Kodi's notification methods.
CONNECTED = "bridge.connected"
_PLAYER_CHANGES = ("Player.OnPause", "Player.OnResume", "Player.OnSpeedChanged")


class KodiAdapter(AdapterBase):
    source = "kodi"
    expected_errors = (RpcError,)

    def __init__(self, host: KodiHost, clock: Callable[[], float] = time.time, backoff: Backoff | None = None,
                 heartbeat: float = 30.0):
        super().__init__(host.name, log=log, backoff=backoff or Backoff(1.0, 30.0))
        self.cfg = host
        self.heartbeat = heartbeat
        self.clock = clock
        self.api = KodiApi(HttpRpc(host.host, host.http_port, host.username, host.password) if host.http_port else None)
        self._library = KodiLibrary(self.api, self.name, log)
        self._titles = KodiTitles(self.api, self.name, log)
        self.play: Play | None = None
        self.lost_at: float | None = None
        self._plays = itertools.count(1)

    # -- the connection (Supervisor thread) -----------------------------------------------------

    def _listen(self, stop: threading.Event, connected: threading.Event) -> None:
        conn = TcpConnection(self.cfg.host, self.cfg.port)
        self.api.conn = conn
        try:
            connected.set()
            log.info("%s: connected to %s:%s", self.name, self.cfg.host, self.cfg.port)
            self._post(CONNECTED, ({}, self.clock()))
            # Stamped on arrival: the worker may still be busy with the previous message's requests.
            conn.serve(lambda method, data: self._post(method, (data, self.clock())), stop)
        finally:
            conn.close()
            self.lost_at = self.clock()

    def _abort(self) -> None:
        if self.api.conn is not None:
            self.api.conn.close()

    # -- notifications (worker thread) ----------------------------------------------------------

    def _idle_timeout(self) -> float | None:
        """Seconds until the playing item's position is due to be read; None: nothing to read
        (no play, or no link: a position made up while Kodi is unreachable would keep a session
        alive that may have ended)."""
        if self.play is None or not self.api.linked:
            return None
        return self.play.heartbeat_in(self.heartbeat, self.clock())

    def _handle(self, kind: str, data: Any) -> None:
        if kind == IDLE:
            if self._idle_timeout() == 0:
                self._heartbeat(self.clock())
            return
        params, now = data
        if kind == CONNECTED:
            self._resync(now)
        elif kind == "Player.OnAVStart":
            self._started(params, now)
        elif kind in _PLAYER_CHANGES and self.play:
            self._reread(now)
        elif kind == "Player.OnSeek" and self.play:
            self._emit(self.play.read(now, reported_position(_part(params, "player"), self.play.position(now)),
                                      self.play.playing))
        elif kind == "Player.OnStop":
            self._stopped(now, end=params.get("end") is True)

    def _heartbeat(self, now: float) -> None:
        assert self.play is not None
        # Also when the read fails: the next try is a heartbeat away.
        self.play = replace(self.play, beat_at=now)
        try:
            self._reread(now, guess=False)
        except RpcError as exc:  # nothing made up: the play goes on from what was last read
            log.warning("%s: position heartbeat: %s", self.name, exc)

    def _started(self, data: dict[str, Any], now: float) -> None:
        item = _part(data, "item")
        if self.play is not None and self.play.started_again(item):
            self.play = replace(self.play, resynced=False)
            return
        if self.play is not None:
            # Kodi moved to the next item without a stop (playlists): that viewing ended here.
            self._stopped(now, end=False)
        self._begin(playerid(_part(data, "player")), now)

    def _begin(self, player: int, now: float, resynced: bool = False) -> None:
        item = self.api.playing(player)
        props = self.api.position(player)
        tvshow: dict[str, Any] | None = None
        same_file: tuple[int, ...] = ()
        if item.get("type") == "episode" and is_count(item.get("tvshowid")):
            tvshow = self.api.show(item["tvshowid"])
            same_file = self.api.same_file(item)
        playing = props.get("speed", 1) != 0
        try:
            session = f"{self.cfg.name}-{next(self._plays)}"
            event = event_from_item(item, server=self.cfg.name, user=self.cfg.user, session=session,
                                    state=State.PLAYING if playing else State.PAUSED, at=now, tvshow=tvshow,
                                    properties=props, same_file=same_file)
        except NotInLibrary as exc:
            self.play = None
            self._once(f"skipped {item.get('file') or item.get('label') or '?'}", logging.INFO, "not sent: %s", exc)
            return
        except EventError as exc:
            self.play = None
            log.warning("%s: cannot map the playing item: %s", self.name, exc)
            return
        self.play = Play(event, identity(item), player, now, playing, beat_at=now, resynced=resynced)
        self._send(event)

    def _reread(self, now: float, guess: bool = True) -> None:
        """Emit the play's state as Kodi reports it now; with `guess`, as extrapolated when Kodi
        does not answer."""
        assert self.play is not None
        try:
            props = self.api.position(self.play.playerid)
        except RpcError:
            if not guess:
                raise
            props = {}
        playing = props.get("speed", 1 if self.play.playing else 0) != 0
        self._emit(self.play.read(now, reported_position(props, self.play.position(now)), playing))

    def _emit(self, play: Play) -> None:
        self.play = play
        self._send(play.event)

    def _stopped(self, at: float, end: bool) -> None:
        if self.play is None:
            return
        play, self.play = self.play, None
        self._send(play.stopped(at, end))

    def _resync(self, now: float) -> None:
        """After (re)connecting: carry on with what Kodi is playing, or close what it no longer is."""
        video = self.api.video_player()
        if self.play is not None:
            if video is not None and self.play.is_item(self.api.playing(playerid(video), ["file"])):
                self.play = replace(self.play, playerid=playerid(video))
                self._reread(now)
                return
            # Kodi restarted or moved on while we were away: that viewing ended when we lost it.
            log.info("%s: the play in progress ended while disconnected; closing it at its last known position", self.name)
            self._stopped(self.lost_at or now, end=False)
        if video is not None:
            self._begin(playerid(video), now, resynced=True)

    # -- resume points --------------------------------------------------------------------------

    def resume_owner(self) -> tuple[str, str, str] | None:
        return ("kodi", self.cfg.name, self.cfg.user)

    def apply_resume(self, resumes: list[Resume]) -> int:
        if not resumes:
            return 0
        self._await_link()
        return ResumeWriter(self.api, self.name, log).apply(resumes, self.clock())

    # -- the library (bridge/library.py LibraryHolder) -------------------------------------------

    def library(self) -> LibraryHolder | None:
        return self

    def read_library(self) -> list[LibraryItem]:
        self._await_link()
        return self._library.read(self.clock())

    def mark_watched(self, marks: list[tuple[LibraryItem, float | None]]) -> int:
        self._await_link()
        return self._library.mark_watched(marks, self.clock())

    def mark_unwatched(self, entries: list[LibraryItem]) -> int:
        self._await_link()
        return self._library.mark_unwatched(entries)

    # -- ratings and lists (bridge/library.py TitleHolder): the same owner's as the library -------

    def titles(self) -> TitleHolder | None:
        return self if self.library() is not None else None

    def read_titles(self, buckets: frozenset[str]) -> list[Title]:
        self._await_link()
        return self._titles.read(buckets)

    def rate(self, changes: list[tuple[Title, int | None, float | None]]) -> int:
        self._await_link()
        return self._titles.rate(changes)

    def set_listed(self, bucket: str, add: list[Title], remove: list[Title]) -> int:
        self._await_link()
        return self._titles.set_listed(bucket, add, remove)

    def _await_link(self) -> None:
        """Without a web server port every request needs the TCP link, which a call at start-up
        may come before."""
        if self.api.http is None:
            self.supervisor.connected.wait(10)


def _part(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A notification's `item` or `player` object ({} when Kodi sent none)."""
    part = data.get(key)
    return part if isinstance(part, dict) else {}


def adapters_from_config(hosts: tuple[KodiHost, ...] | list[KodiHost]) -> list[KodiAdapter]:
    return [KodiAdapter(host) for host in hosts]
