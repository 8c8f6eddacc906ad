"""A scripted Kodi for what a real one cannot be made to do (a video player that is not player 1,
garbage replies, a dropped link): a TCP JSON-RPC stand-in on 127.0.0.1, and the adapter driven by it;
and a video library behind it (`Library`) that answers the way Kodi 20's JSON-RPC does.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from bridge.adapters.kodi import KodiAdapter
from bridge.adapters.kodi.api import CLOCK_LABELS
from bridge.backoff import Backoff
from bridge.config import KodiHost
from bridge.events import PlayEvent
from tests.adapters.kodi.real import eventually


class FakeKodi:
    """Accepts TCP clients on 127.0.0.1, one at a time, and hands each request it reads to `answer`,
    which returns the raw bytes to write back (replies, notifications, in whatever order it likes)."""

    def __init__(self, answer: Callable[[dict[str, Any]], bytes]):
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.client: socket.socket | None = None
        self.connections = 0
        self.requests: list[dict[str, Any]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            while True:
                self.client, _ = self.listener.accept()
                self.connections += 1
                self._talk(self.client)
        except OSError:
            pass  # closed by the test

    def _talk(self, client: socket.socket) -> None:
        decoder, buf = json.JSONDecoder(), ""
        try:
            while data := client.recv(65536):
                buf += data.decode()
                while buf:
                    try:
                        request, end = decoder.raw_decode(buf)
                    except json.JSONDecodeError:
                        break  # the rest of this request is still on its way
                    buf = buf[end:]
                    self.requests.append(request)
                    client.sendall(self.answer(request))
        except OSError:
            pass  # dropped by the test or by the client

    def drop(self) -> None:
        """The link goes away (Kodi itself carries on)."""
        client, self.client = self.client, None
        if client is not None:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client left first
            client.close()

    def close(self) -> None:
        self.drop()
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()


def notification(method: str, **data: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": {"data": data, "sender": "xbmc"}}).encode()


def reply(request: dict[str, Any], result: Any) -> bytes:
    return json.dumps({"id": request["id"], "jsonrpc": "2.0", "result": result}).encode()



MOVIE = {"id": 1, "type": "movie", "title": "The Matrix", "year": 1999, "file": "/m/The.Matrix.1999.mp4",
         "imdbnumber": "603", "uniqueid": {"tmdb": "603", "imdb": "tt0133093"}, "runtime": 8160, "season": -1, "episode": -1,
         "tvshowid": -1}


def kodi_time(s: float) -> dict[str, int]:
    return {"hours": int(s // 3600), "minutes": int(s % 3600 // 60), "seconds": int(s % 60), "milliseconds": 0}


def failure(request: dict[str, Any], code: int = -32100, message: str = "Failed to execute method.") -> bytes:
    return json.dumps({"id": request["id"], "jsonrpc": "2.0", "error": {"code": code, "message": message}}).encode()


class InvalidParams(Exception):
    """A library request Kodi refuses with JSON-RPC's -32602 "Invalid params." (its schema check, or
    VideoLibrary.cpp finding no such library id)."""


class ScriptedKodi:
    """Answers the adapter's requests from a little state; the video player has id `playerid`."""

    def __init__(self, playerid: int = 1, item: Any = MOVIE):
        self.playerid, self.item = playerid, item
        self.position, self.speed, self.active = 600.0, 1, False
        self.answered: list[str] = []
        # Library requests: method -> params -> result, or None for a Kodi error.
        self.library: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self.fake = FakeKodi(self.answer)

    def answer(self, request: dict[str, Any]) -> bytes:
        method, params = request["method"], request.get("params") or {}
        if method in self.library:
            try:
                result = self.library[method](params)
            except InvalidParams:
                return failure(request, -32602, "Invalid params.")
            return failure(request) if result is None else reply(request, result)
        self.answered.append(method)
        if method == "Player.GetActivePlayers":
            players = [{"playerid": self.playerid, "playertype": "internal", "type": "video"}] if self.active else []
            return reply(request, players) + (self.on_avstart() if self.active and self.answered.count(method) == 1 else b"")
        if params.get("playerid", self.playerid) != self.playerid:
            return failure(request)
        if method == "Player.GetItem":
            return reply(request, {"item": self.item})
        if method == "Player.GetProperties":
            return reply(request, {"time": kodi_time(self.position), "totaltime": kodi_time(8160), "speed": self.speed})
        return reply(request, "OK")

    def on_avstart(self) -> bytes:
        return notification("Player.OnAVStart", item={"id": 1, "type": "movie"}, player={"playerid": self.playerid, "speed": 1})

    def start(self) -> None:
        self.active = True
        self.notify("Player.OnAVStart", item={"id": 1, "type": "movie"}, player={"playerid": self.playerid, "speed": 1})

    def notify(self, method: str, **data: Any) -> None:
        eventually(lambda: self.fake.client is not None, "the adapter to connect")
        assert self.fake.client is not None
        self.fake.client.sendall(notification(method, **data))

    def host(self, name: str = "lr") -> KodiHost:
        return KodiHost(name=name, port=self.fake.port, http_port=None, user="alice")


@pytest.fixture
def scripted():
    made: list[tuple[ScriptedKodi, KodiAdapter]] = []

    def make(playing: bool = False, heartbeat: float = 30.0, **kw) -> tuple[ScriptedKodi, KodiAdapter, list[PlayEvent]]:
        kodi = ScriptedKodi(**kw)
        kodi.active = playing
        adapter = KodiAdapter(kodi.host(), backoff=Backoff(0.05, 0.2), heartbeat=heartbeat)
        events: list[PlayEvent] = []
        adapter.start(events.append)
        made.append((kodi, adapter))
        eventually(lambda: "Player.GetActivePlayers" in kodi.answered, "the adapter to look at what Kodi plays")
        return kodi, adapter, events

    yield make
    for kodi, adapter in made:
        adapter.stop()
        kodi.fake.close()


# -- a video library -------------------------------------------------------------------------------

# This Kodi's clock runs 3.5 h behind UTC (Newfoundland, no DST in the dates used here).
KODI_OFFSET = -3.5 * 3600

# The properties a list or details request may ask for: Video.Fields.Movie, .TVShow and .Episode of
# Kodi 20's xbmc/interfaces/json-rpc/schema/types.json, as JSONRPC.Introspect of Debian's Kodi 20.1
# (JSON-RPC 13.0.0) gives them. Any other fails the request with Invalid params.
def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


FIELDS = {
    "movie": _names("title genre year rating director trailer tagline plot plotoutline originaltitle lastplayed "
                       "playcount writer studio mpaa cast country imdbnumber runtime set showlink streamdetails top250 "
                       "votes fanart thumbnail file sorttitle resume setid dateadded tag art userrating ratings premiered "
                       "uniqueid"),
    "tvshow": _names("title genre year rating plot studio mpaa cast playcount episode imdbnumber premiered votes "
                        "lastplayed fanart thumbnail file originaltitle sorttitle episodeguide season watchedepisodes "
                        "dateadded tag art userrating ratings runtime uniqueid"),
    "episode": _names("title plot votes rating writer firstaired playcount runtime director productioncode season "
                         "episode originaltitle showtitle cast streamdetails lastplayed fanart thumbnail file resume "
                         "tvshowid dateadded uniqueid art specialsortseason specialsortepisode userrating seasonid "
                         "ratings"),
}
# What Kodi answers for a property an item has no value of (the defaults of Video.Details.* in types.json).
DEFAULTS: dict[str, Any] = {"userrating": 0, "tag": []}
_METHOD_NAMES = {"movie": "Movie", "episode": "Episode", "tvshow": "TVShow"}


def clock_labels(local: time.struct_time) -> dict[str, str]:
    """Kodi's clock labels showing `local`, with the 12-hour clock Kodi 20 shows by default."""
    return {CLOCK_LABELS[0]: time.strftime("%Y-%m-%d", local), CLOCK_LABELS[1]: time.strftime("%I:%M:%S %p", local)}


def paged(key: str, objects: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """A library list as Kodi answers it (xbmc/interfaces/json-rpc/JSONUtils.h HandleLimits, and
    FileItemHandler.cpp HandleFileItemList): `end` <= 0 or past the list means its end, `start` past
    `end` is `end`, `total` is the whole list; Kodi 20 gives an empty list past the end."""
    limits = params.get("limits") or {}
    size = len(objects)
    end = limits.get("end", -1)
    end = size if end <= 0 or end > size else end
    start = min(limits.get("start", 0), end)
    return {key: objects[start:end], "limits": {"start": start, "end": end, "total": size}}


class Library:
    """A Kodi video library behind the scripted stand-in: lists, details and setters of movies,
    episodes and TV shows, with Kodi 20's effect.

    - A reply holds each item's id, its `label` and the properties asked for, no others
      (FileItemHandler.cpp HandleFileItem); a property Kodi does not know is Invalid params (FIELDS).
    - An id that names no item is Invalid params (xbmc/interfaces/json-rpc/VideoLibrary.cpp,
      Get/Set*Details).
    - `playcount` and `lastplayed` are set as given, an empty `lastplayed` clears it, a count set
      without a date is stamped with Kodi's now (seen on Debian's Kodi 20.1).
    - `userrating` is null (no change) or an integer (Optional.Integer in schema/methods.json: 8.5
      is Invalid params); 1-10 is kept, any other value stored as NULL, which reads back as 0
      (xbmc/video/VideoDatabase.cpp SetDetailsForMovie, UpdateDetailsForTvShow).
    - `tag` is null (no change) or an array of non-empty strings (Array.String in types.json); it
      replaces the item's whole tag list (VideoLibrary.cpp UpdateVideoTag), in the order given, a
      repeated name once (seen on Kodi 20.1).
    """

    def __init__(self, movies: list[dict[str, Any]], episodes: list[dict[str, Any]], shows: list[dict[str, Any]],
                 kodi_now: str = "2024-06-01 12:00:00"):
        self.lists = {"movies": movies, "episodes": episodes, "tvshows": shows}
        self.kodi_now = kodi_now
        self.refuse: set[tuple[str, int]] = set()  # (kind, id) whose setter fails

    def handlers(self) -> dict[str, Any]:
        h: dict[str, Any] = {"XBMC.GetInfoLabels": lambda p: clock_labels(time.gmtime(time.time() + KODI_OFFSET))}
        for kind, name in _METHOD_NAMES.items():
            h[f"VideoLibrary.Get{name}s"] = lambda p, kind=kind: self._list(kind, p)
            h[f"VideoLibrary.Get{name}Details"] = lambda p, kind=kind: self._details(kind, p)
            h[f"VideoLibrary.Set{name}Details"] = lambda p, kind=kind: self._set(kind, p)
        return h

    def find(self, kind: str, libid: Any) -> dict[str, Any] | None:
        return next((o for o in self.lists[f"{kind}s"] if o[f"{kind}id"] == libid), None)

    def _view(self, kind: str, obj: dict[str, Any], properties: list[str]) -> dict[str, Any]:
        return {f"{kind}id": obj[f"{kind}id"], "label": obj.get("label", obj.get("title", "")),
                **{k: obj.get(k, DEFAULTS[k]) if k in DEFAULTS else obj[k] for k in properties}}

    @staticmethod
    def _properties(kind: str, params: dict[str, Any]) -> list[str]:
        properties = params.get("properties", [])
        if not all(p in FIELDS[kind] for p in properties):
            raise InvalidParams
        return properties

    def _list(self, kind: str, params: dict[str, Any]) -> Any:
        properties = self._properties(kind, params)
        page = paged(f"{kind}s", self.lists[f"{kind}s"], params)
        page[f"{kind}s"] = [self._view(kind, o, properties) for o in page[f"{kind}s"]]
        return page

    def _details(self, kind: str, params: dict[str, Any]) -> Any:
        properties = self._properties(kind, params)
        obj = self.find(kind, params.get(f"{kind}id"))
        if obj is None:
            raise InvalidParams
        return {f"{kind}details": self._view(kind, obj, properties)}

    def _set(self, kind: str, params: dict[str, Any]) -> Any:
        rating, tags = params.get("userrating"), params.get("tag")
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int)):
            raise InvalidParams
        if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) and t for t in tags)):
            raise InvalidParams
        obj = self.find(kind, params.get(f"{kind}id"))
        if obj is None:
            raise InvalidParams
        if (kind, obj[f"{kind}id"]) in self.refuse:
            return None
        obj.update({k: v for k, v in params.items() if k in ("playcount", "lastplayed")})
        if params.get("playcount", 0) > 0 and not obj["lastplayed"]:
            obj["lastplayed"] = self.kodi_now
        if rating is not None:
            obj["userrating"] = rating if 1 <= rating <= 10 else 0
        if tags is not None:
            obj["tag"] = list(dict.fromkeys(tags))
        return "OK"
