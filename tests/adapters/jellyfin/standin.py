"""A Jellyfin stand-in on 127.0.0.1, written from Jellyfin's documented API shapes (10.8-10.10).

REST: `/System/Info`, `/Users`, `/Sessions`, `/Items?Ids=…` (and the library listing),
`/Items/{id}/Ancestors`, `/Shows/{id}/Episodes`, `POST /UserItems/{id}/UserData`. The `/socket`
websocket greets with `ForceKeepAlive`, answers `KeepAlive`, and after `SessionsStart` pushes
`{"MessageType":"Sessions","Data":[SessionInfoDto…]}` whenever a session changes. User data
follows the server's rules: starting a play clears `Played` and counts a play; a stop past 90%
marks it played and clears the position; each change is pushed as `UserDataChanged`.
Everything needs the API key (`Authorization: MediaBrowser Token="…"`, `X-Emby-Token` or `api_key`).
"""

from __future__ import annotations

import itertools
import queue
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from tests.standin import Req, StandIn, WsConn

API_KEY = "0123456789abcdef0123456789abcdef"
ALICE = "a11ce000000000000000000000000001"
BOB = "b0b00000000000000000000000000002"
TICKS = 10_000_000
MAX_RESUME = 0.90  # Jellyfin's default "max resume percentage"


def stamp(ts: float) -> str:
    """Jellyfin's date form: seven fractional digits and a Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


class JellyfinStandIn:
    def __init__(self, keepalive: int = 60):
        self.keepalive = keepalive
        self.server = StandIn()
        self.users = {ALICE: "alice", BOB: "bob"}
        self.items: dict[str, dict[str, Any]] = {}
        self.libraries: dict[str, str] = {}  # item id -> library name
        self.user_data: dict[tuple[str, str], dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.subscribers: list[WsConn] = []
        self.accept_sockets = True
        self.received: list[str] = []  # every text message clients sent
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        s = self.server
        s.route("GET", "/System/Info", self._guard(lambda r: (200, {"Version": "10.9.11", "ServerName": "standin", "Id": "f" * 32})))
        s.route("GET", "/Users", self._guard(lambda r: (200, [{"Name": n, "Id": i} for i, n in self.users.items()])))
        s.route("GET", "/Sessions", self._guard(lambda r: (200, self.session_list())))
        s.route("GET", "/Items", self._guard(self._get_items))
        s.route("GET", r"/Items/(\w+)/Ancestors", self._guard(self._ancestors))
        s.route("GET", r"/Shows/(\w+)/Episodes", self._guard(self._episodes))
        s.route("POST", r"/UserItems/(\w+)/UserData", self._guard(self._set_user_data))
        s.websocket("/socket", self._on_socket)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> JellyfinStandIn:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def restart(self) -> None:
        """A server restart: every socket closes and every playing session is gone."""
        with self._lock:
            self.sessions.clear()
            self.subscribers.clear()
        self.server.restart()

    def freeze(self) -> None:
        self.server.freeze()

    def drop_sockets(self, refuse: bool = True) -> None:
        """Close every websocket (and with `refuse`, close new ones at once); REST keeps answering."""
        self.accept_sockets = not refuse
        for conn in list(self.server.sockets):
            conn.close()

    def connected(self) -> int:
        return self.server.connected()

    # -- the library ----------------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{next(self._ids):032x}"

    def add_movie(self, name: str, provider_ids: dict[str, str], minutes: float = 100, year: int = 2000,
                  library: str = "Movies") -> str:
        item_id = self._new_id()
        self.items[item_id] = {"Id": item_id, "Name": name, "Type": "Movie", "ProductionYear": year,
                               "RunTimeTicks": int(minutes * 60 * TICKS), "ProviderIds": provider_ids}
        self.libraries[item_id] = library
        return item_id

    def add_series(self, name: str, provider_ids: dict[str, str], year: int = 2008, library: str = "Shows") -> str:
        item_id = self._new_id()
        self.items[item_id] = {"Id": item_id, "Name": name, "Type": "Series", "ProductionYear": year,
                               "ProviderIds": provider_ids}
        self.libraries[item_id] = library
        return item_id

    def add_episode(self, series_id: str, season: int, number: int, provider_ids: dict[str, str] | None = None,
                    minutes: float = 45, number_end: int | None = None) -> str:
        series = self.items[series_id]
        item_id = self._new_id()
        episode = {"Id": item_id, "Name": f"Episode {number}", "Type": "Episode", "SeriesName": series["Name"],
                   "SeriesId": series_id, "ParentIndexNumber": season, "IndexNumber": number,
                   "RunTimeTicks": int(minutes * 60 * TICKS), "ProviderIds": provider_ids or {}}
        if number_end is not None:
            episode["IndexNumberEnd"] = number_end
        self.items[item_id] = episode
        self.libraries[item_id] = self.libraries[series_id]
        return item_id

    def data(self, user_id: str, item_id: str) -> dict[str, Any]:
        return self.user_data.setdefault((user_id, item_id), {
            "PlaybackPositionTicks": 0, "PlayCount": 0, "IsFavorite": False, "Played": False,
            "Key": item_id, "ItemId": item_id})

    # -- players --------------------------------------------------------------------------------

    def play(self, session: str, user_id: str, item_id: str, seconds: float = 0.0, paused: bool = False,
             push: bool = True, played_after: float | None = None) -> None:
        """A client starts (or reports) playing an item in its session. Over another item (autoplay of
        the next episode) the old one is finished first; `played_after` as in `stop`."""
        finished = None
        with self._lock:
            current = self.sessions.get(session, {}).get("NowPlayingItem")
            if current is not None and current["Id"] != item_id:
                finished = self._finish(session)
                if played_after is None:
                    self._user_data_changed(*finished)
            started = current is None or current["Id"] != item_id
            self.sessions[session] = {
                "Id": session, "UserId": user_id, "UserName": self.users[user_id], "Client": "Jellyfin Web",
                "DeviceName": "Firefox", "DeviceId": f"device-{session}", "NowPlayingItem": dict(self.items[item_id]),
                "PlayState": {"PositionTicks": int(seconds * TICKS), "CanSeek": True, "IsPaused": paused,
                              "IsMuted": False, "PlayMethod": "DirectPlay", "RepeatMode": "RepeatNone"},
                "LastActivityDate": stamp(time.time())}
            if started:
                # Jellyfin's OnPlaybackStart: count the play, clear Played for a resumable item.
                data = self.data(user_id, item_id)
                data.update(PlayCount=data["PlayCount"] + 1, LastPlayedDate=stamp(time.time()), Played=False)
                self._user_data_changed(user_id, [data])
        if push:
            self.push()
        if finished is not None and played_after is not None:
            time.sleep(played_after)
            self._user_data_changed(*finished)

    def pause(self, session: str, seconds: float) -> float:
        return self._report(session, seconds, True)

    def resume(self, session: str, seconds: float) -> float:
        return self._report(session, seconds, False)

    def progress(self, session: str, seconds: float) -> float:
        return self._report(session, seconds, self.sessions[session]["PlayState"]["IsPaused"])

    def _report(self, session: str, seconds: float, paused: bool) -> float:
        """Returns when the update was pushed (time.perf_counter)."""
        with self._lock:
            self.sessions[session]["PlayState"].update(PositionTicks=int(seconds * TICKS), IsPaused=paused)
        return self.push()

    def stop(self, session: str, push: bool = True, played_after: float | None = None) -> None:
        """The client stops. Jellyfin saves the user data (UserDataChanged) and pushes the sessions;
        `played_after=seconds` sends them in the other order, that long apart."""
        with self._lock:
            changed = self._finish(session)
            if played_after is None:
                self._user_data_changed(*changed)
        if push:
            self.push()
        if played_after is not None:
            time.sleep(played_after)
            self._user_data_changed(*changed)

    def _finish(self, session: str) -> tuple[str, list[dict[str, Any]]]:
        info = self.sessions[session]
        item = info.pop("NowPlayingItem")
        position = info["PlayState"].pop("PositionTicks", 0)
        info["PlayState"]["IsPaused"] = False
        data = self.data(info["UserId"], item["Id"])
        if position >= MAX_RESUME * item["RunTimeTicks"]:
            data.update(Played=True, PlaybackPositionTicks=0, LastPlayedDate=stamp(time.time()))
        else:
            data.update(PlaybackPositionTicks=position)
        return info["UserId"], [data]

    def mark_played(self, user_id: str, item_id: str, when: float | None = None) -> None:
        """A user ticks "played" by hand (or, with an old `when`, another save of an already played item)."""
        data = self.data(user_id, item_id)
        data.update(Played=True, LastPlayedDate=stamp(time.time() if when is None else when))
        self._user_data_changed(user_id, [data])

    # -- websocket ------------------------------------------------------------------------------

    def session_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self.sessions.values()]

    def push(self) -> float:
        """Send the session list to subscribed sockets; returns when it was sent (time.perf_counter)."""
        message = {"MessageType": "Sessions", "MessageId": self._new_id(), "Data": self.session_list()}
        at = time.perf_counter()
        self.send(message)
        return at

    def send(self, message: str | dict[str, Any] | list[Any]) -> None:
        for conn in list(self.subscribers):
            if not conn.closed.is_set():
                conn.send(message)

    def _user_data_changed(self, user_id: str, entries: list[dict[str, Any]]) -> None:
        self.send({"MessageType": "UserDataChanged", "MessageId": self._new_id(),
                   "Data": {"UserId": user_id, "UserDataList": [dict(e) for e in entries]}})

    def _on_socket(self, conn: WsConn) -> None:
        if not self.accept_sockets or not self._authorized(conn.req):
            conn.close()
            return
        conn.send({"MessageType": "ForceKeepAlive", "MessageId": self._new_id(), "Data": self.keepalive})
        threading.Thread(target=self._converse, args=(conn,), daemon=True).start()

    def _converse(self, conn: WsConn) -> None:
        while not conn.closed.is_set():
            try:
                text = conn.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            self.received.append(text)
            if '"SessionsStart"' in text:
                with self._lock:
                    self.subscribers.append(conn)
            elif '"KeepAlive"' in text:
                conn.send({"MessageType": "KeepAlive"})

    # -- REST -----------------------------------------------------------------------------------

    def _authorized(self, req: Req) -> bool:
        header = req.headers.get("authorization", "")
        token = re.search(r'Token="([^"]*)"', header)
        given = (token.group(1) if token else None) or req.headers.get("x-emby-token") or req.query.get("api_key")
        return given == API_KEY

    def _guard(self, handler: Any) -> Any:
        def guarded(req: Req) -> tuple:
            if not self._authorized(req):
                return (401, {"error": "Unauthorized"})
            return handler(req)
        return guarded

    def _dto(self, item_id: str, user_id: str | None) -> dict[str, Any]:
        dto = dict(self.items[item_id])
        if user_id:
            data = self.data(user_id, item_id)
            dto["UserData"] = {k: v for k, v in data.items() if k != "ItemId"}
        return dto

    def _get_items(self, req: Req) -> tuple:
        user_id = req.query.get("userId")
        if req.query.get("Ids"):  # Jellyfin ignores an empty filter and lists everything
            ids = [i.replace("-", "").lower() for i in req.query["Ids"].split(",")]
            found = [self._dto(i, user_id) for i in ids if i in self.items]
        else:
            types = set(req.query.get("IncludeItemTypes", "").split(",")) - {""}
            found = [self._dto(i, user_id) for i, item in self.items.items() if not types or item["Type"] in types]
        return 200, {"Items": found, "TotalRecordCount": len(found), "StartIndex": 0}

    def _ancestors(self, req: Req) -> tuple:
        item_id = req.match.group(1)
        if item_id not in self.items:
            return 404, {"error": "not found"}
        chain = []
        series_id = self.items[item_id].get("SeriesId")
        if series_id:
            chain.append({"Id": series_id, "Name": self.items[series_id]["Name"], "Type": "Series"})
        chain.append({"Id": "c" * 32, "Name": self.libraries[item_id], "Type": "CollectionFolder"})
        chain.append({"Id": "e" * 32, "Name": "root", "Type": "AggregateFolder"})
        return 200, chain

    def _episodes(self, req: Req) -> tuple:
        series_id, user_id = req.match.group(1), req.query.get("userId")
        season = req.query.get("season")
        found = [self._dto(i, user_id) for i, item in self.items.items() if item.get("SeriesId") == series_id
                 and (season is None or str(item["ParentIndexNumber"]) == season)]
        return 200, {"Items": found, "TotalRecordCount": len(found), "StartIndex": 0}

    def _set_user_data(self, req: Req) -> tuple:
        item_id, user_id = req.match.group(1), req.query.get("userId")
        if item_id not in self.items or user_id not in self.users:
            return 404, {"error": "not found"}
        data = self.data(user_id, item_id)
        data.update({k: v for k, v in req.json().items() if k in ("PlaybackPositionTicks", "LastPlayedDate", "Played")})
        self._user_data_changed(user_id, [data])
        return 200, {k: v for k, v in data.items()}
