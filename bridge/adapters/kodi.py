"""Kodi over JSON-RPC: player notifications -> PlayEvents, and Simkl resume points -> Kodi.

One adapter per configured Kodi. A reader thread (under the Supervisor, which reconnects with
backoff) reads the TCP socket; a worker thread handles notifications, because handling one needs
further requests (GetItem, GetProperties) whose replies only the reader can deliver.

OnStop carries no position, so the adapter keeps the last position Kodi reported (at start, pause,
resume and seek) with the time it was read, and extrapolates while playing. Kodi says nothing
while a film simply plays, so the position is also read every `heartbeat` seconds: that bounds
the extrapolation and tells the engine the session is alive (it closes sessions silent for its
`session_timeout`, at least 60 s).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from bridge.adapters.base import Backoff, Sink, Supervisor
from bridge.adapters.kodi_map import (CLOCK_LABELS, NotInLibrary, event_from_item, find_by_ids, kodi_utc_offset,
                                      numbers_agree, resume_point, seconds)
from bridge.adapters.kodi_rpc import HttpRpc, RpcError, TcpConnection
from bridge.config import KodiHost
from bridge.events import EventError, Kind, PlayEvent, Resume, State

log = logging.getLogger("bridge.adapters.kodi")

ITEM_PROPERTIES = ["title", "showtitle", "season", "episode", "tvshowid", "uniqueid", "imdbnumber", "file", "year", "runtime"]
SHOW_PROPERTIES = ["title", "uniqueid", "imdbnumber", "year"]
POSITION_PROPERTIES = ["time", "totaltime", "speed"]
# `runtime` stays 0 unless streamdetails are asked for too (Kodi 20 fills it from them).
# Episodes have no `imdbnumber` field: asking for it fails the whole request.
MOVIE_RESUME_PROPERTIES = ["uniqueid", "imdbnumber", "resume", "lastplayed", "runtime", "streamdetails", "title"]
EPISODE_RESUME_PROPERTIES = ["episode", "uniqueid", "resume", "lastplayed", "runtime", "streamdetails", "title"]
# Worker-queue markers, not Kodi methods.
CONNECTED = "bridge.connected"
HEARTBEAT = "bridge.heartbeat"


@dataclass
class Play:
    """What Kodi is playing now, as far as we know."""

    event: PlayEvent  # ids and numbers of the item; position as last read
    item: tuple[str, int]  # _identity of the item
    playerid: int
    read_at: float  # when `event.position` was read
    playing: bool
    beat_at: float = 0.0  # when the position was last read or tried (heartbeat)
    # Picked up by a (re)connection rather than by its OnAVStart, which may still be on its way.
    resynced: bool = False

    def position(self, now: float) -> float:
        pos = self.event.position + (now - self.read_at if self.playing else 0.0)
        return min(pos, self.event.duration) if self.event.duration else pos


class KodiAdapter:
    def __init__(self, host: KodiHost, clock: Callable[[], float] = time.time, backoff: Backoff | None = None,
                 heartbeat: float = 30.0):
        self.cfg = host
        self.heartbeat = heartbeat
        self.name = f"kodi/{host.name}"
        self.clock = clock
        self.http = HttpRpc(host.host, host.http_port, host.username, host.password) if host.http_port else None
        self.conn: TcpConnection | None = None
        self.play: Play | None = None
        self.lost_at: float | None = None
        self._sink: Sink | None = None
        self._inbox: queue.Queue[tuple[str, dict[str, Any], float] | None] = queue.Queue()
        self._plays = itertools.count(1)
        self._skipped: set[str] = set()
        self._worker: threading.Thread | None = None
        self.supervisor = Supervisor(self.name, self._listen, backoff=backoff or Backoff(1.0, 30.0), log=log)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        self._sink = sink
        self._worker = threading.Thread(target=self._work, name=f"{self.name}-worker", daemon=True)
        self._worker.start()
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stopping.set()
        if self.conn is not None:
            self.conn.close()
        self.supervisor.stop()
        self._inbox.put(None)
        if self._worker is not None:
            self._worker.join(5)

    def _listen(self, stop: threading.Event, connected: threading.Event) -> None:
        conn = TcpConnection(self.cfg.host, self.cfg.port)
        self.conn = conn
        try:
            connected.set()
            log.info("%s: connected to %s:%s", self.name, self.cfg.host, self.cfg.port)
            self._inbox.put((CONNECTED, {}, self.clock()))
            # Stamped on arrival: the worker may still be busy with the previous message's requests.
            conn.serve(lambda method, data: self._inbox.put((method, data, self.clock())), stop)
        finally:
            conn.close()
            self.lost_at = self.clock()

    # -- notifications --------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            try:
                message = self._inbox.get(timeout=self._until_heartbeat())
            except queue.Empty:
                message = (HEARTBEAT, {}, self.clock())
            if message is None:
                return
            method, data, at = message
            try:
                self._handle(method, data, at)
            except RpcError as exc:
                log.warning("%s: %s", self.name, exc)
            except Exception as exc:  # a surprise in one message must not stop the next
                log.error("%s: %s failed: %s: %s", self.name, method, type(exc).__name__, exc)

    def _until_heartbeat(self) -> float | None:
        """Seconds until the playing item's position is due to be read; None: nothing to read
        (no play, or no link: a position made up while Kodi is unreachable would keep a session
        alive that may have ended)."""
        if self.play is None or self.conn is None or self.conn.closed.is_set():
            return None
        return max(0.0, self.play.beat_at + self.heartbeat - self.clock())

    def _handle(self, method: str, data: dict[str, Any], now: float) -> None:
        if method == CONNECTED:
            self._resync(now)
        elif method == HEARTBEAT and self._until_heartbeat() == 0:
            assert self.play is not None
            self.play.beat_at = now  # also when the read fails: the next try is a heartbeat away
            self._reread(now, guess=False)
        elif method == "Player.OnAVStart":
            self._started(data, now)
        elif method in ("Player.OnPause", "Player.OnResume", "Player.OnSpeedChanged") and self.play:
            self._reread(now)
        elif method == "Player.OnSeek" and self.play:
            player = data.get("player") if isinstance(data.get("player"), dict) else {}
            self._emit(now, _position(player, self.play.position(now)), self.play.playing)
        elif method == "Player.OnStop":
            self._stopped(now, end=data.get("end") is True)

    def _started(self, data: dict[str, Any], now: float) -> None:
        item = data.get("item") if isinstance(data.get("item"), dict) else {}
        if self.play is not None and self.play.resynced and _identity(item) == self.play.item:
            # The start of the play the connection already picked up: a new start of the same item
            # would have come after an OnStop, which ends the play.
            self.play.resynced = False
            return
        if self.play is not None:
            # Kodi moved to the next item without a stop (playlists): that viewing ended here.
            self._stopped(now, end=False)
        player = data.get("player") if isinstance(data.get("player"), dict) else {}
        self._begin(_playerid(player), now)

    def _begin(self, playerid: int, now: float) -> None:
        item = self._get("Player.GetItem", {"playerid": playerid, "properties": ITEM_PROPERTIES}, "item")
        props = self._get("Player.GetProperties", {"playerid": playerid, "properties": POSITION_PROPERTIES})
        tvshow, same_file = None, ()
        if item.get("type") == "episode" and isinstance(item.get("tvshowid"), int) and item["tvshowid"] >= 0:
            tvshow = self._show(item["tvshowid"])
            same_file = self._same_file(item)
        playing = props.get("speed", 1) != 0
        try:
            event = event_from_item(item, server=self.cfg.name, user=self.cfg.user, session=f"{self.cfg.name}-{next(self._plays)}",
                                    state=State.PLAYING if playing else State.PAUSED, at=now, tvshow=tvshow,
                                    properties=props, same_file=same_file)
        except NotInLibrary as exc:
            self.play = None
            file = str(item.get("file") or item.get("label") or "?")
            if file not in self._skipped:
                self._skipped.add(file)
                log.info("%s: not sent: %s", self.name, exc)
            return
        except EventError as exc:
            self.play = None
            log.warning("%s: cannot map the playing item: %s", self.name, exc)
            return
        self.play = Play(event, _identity(item), playerid, now, playing, beat_at=now)
        self._send(event)

    def _reread(self, now: float, guess: bool = True) -> None:
        """Emit the play's state as Kodi reports it now; with `guess`, as extrapolated when Kodi
        does not answer."""
        assert self.play is not None
        try:
            props = self._get("Player.GetProperties", {"playerid": self.play.playerid, "properties": POSITION_PROPERTIES})
        except RpcError:
            if not guess:
                raise
            props = {}
        playing = props.get("speed", 1 if self.play.playing else 0) != 0
        self._emit(now, _position(props, self.play.position(now)), playing)

    def _emit(self, now: float, position: float, playing: bool) -> None:
        assert self.play is not None
        event = replace(self.play.event, position=position, state=State.PLAYING if playing else State.PAUSED, at=now)
        self.play = replace(self.play, event=event, read_at=now, beat_at=now, playing=playing)
        self._send(event)

    def _stopped(self, at: float, end: bool) -> None:
        if self.play is None:
            return
        play, self.play = self.play, None
        position = play.event.duration if end and play.event.duration else play.position(at)
        self._send(replace(play.event, position=position, state=State.STOPPED, at=at))

    def _resync(self, now: float) -> None:
        """After (re)connecting: carry on with what Kodi is playing, or close what it no longer is."""
        players = self._call("Player.GetActivePlayers")
        video = next((p for p in players if isinstance(p, dict) and p.get("type") == "video"), None) if isinstance(players, list) else None
        if self.play is not None:
            if video is not None:
                item = self._get("Player.GetItem", {"playerid": _playerid(video), "properties": ["file"]}, "item")
                if _identity(item) == self.play.item:
                    self.play.playerid = _playerid(video)
                    self._reread(now)
                    return
            # Kodi restarted or moved on while we were away: that viewing ended when we lost it.
            log.info("%s: the play in progress ended while disconnected; closing it at its last known position", self.name)
            self._stopped(self.lost_at or now, end=False)
        if video is not None:
            self._begin(_playerid(video), now)
            if self.play is not None:
                self.play.resynced = True

    # -- requests -------------------------------------------------------------------------------

    def _call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        conn = self.conn
        if conn is not None and not conn.closed.is_set():
            return conn.call(method, params)
        if self.http is not None:
            return self.http.call(method, params)
        raise RpcError(f"{method}: Kodi is not connected")

    def _get(self, method: str, params: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """A reply that should be an object (or hold one under `key`); anything else reads as empty,
        which the mapping then reports as what is missing."""
        reply = self._call(method, params)
        if key is not None:
            reply = reply.get(key) if isinstance(reply, dict) else None
        return reply if isinstance(reply, dict) else {}

    def _items(self, method: str, params: dict[str, Any], key: str) -> list[dict[str, Any]]:
        found = self._get(method, params).get(key)
        return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []

    def _show(self, tvshowid: int) -> dict[str, Any]:
        # Not cached: a library rebuild can give a tvshowid to another show, and this is one cheap
        # local request per play.
        return self._get("VideoLibrary.GetTVShowDetails", {"tvshowid": tvshowid, "properties": SHOW_PROPERTIES}, "tvshowdetails")

    def _same_file(self, item: dict[str, Any]) -> tuple[int, ...]:
        """Episode numbers stored in this item's file: a multi-episode file is several episodes."""
        episodes = self._items("VideoLibrary.GetEpisodes", {"tvshowid": item["tvshowid"], "season": item.get("season"),
                                                            "properties": ["episode", "file"]}, "episodes")
        return tuple(e["episode"] for e in episodes if e.get("file") == item.get("file") and isinstance(e.get("episode"), int))

    def _send(self, event: PlayEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    # -- resume points --------------------------------------------------------------------------

    def resume_owner(self) -> tuple[str, str, str] | None:
        return ("kodi", self.cfg.name, self.cfg.user)

    def apply_resume(self, resumes: list[Resume]) -> int:
        """Set Kodi's resume point for each Simkl playback of a library item, unless Kodi's own is
        newer. Returns how many were set."""
        if not resumes:
            return 0
        if self.http is None:
            self.supervisor.connected.wait(10)
        offset = self._utc_offset()
        library: dict[str, list[dict[str, Any]]] = {}
        done = 0
        for resume in resumes:
            try:
                done += self._resume(resume, offset, library)
            except RpcError as exc:
                log.warning("%s: resume point of %s not set: %s", self.name, resume.title or resume.ids.key(), exc)
        return done

    def _resume(self, resume: Resume, offset: float | None, library: dict[str, list[dict[str, Any]]]) -> int:
        if resume.kind is Kind.MOVIE:
            if "movies" not in library:
                library["movies"] = self._items("VideoLibrary.GetMovies", {"properties": MOVIE_RESUME_PROPERTIES}, "movies")
            target, setter, key = find_by_ids(library["movies"], resume.ids), "VideoLibrary.SetMovieDetails", "movieid"
        else:
            if "tvshows" not in library:
                library["tvshows"] = self._items("VideoLibrary.GetTVShows", {"properties": SHOW_PROPERTIES}, "tvshows")
            target, setter, key = self._episode(library["tvshows"], resume), "VideoLibrary.SetEpisodeDetails", "episodeid"
        point = resume_point(target, resume, offset) if target else None
        if point is None or target is None or not isinstance(target.get(key), int):
            return 0
        self._call(setter, {key: target[key], "resume": point})
        log.info("%s: resume point of %s set to %.0f s from Simkl", self.name, resume.title or target.get("title"), point["position"])
        return 1

    def _utc_offset(self) -> float | None:
        try:
            offset = kodi_utc_offset(self._get("XBMC.GetInfoLabels", {"labels": list(CLOCK_LABELS)}), self.clock())
        except RpcError:
            offset = None
        if offset is None:
            log.info("%s: cannot read Kodi's clock; comparing its lastplayed in this machine's time zone", self.name)
        return offset

    def _episode(self, shows: list[dict[str, Any]], resume: Resume) -> dict[str, Any] | None:
        show = find_by_ids(shows, resume.ids)
        if show is None or not isinstance(show.get("tvshowid"), int) or resume.season is None or resume.episode is None:
            return None
        if not numbers_agree(show, resume):
            log.info("%s: resume point of %s S%sE%s not set: Simkl numbers this anime's episodes differently from Kodi",
                     self.name, resume.title or show.get("title"), resume.season, resume.episode)
            return None
        episodes = self._items("VideoLibrary.GetEpisodes", {"tvshowid": show["tvshowid"], "season": resume.season,
                                                            "properties": EPISODE_RESUME_PROPERTIES}, "episodes")
        return next((e for e in episodes if e.get("episode") == resume.episode), None)


def _identity(item: dict[str, Any]) -> tuple[str, int]:
    """Kodi's (type, library id): tells a new item from the same one."""
    lid = item.get("id")
    return str(item.get("type")), lid if isinstance(lid, int) and not isinstance(lid, bool) else -1


def _position(player: dict[str, Any], known: float) -> float:
    """Kodi's reported time when it gave one (0 after a seek to the start is a real answer)."""
    return seconds(player["time"]) if isinstance(player.get("time"), dict) else known


def _playerid(player: dict[str, Any]) -> int:
    # Video is player 1 on every Kodi seen so far, but the id is Kodi's to choose.
    pid = player.get("playerid")
    return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid >= 0 else 1


def adapters_from_config(hosts: tuple[KodiHost, ...] | list[KodiHost]) -> list[KodiAdapter]:
    return [KodiAdapter(host) for host in hosts]
