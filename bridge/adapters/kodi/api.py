"""Kodi JSON-RPC: the raw TCP notification socket, HTTP for requests, and the requests the
adapter makes (`KodiApi`).

On TCP port 9090 Kodi writes JSON objects back to back with no delimiter, and replies and
notifications interleave in any order (OnPause may come before the PlayPause reply). So bytes go
through an incremental decoder, and replies are matched to their request by id.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import requests

from bridge.item import Kind
from bridge.wire import is_count

ITEM_PROPERTIES = ["title", "showtitle", "season", "episode", "tvshowid", "uniqueid", "imdbnumber", "file", "year", "runtime"]
SHOW_PROPERTIES = ["title", "uniqueid", "imdbnumber", "year"]
POSITION_PROPERTIES = ["time", "totaltime", "speed"]
# `runtime` stays 0 unless streamdetails are asked for too (Kodi 20 fills it from them).
# Episodes have no `imdbnumber` field: asking for it fails the whole request.
MOVIE_RESUME_PROPERTIES = ["uniqueid", "imdbnumber", "resume", "lastplayed", "runtime", "streamdetails", "title"]
EPISODE_RESUME_PROPERTIES = ["episode", "uniqueid", "resume", "lastplayed", "runtime", "streamdetails", "title"]
# Kodi's clock as info labels: `lastplayed` is in Kodi's local time, which need not be this
# machine's (a bridge in a UTC container next to a Kodi on local time is the usual case). Kodi
# lowercases label arguments, so "hh" is all there is: 24-hour or 12-hour plus a meridiem,
# depending on Kodi's regional settings.
CLOCK_LABELS = ("System.Date(yyyy-mm-dd)", "System.Time(hh:mm:ss xx)")
# A library item's kind as Kodi's method names spell it (Get/SetMovieDetails), and its id's name.
_KINDS = {Kind.MOVIE: ("Movie", "movieid"), Kind.EPISODE: ("Episode", "episodeid"), Kind.SHOW: ("TVShow", "tvshowid")}

Notification = Callable[[str, dict[str, Any]], None]


class RpcError(Exception):
    """Kodi answered with an error object, did not answer in time, or the link is down."""


class Unreachable(RpcError):
    """No request gets through now (link down, no answer, login refused): a run of requests stops."""


class JsonStream:
    """Bytes in, whole JSON objects out, however the stream was cut into packets: objects end where
    the bracket depth outside strings returns to 0. The scan jumps from bracket to bracket (a stretch
    whose quotes pair up, none escaped, holds no string edge): a loop per byte cost seconds per
    50,000 library items."""

    def __init__(self, limit: int = 8 * 1024 * 1024):
        self.limit = limit
        self._buf = bytearray()
        self._pos = 0  # how far the scan has got
        self._depth = 0
        self._in_string = False

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        out: list[Any] = []
        buf = self._buf
        i = self._pos
        while i < len(buf):
            if self._in_string:
                j = buf.find(b'"', i)
                if j < 0:
                    break  # the rest is scanned again with more bytes
                k = j
                while buf[k - 1] == 0x5C:  # the string's opening quote ends the run of backslashes
                    k -= 1
                self._in_string = (j - k) % 2 == 1  # an odd run escapes the quote
                i = j + 1
            elif self._depth == 0:
                m = _START.search(buf, i)
                if m is None:
                    break
                if buf[m.start()] not in b"{[":
                    raise ValueError(f"Kodi sent something that is not a JSON object (byte {buf[m.start()]!r})")
                self._depth, i = 1, m.end()
            else:
                m = _BRACKET.search(buf, i)
                j = m.start() if m else len(buf)
                quote = buf.find(b'"', i, j)
                if quote >= 0 and (buf.find(b"\\", i, j) >= 0 or buf.count(b'"', i, j) % 2):
                    self._in_string, i = True, quote + 1
                    continue
                if m is None:
                    break
                i = j + 1
                self._depth += 1 if buf[j] in b"{[" else -1
                if self._depth == 0:
                    out.append(_parse(bytes(buf[:i])))
                    del buf[:i]
                    i = 0
        self._pos = i
        if len(buf) > self.limit:
            raise ValueError(f"a Kodi message over {self.limit} bytes never ended")
        return out


_BRACKET = re.compile(rb"[{}\[\]]")
_START = re.compile(rb"[^ \t\r\n]")  # between objects: only whitespace, then { or [


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"Kodi sent a message that is not JSON: {exc}") from None


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] | None = None


class TcpConnection:
    """One TCP connection to Kodi's JSON-RPC port. `serve` reads until the socket closes, handing
    notifications to `on_notification` and replies to the `call` waiting for them."""

    def __init__(self, host: str, port: int, connect_timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.settimeout(None)
        # A Kodi box switched off mid-play never closes its end: keepalive probes find out within
        # about a minute, and the read fails so that the supervisor reconnects.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, option):  # Linux names; other systems keep their defaults
                self.sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self.closed = threading.Event()

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
        if self.closed.is_set():
            raise Unreachable(f"{method}: not connected")
        rid = next(self._ids)
        waiter = _Pending()
        with self._lock:
            self._pending[rid] = waiter
        message = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        try:
            with self._send_lock:
                self.sock.sendall(json.dumps(message).encode())
            if not waiter.done.wait(timeout):
                raise Unreachable(f"{method}: no reply within {timeout:g} s")
        except OSError as exc:
            raise Unreachable(f"{method}: {exc}") from None
        finally:
            with self._lock:
                self._pending.pop(rid, None)
        return _result(method, waiter.reply)

    def serve(self, on_notification: Notification, stop: threading.Event) -> None:
        stream = JsonStream()
        try:
            while not stop.is_set():
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    if self.closed.is_set():
                        return  # closed on purpose (stop): not a failure
                    raise
                if not data:
                    return
                for message in stream.feed(data):
                    self._dispatch(message, on_notification)
        finally:
            self.close()

    def _dispatch(self, message: Any, on_notification: Notification) -> None:
        if not isinstance(message, dict):
            return
        if "id" in message and ("result" in message or "error" in message):
            with self._lock:
                waiter = self._pending.get(message["id"])
            if waiter is not None:
                waiter.reply = message
                waiter.done.set()
            return
        method, params = message.get("method"), message.get("params")
        if isinstance(method, str) and isinstance(params, dict):
            data = params.get("data")
            on_notification(method, data if isinstance(data, dict) else {})

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self._lock:
            for waiter in self._pending.values():
                waiter.done.set()  # reply None: the caller reports the lost link


class HttpRpc:
    """Requests over Kodi's web server (`/jsonrpc`), with optional basic auth. Used when the TCP
    link is not up, e.g. for resume points at startup."""

    def __init__(self, host: str, port: int, username: str | None = None, password: str | None = None, timeout: float = 10.0):
        self.url = f"http://{host}:{port}/jsonrpc"
        self.auth = (username, password or "") if username else None
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        message = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or {}}
        try:
            reply = requests.post(self.url, json=message, auth=self.auth, timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            raise Unreachable(f"{method}: {type(exc).__name__}") from None
        if reply.status_code == 401:
            raise Unreachable(f"{method}: Kodi refused the web server login (401); check kodi username/password")
        if reply.status_code != 200:
            raise RpcError(f"{method}: HTTP {reply.status_code}")
        try:
            return _result(method, reply.json())
        except ValueError:
            raise RpcError(f"{method}: reply is not JSON") from None


def _result(method: str, reply: Any) -> Any:
    if not isinstance(reply, dict):
        raise Unreachable(f"{method}: connection lost before the reply")
    if "error" in reply:
        err = reply["error"]
        message = err.get("message") if isinstance(err, dict) else err
        raise RpcError(f"{method}: Kodi error: {message}")
    return reply.get("result")


class KodiApi:
    """The requests the adapter makes: over the live TCP link when it is up (`conn`), else over
    HTTP when a web server port is configured. Replies that should be objects but are not read as
    empty, which the mapping then reports as what is missing."""

    def __init__(self, http: HttpRpc | None):
        self.http = http
        self.conn: TcpConnection | None = None

    @property
    def linked(self) -> bool:
        return self.conn is not None and not self.conn.closed.is_set()

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        conn = self.conn
        if conn is not None and not conn.closed.is_set():
            return conn.call(method, params)
        if self.http is not None:
            return self.http.call(method, params)
        raise Unreachable(f"{method}: Kodi is not connected")

    def get(self, method: str, params: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """A reply that should be an object (or hold one under `key`)."""
        reply = self.call(method, params)
        if key is not None:
            reply = reply.get(key) if isinstance(reply, dict) else None
        return reply if isinstance(reply, dict) else {}

    def items(self, method: str, params: dict[str, Any], key: str) -> list[dict[str, Any]]:
        return _objects(self.get(method, params), key)

    # -- the player -----------------------------------------------------------------------------

    def video_player(self) -> dict[str, Any] | None:
        """The active video player, or None when Kodi plays no video."""
        players = self.call("Player.GetActivePlayers")
        if not isinstance(players, list):
            return None
        return next((p for p in players if isinstance(p, dict) and p.get("type") == "video"), None)

    def playing(self, playerid: int, properties: list[str] = ITEM_PROPERTIES) -> dict[str, Any]:
        return self.get("Player.GetItem", {"playerid": playerid, "properties": properties}, "item")

    def position(self, playerid: int) -> dict[str, Any]:
        return self.get("Player.GetProperties", {"playerid": playerid, "properties": POSITION_PROPERTIES})

    # -- the library ----------------------------------------------------------------------------

    def show(self, tvshowid: int) -> dict[str, Any]:
        # Not cached: a library rebuild can give a tvshowid to another show, and this is one cheap
        # local request per play.
        return self.get("VideoLibrary.GetTVShowDetails", {"tvshowid": tvshowid, "properties": SHOW_PROPERTIES}, "tvshowdetails")

    def same_file(self, item: dict[str, Any]) -> tuple[int, ...]:
        """Episode numbers stored in this item's file: a multi-episode file is several episodes."""
        episodes = self.items("VideoLibrary.GetEpisodes", {"tvshowid": item["tvshowid"], "season": item.get("season"),
                                                           "properties": ["episode", "file"]}, "episodes")
        return tuple(e["episode"] for e in episodes if e.get("file") == item.get("file") and is_count(e.get("episode")))

    def movies(self) -> list[dict[str, Any]]:
        return self.items("VideoLibrary.GetMovies", {"properties": MOVIE_RESUME_PROPERTIES}, "movies")

    def shows(self) -> list[dict[str, Any]]:
        return self.items("VideoLibrary.GetTVShows", {"properties": SHOW_PROPERTIES}, "tvshows")

    def episodes(self, tvshowid: int, season: int) -> list[dict[str, Any]]:
        return self.items("VideoLibrary.GetEpisodes", {"tvshowid": tvshowid, "season": season,
                                                       "properties": EPISODE_RESUME_PROPERTIES}, "episodes")

    def clock(self) -> dict[str, Any]:
        """Kodi's date and time as CLOCK_LABELS (see resume.kodi_utc_offset)."""
        return self.get("XBMC.GetInfoLabels", {"labels": list(CLOCK_LABELS)})

    def set_resume(self, kind: Kind, obj: dict[str, Any], point: dict[str, float]) -> bool:
        """Set the resume point of the library movie or episode `obj`; False when it has no id."""
        libid = obj.get(_KINDS[kind][1])
        if not is_count(libid):
            return False
        self.set_details(kind, libid, {"resume": point})
        return True

    def details(self, kind: Kind, libid: int, properties: list[str]) -> dict[str, Any]:
        name, key = _KINDS[kind]
        return self.get(f"VideoLibrary.Get{name}Details", {key: libid, "properties": properties}, f"{name.lower()}details")

    def set_details(self, kind: Kind, libid: int, details: dict[str, Any]) -> None:
        name, key = _KINDS[kind]
        self.call(f"VideoLibrary.Set{name}Details", {key: libid, **details})

    def listing(self, method: str, key: str, properties: list[str], page: int) -> Iterator[dict[str, Any]]:
        """Every object of a library list (GetMovies, GetEpisodes, GetTVShows), `page` per request.
        No sort: without one Kodi's video database applies `limits` in its SQL query (a page costs
        Kodi its own rows); with one it loads and sorts the whole list for every page."""
        start = 0
        while True:
            reply = self.get(method, {"properties": properties, "limits": {"start": start, "end": start + page}})
            yield from (objects := _objects(reply, key))
            limits, start = reply.get("limits"), start + page
            total = limits.get("total") if isinstance(limits, dict) else None  # the whole list's length
            if not objects or (start >= total if is_count(total) else len(objects) < page):
                return


def _objects(reply: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of a reply's list `key` ([] when Kodi left it out, as it does for an empty one)."""
    found = reply.get(key)
    return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []
