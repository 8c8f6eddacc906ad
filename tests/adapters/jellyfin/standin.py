"""A Jellyfin server on 127.0.0.1, version by version, written from Jellyfin's own code: the
repository github.com/jellyfin/jellyfin at the tags v10.8.13, v10.9.11, v10.10.7 and v10.11.11
(paths below are in that repository). `JellyfinStandIn(version=…)` takes one of VERSIONS; 10.10.7
stands for every release from 10.9.0 to 10.10.7, which behave alike in everything below.

The socket. Any websocket request reaches WebSocketManager.WebSocketRequestHandler
(Emby.Server.Implementations/HttpServer/WebSocketManager.cs): without a valid token it throws a
SecurityException, answered 403 (Jellyfin.Api/Middleware/ExceptionMiddleware.cs), before the upgrade.
- `KeepAlive` is answered with `KeepAlive` on every socket (HttpServer/WebSocketConnection.cs).
- Sessions of sockets (Emby.Server.Implementations/Session/SessionWebSocketListener.cs): up to
  10.10 a socket joins the session of its token's device (SessionManager.GetSessionByAuthenticationToken
  looks the token up among devices); an API key is no device, so its socket has no session, is sent
  no `ForceKeepAlive` and is on no keep-alive watch list. From 10.11 every socket gets a session
  (Jellyfin.Api/Helpers/RequestHelpers.GetSession -> LogSessionActivity, without a user for an API
  key), is sent `ForceKeepAlive` (60 s) and that session is listed by GET /Sessions.
- `SessionsStart` (Jellyfin.Api/WebSocketListeners/SessionInfoWebSocketListener.cs): 10.8 subscribes
  any socket. 10.9.0-10.10.7 first call `AuthorizationInfo.User.HasPermission(IsAdministrator)`;
  `User` is null for an API key, so the call throws (10.10.6 added `&& !IsApiKey` after it, which
  still throws), WebSocketConnection logs "Failed to process WebSocket message" and the socket is
  never subscribed; an administrator's token subscribes. 10.11 subscribes an API key and every
  user (one who is not an administrator is sent only their own sessions).
- Pushes (MediaBrowser.Controller/Net/BasePeriodicWebSocketListener.cs): nothing at subscribing;
  each session event sends the whole list to every subscriber. Forced events (a playback start or
  stop, a client's progress report, a session starting or ending) always; unforced ones (the
  server's own progress for a client that stopped reporting, SessionInfo.OnProgressTimerCallback,
  and session activity) only to a socket whose last push is the subscription's interval old (the
  1500 of "0,1500").
- `UserDataChanged` (Emby.Server.Implementations/EntryPoints/UserDataChangeNotifier.cs): every save
  but playback progress is collected per user until 500 ms pass without one, each item with its
  parent (an episode's season), then sent to that user's sessions only
  (SessionManager.SendMessageToUserSessions): never to an API key's socket, which has no user.

REST.
- Tokens (Jellyfin.Server.Implementations/Security/AuthorizationContext.cs): the `Authorization:
  MediaBrowser Token="…"` header and the `ApiKey` query parameter on every version; the
  `X-Emby-Authorization`, `X-Emby-Token` and `X-MediaBrowser-Token` headers, the `Emby` scheme and
  the `api_key` parameter up to 10.10, and from 10.11 only with EnableLegacyAuthorization (on by
  default in 10.11, off by default on master: `legacy_auth=False`).
- GET /System/Info/Public needs no token (Jellyfin.Api/Controllers/SystemController.cs).
- GET /Items/{id}/Ancestors (Jellyfin.Api/Controllers/LibraryController.cs, GetAncestors): the
  item's parents up to the root. Only with `userId` is the library's top physical folder replaced by
  the user's view of the library, its CollectionFolder (TranslateParentItem); without it the chain
  holds the physical Folder and the AggregateFolder, and no CollectionFolder.
- User data (Emby.Server.Implementations/Session/SessionManager.cs OnPlaybackStart and
  OnPlaybackStopped, Emby.Server.Implementations/Library/UserDataManager.cs UpdatePlayState): a
  start counts a play, sets LastPlayedDate and clears Played; at a stop past MaxResumePct (90%), or
  past MinResumePct (5%) of an item shorter than MinResumeDurationSeconds (300), the item is played
  and its position cleared; below MinResumePct the position is cleared; otherwise it is kept.
- POST /UserItems/{id}/UserData from 10.9 (Jellyfin.Api/Controllers/ItemsController.cs); 10.8 has no
  such route: 404.
- The library (each handler's docstring names its files): GET /Items listings with a user's views,
  Fields, order, paging and counts as ItemsController.GetItems and the item repositories have them
  (`_get_items`); GET /Library/MediaFolders (LibraryController.cs); played marks on both routes of
  Jellyfin.Api/Controllers/PlaystateController.cs by version, with BaseItem.MarkPlayed's effect
  (MediaBrowser.Controller/Entities/BaseItem.cs, `_played`).
- Ratings (`_rating`, `_set_user_data`): UserItemData.Rating, a 0-10 double (Likes is Rating >= 6.5,
  and setting it sets 10 or 1), set by value only through POST /UserItems/{id}/UserData (10.9+),
  liked, disliked or cleared on UserLibraryController's `Rating` routes.
- Collections (`_collections`, `_collection_items`, `_collection_listing`): CollectionController and
  CollectionManager (Emby.Server.Implementations/Collections/CollectionManager.cs), BoxSet children
  as ItemsController lists them (MediaBrowser.Controller/Entities/Movies/BoxSet.cs).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import queue
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.standin import Req, StandIn, WsConn

VERSIONS = ("10.8.13", "10.10.7", "10.11.11")
API_KEY = "0123456789abcdef0123456789abcdef"
ALICE = "a11ce000000000000000000000000001"  # an administrator
BOB = "b0b00000000000000000000000000002"
# Access tokens of Jellyfin Web signed in as alice and as bob (devices, unlike the API key).
USER_TOKENS = {"a11ce0deadbeef0000000000000token": ALICE, "b0b000deadbeef0000000000000token": BOB}
ALICE_TOKEN = next(iter(USER_TOKENS))
TICKS = 10_000_000
MAX_RESUME_PCT, MIN_RESUME_PCT, MIN_RESUME_SECONDS = 90, 5, 300  # ServerConfiguration defaults
FORCE_KEEPALIVE = 60  # SessionWebSocketListener.WebSocketLostTimeout
USER_DATA_BATCH = 0.5  # UserDataChangeNotifier.UpdateDuration, ms / 1000
EMPTY_ID = "0" * 32
CREATED = 1_700_000_000.0  # the first item's DateCreated; each later one a second after the last
SORT_REMOVE_WORDS = ("the", "a", "an")  # ServerConfiguration.SortRemoveWords
ORDERS = ("Ascending", "Descending")
LOCATION_TYPES = ("FileSystem", "Remote", "Virtual", "Offline")


def stamp(ts: float) -> str:
    """Jellyfin's date form: seven fractional digits and a Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _flag(query: dict[str, str], name: str) -> bool | None:
    """A bool query parameter as ASP.NET binds it: true/false in any case, absent None, else invalid."""
    text = query.get(name)
    if text is None or text.lower() not in ("true", "false"):
        if text is not None:
            raise ValueError(f"{name}: {text!r} is not a bool")
        return None
    return text.lower() == "true"


def _date_played(text: str) -> str | None:
    """LegacyDateTimeModelBinder: yyyyMMddHHmmss (AssumeUniversal), else DateTimeModelBinder with
    AdjustToUniversal (an ISO date; no zone taken as given); as Jellyfin's own date form, or None."""
    try:
        when = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return stamp(when.replace(tzinfo=when.tzinfo or UTC).timestamp())


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass
class Caller:
    """Who a request or socket authenticated as: a user, or the API key (no user)."""

    user: str | None
    device_id: str
    client: str


@dataclass
class Socket:
    conn: WsConn
    caller: Caller
    session: str | None  # the session it belongs to, None: none
    interval: float | None = None  # seconds between unforced pushes once subscribed; None: not subscribed
    last_push: float = float("-inf")


class JellyfinStandIn:
    def __init__(self, version: str = VERSIONS[-1], legacy_auth: bool = True):
        if version not in VERSIONS:
            raise ValueError(f"version must be one of {VERSIONS}")
        self.version = version
        self.release = release(version)
        self.legacy_auth = legacy_auth or self.release < (10, 11)
        self.server = StandIn()
        self.users = {ALICE: "alice", BOB: "bob"}
        self.admins = {ALICE}
        self.items: dict[str, dict[str, Any]] = {}
        self.libraries: dict[str, str] = {}  # item id -> library name
        self.created: dict[str, float] = {}  # item id -> DateCreated: when the scan found it
        self.virtual: set[str] = set()  # missing episodes: known to the metadata, no file
        self.boxsets: dict[str, tuple[str, list[str]]] = {}  # collection id -> its name and movies
        self.enabled_folders: dict[str, set[str]] = {}  # user id -> the libraries they may see (absent: all)
        self.group_into_collections = False  # ServerConfiguration.EnableGroupingIntoCollections
        self.user_data: dict[tuple[str, str], dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}  # players' sessions by id
        self.sockets: list[Socket] = []
        self.received: list[str] = []  # every text message clients sent
        self.log: list[str] = []  # what the server would log at warning level
        self.user_data_sent: list[tuple[str, list[str], int]] = []  # each UserDataChanged batch: user, items, sockets
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._folders: dict[tuple[str, str], str] = {}
        self._seasons: dict[tuple[str, int], str] = {}
        self._sort_names: dict[str, str] = {}
        self._hashes: dict[str, bytes] = {}
        self._changed: dict[str, list[str]] = {}  # user id -> item ids saved since the batch began
        self._batch: threading.Timer | None = None
        s = self.server
        s.route("GET", "/System/Info/Public", lambda r: (200, self._public_info()))
        s.route("GET", "/System/Info", self._guard(lambda r: (200, {**self._public_info(), "OperatingSystem": "Linux"})))
        s.route("GET", "/Users", self._guard(lambda r: (200, [self._user_dto(i) for i in self.users])))
        s.route("GET", "/Sessions", self._guard(lambda r: (200, self.session_list())))
        s.route("GET", "/Items", self._guard(self._get_items))
        s.route("GET", r"/Items/(\w+)/Ancestors", self._guard(self._ancestors))
        s.route("GET", r"/Shows/(\w+)/Episodes", self._guard(self._episodes))
        s.route("GET", "/Library/MediaFolders", self._guard(self._media_folders))
        for method in ("POST", "DELETE"):
            s.route(method, r"/Users/([\w-]+)/PlayedItems/([\w-]+)", self._guard(self._played))
            if self.release >= (10, 9):
                s.route(method, r"/UserPlayedItems/([\w-]+)", self._guard(self._played))
        if self.release >= (10, 9):
            s.route("POST", r"/UserItems/(\w+)/UserData", self._guard(self._set_user_data))
        for method in ("POST", "DELETE"):
            s.route(method, r"/Users/([\w-]+)/Items/([\w-]+)/Rating", self._guard(self._rating))
            if self.release >= (10, 9):
                s.route(method, r"/UserItems/([\w-]+)/Rating", self._guard(self._rating))
        s.route("POST", "/Collections", self._guard(self._collections))
        for method in ("POST", "DELETE"):
            s.route(method, r"/Collections/([\w-]+)/Items", self._guard(self._collection_items))
        s.websocket("/socket", self._on_socket, refuse=lambda req: None if self.caller(req) else 403)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> JellyfinStandIn:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._batch is not None:
            self._batch.cancel()
        self.server.stop()

    def restart(self) -> None:
        """A server restart: every socket closes and every playing session is gone."""
        with self._lock:
            self.sessions.clear()
            self.sockets.clear()
        self.server.restart()

    def freeze(self) -> None:
        self.server.freeze()

    def drop_sockets(self, refuse: bool = True) -> None:
        """Close every websocket (and with `refuse`, refuse new ones, as a proxy would); REST keeps answering."""
        if refuse:
            self.server.ws_refusals["/socket"] = lambda req: 502
        for conn in list(self.server.sockets):
            conn.close()

    def connected(self) -> int:
        return self.server.connected()

    @property
    def subscribers(self) -> list[WsConn]:
        return [s.conn for s in self.sockets if s.interval is not None and not s.conn.closed.is_set()]

    # -- the library ----------------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{next(self._ids):032x}"

    def add_movie(self, name: str, provider_ids: dict[str, str], minutes: float = 100, year: int = 2000,
                  library: str = "Movies") -> str:
        return self._store({"Name": name, "Type": "Movie", "ProductionYear": year,
                            "RunTimeTicks": int(minutes * 60 * TICKS), "ProviderIds": provider_ids}, library)

    def add_series(self, name: str, provider_ids: dict[str, str], year: int = 2008, library: str = "Shows") -> str:
        return self._store({"Name": name, "Type": "Series", "ProductionYear": year, "ProviderIds": provider_ids},
                           library)

    def add_episode(self, series_id: str, season: int, number: int, provider_ids: dict[str, str] | None = None,
                    minutes: float = 45, number_end: int | None = None, missing: bool = False) -> str:
        """`missing`: an episode the metadata lists and no file holds (a virtual item)."""
        series, library = self.items[series_id], self.libraries[series_id]
        season_id = self._seasons.get((series_id, season))
        if season_id is None:
            season_id = self._seasons[series_id, season] = self._store(
                {"Name": f"Season {season}", "Type": "Season", "SeriesId": series_id, "IndexNumber": season,
                 "ProviderIds": {}}, library)
        episode = {"Name": f"Episode {number}", "Type": "Episode", "SeriesName": series["Name"],
                   "SeriesId": series_id, "SeasonId": season_id, "ParentIndexNumber": season, "IndexNumber": number,
                   "RunTimeTicks": int(minutes * 60 * TICKS), "ProviderIds": provider_ids or {}}
        if number_end is not None:
            episode["IndexNumberEnd"] = number_end
        item_id = self._store(episode, library)
        if missing:
            self.virtual.add(item_id)
        return item_id

    def add_boxset(self, name: str, movies: list[str]) -> str:
        """A collection (BoxSet) of movies, as "group movies into collections" shows it."""
        boxset_id = self._new_id()
        self.boxsets[boxset_id] = (name, movies)
        self.created[boxset_id] = CREATED + len(self.created)
        return boxset_id

    def _store(self, item: dict[str, Any], library: str) -> str:
        item_id = self._new_id()
        self.items[item_id] = {"Id": item_id, **item}
        self.libraries[item_id] = library
        self.created[item_id] = CREATED + len(self.created)
        return item_id

    def data(self, user_id: str, item_id: str) -> dict[str, Any]:
        return self.user_data.setdefault((user_id, item_id), {
            "PlaybackPositionTicks": 0, "PlayCount": 0, "IsFavorite": False, "Played": False,
            "Key": item_id, "ItemId": item_id})

    def _parent(self, item_id: str) -> str | None:
        """The item's parent below the library's folder: an episode's season, a season's series."""
        item = self.items[item_id]
        return item.get("SeasonId") or (item.get("SeriesId") if item["Type"] == "Season" else None)

    def _folder_id(self, kind: str, library: str) -> str:
        return self._folders.setdefault((kind, library), self._new_id())

    # -- players --------------------------------------------------------------------------------

    def play(self, session: str, user_id: str, item_id: str, seconds: float = 0.0, paused: bool = False,
             push: bool = True) -> None:
        """A client starts (or reports) playing an item in its session. Over another item (autoplay of
        the next episode) the old one is stopped first."""
        with self._lock:
            current = self.sessions.get(session, {}).get("NowPlayingItem")
            if current is not None and current["Id"] != item_id:
                self._finish(session)
            started = current is None or current["Id"] != item_id
            self.sessions[session] = {
                "Id": session, "UserId": user_id, "UserName": self.users[user_id], "Client": "Jellyfin Web",
                "DeviceName": "Firefox", "DeviceId": f"device-{session}", "NowPlayingItem": dict(self.items[item_id]),
                "PlayState": {"PositionTicks": int(seconds * TICKS), "CanSeek": True, "IsPaused": paused,
                              "IsMuted": False, "PlayMethod": "DirectPlay", "RepeatMode": "RepeatNone"},
                "LastActivityDate": stamp(time.time())}
            if started:  # SessionManager.OnPlaybackStart
                data = self.data(user_id, item_id)
                data.update(PlayCount=data["PlayCount"] + 1, LastPlayedDate=stamp(time.time()), Played=False)
                self._saved(user_id, item_id)
        if push:
            self.push()

    def pause(self, session: str, seconds: float) -> float:
        return self._report(session, seconds, True)

    def resume(self, session: str, seconds: float) -> float:
        return self._report(session, seconds, False)

    def progress(self, session: str, seconds: float) -> float:
        return self._report(session, seconds, self.sessions[session]["PlayState"]["IsPaused"])

    def auto_progress(self, session: str, seconds: float) -> float | None:
        """The server moves a session on by itself (a client that stopped reporting): an unforced push."""
        with self._lock:
            self.sessions[session]["PlayState"]["PositionTicks"] = int(seconds * TICKS)
        return self.push(force=False)

    def _report(self, session: str, seconds: float, paused: bool) -> float:
        """A client's progress report: a forced push. Returns when the server took it (time.perf_counter)."""
        with self._lock:
            self.sessions[session]["PlayState"].update(PositionTicks=int(seconds * TICKS), IsPaused=paused)
            at = time.perf_counter()
        self.push()
        return at

    def stop(self, session: str, push: bool = True) -> None:
        """The client stops: Jellyfin saves the user data, then pushes the sessions."""
        with self._lock:
            self._finish(session)
        if push:
            self.push()

    def _finish(self, session: str) -> None:
        info = self.sessions[session]
        item = info.pop("NowPlayingItem")
        position = info["PlayState"].pop("PositionTicks", None)
        info["PlayState"]["IsPaused"] = False
        data = self.data(info["UserId"], item["Id"])
        runtime = item.get("RunTimeTicks") or 0
        if position is None:  # OnPlaybackStopped: a client that reports no position played it through
            data.update(Played=True, PlaybackPositionTicks=0)
        elif position > 0 and runtime > 0:  # UpdatePlayState
            percent = 100 * position / runtime
            if percent < MIN_RESUME_PCT:
                position = 0
            elif percent > MAX_RESUME_PCT or position >= runtime or runtime / TICKS < MIN_RESUME_SECONDS:
                position = 0
                data["Played"] = True
            data["PlaybackPositionTicks"] = position
        self._saved(info["UserId"], item["Id"])

    def mark_played(self, user_id: str, item_id: str, when: float | None = None) -> None:
        """A user ticks "played" by hand (or, with an old `when`, another save of an already played item)."""
        with self._lock:
            self.data(user_id, item_id).update(Played=True, LastPlayedDate=stamp(time.time() if when is None else when))
            self._saved(user_id, item_id)

    # -- UserDataChanged ------------------------------------------------------------------------

    def _saved(self, user_id: str, item_id: str) -> None:
        """UserDataChangeNotifier.OnUserDataManagerUserDataSaved: the item and its parent, sent once
        the saves pause for USER_DATA_BATCH (each save restarts the timer)."""
        changed = self._changed.setdefault(user_id, [])
        parent = self._parent(item_id)
        changed += [item_id] + ([parent] if parent else [])
        if self._batch is not None:
            self._batch.cancel()
        self._batch = threading.Timer(USER_DATA_BATCH, self._send_user_data)
        self._batch.daemon = True
        self._batch.start()

    def _send_user_data(self) -> None:
        with self._lock:
            changes, self._changed = self._changed, {}
            for user_id, item_ids in changes.items():
                entries = [{**self.data(user_id, i), "ItemId": i} for i in dict.fromkeys(item_ids)]
                message = {"MessageType": "UserDataChanged", "MessageId": self._new_id(),
                           "Data": {"UserId": user_id, "UserDataList": entries}}
                to = [s for s in self.sockets if s.session is not None and s.caller.user == user_id
                      and not s.conn.closed.is_set()]
                for sock in to:
                    sock.conn.send(message)
                self.user_data_sent.append((user_id, [e["ItemId"] for e in entries], len(to)))

    # -- the socket -----------------------------------------------------------------------------

    def session_list(self, caller: Caller | None = None) -> list[dict[str, Any]]:
        """Every session: the players', and the sockets' own (from 10.11 a user-less one for an API key)."""
        with self._lock:
            listed = [dict(s) for s in self.sessions.values()]
            listed += [self._socket_session(s) for s in self.sockets if s.session and not s.conn.closed.is_set()]
            if caller is not None and caller.user is not None and caller.user not in self.admins:
                listed = [s for s in listed if s.get("UserId") == caller.user]
            return listed

    def _socket_session(self, sock: Socket) -> dict[str, Any]:
        user = sock.caller.user
        return {"Id": sock.session, "UserId": user or EMPTY_ID, "UserName": self.users.get(user or ""),
                "Client": sock.caller.client, "DeviceId": sock.caller.device_id, "DeviceName": sock.caller.client,
                "PlayState": {"CanSeek": False, "IsPaused": False, "IsMuted": False, "RepeatMode": "RepeatNone"},
                "LastActivityDate": stamp(time.time())}

    def push(self, force: bool = True) -> float | None:
        """A session event: the list to each subscribed socket (unforced only past its interval).
        Returns when it was sent (time.perf_counter), None when no socket was due one."""
        sent = None
        with self._lock:
            now = time.monotonic()
            for sock in self.sockets:
                if sock.interval is None or sock.conn.closed.is_set():
                    continue
                if force or now - sock.last_push >= sock.interval:
                    sock.conn.send({"MessageType": "Sessions", "MessageId": self._new_id(),
                                    "Data": self.session_list(sock.caller)})
                    sock.last_push, sent = now, time.perf_counter()
        return sent

    def send(self, message: str | dict[str, Any] | list[Any]) -> None:
        """Any message, to every open socket."""
        self.server.broadcast(message)

    def _on_socket(self, conn: WsConn) -> None:
        caller = self.caller(conn.req)
        assert caller is not None  # refused before the handshake otherwise
        bound = caller.user is not None or self.release >= (10, 11)
        sock = Socket(conn, caller, f"socket-{self._new_id()}" if bound else None)
        with self._lock:
            self.sockets.append(sock)
        if bound:
            conn.send({"MessageType": "ForceKeepAlive", "MessageId": self._new_id(), "Data": FORCE_KEEPALIVE})
        threading.Thread(target=self._converse, args=(sock,), daemon=True).start()

    def _converse(self, sock: Socket) -> None:
        while not sock.conn.closed.is_set():
            try:
                text = sock.conn.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            self.received.append(text)
            try:
                message = json.loads(text)
            except json.JSONDecodeError:
                self.log.append("Error processing web socket message")
                continue
            kind = message.get("MessageType") if isinstance(message, dict) else None
            if kind == "KeepAlive":
                sock.conn.send({"MessageType": "KeepAlive", "MessageId": self._new_id()})
            elif kind == "SessionsStart":
                self._sessions_start(sock, str(message.get("Data") or ""))
            elif kind == "SessionsStop":
                sock.interval = None

    def _sessions_start(self, sock: Socket, data: str) -> None:
        user = sock.caller.user
        if (10, 9) <= self.release < (10, 11) and user is None:
            self.log.append("Failed to process WebSocket message: NullReferenceException "
                            "(AuthorizationInfo.User.HasPermission on an API key)")
            return
        if (10, 9) <= self.release < (10, 11) and user not in self.admins:
            self.log.append("Failed to process WebSocket message: Only admin users can subscribe to session information.")
            return
        try:
            interval = int(data.split(",")[1]) / 1000
        except (IndexError, ValueError):
            self.log.append(f"Failed to process WebSocket message: bad SessionsStart data {data!r}")
            return
        sock.interval = interval

    # -- REST -----------------------------------------------------------------------------------

    def caller(self, req: Req) -> Caller | None:
        """AuthorizationContext.GetAuthorizationInfoFromDictionary: where this version takes a token from."""
        legacy = self.legacy_auth
        names = ("authorization", "x-emby-authorization") if self.release >= (10, 11) else ("x-emby-authorization", "authorization")
        parts: dict[str, str] = {}
        for name in names:
            header = req.headers.get(name, "")
            if header and (name == "authorization" or legacy):
                scheme, _, rest = header.partition(" ")
                if scheme.lower() == "mediabrowser" or (legacy and scheme.lower() == "emby"):
                    parts = dict(re.findall(r'(\w+)="([^"]*)"', rest))
                break
        token = parts.get("Token")
        if not token and legacy:
            token = req.headers.get("x-emby-token") or req.headers.get("x-mediabrowser-token")
        token = token or req.query.get("ApiKey") or (req.query.get("api_key") if legacy else None)
        device = req.query.get("deviceId") if self.release < (10, 11) else None
        device = device or parts.get("DeviceId") or "unknown"
        if token == API_KEY:
            return Caller(None, device, parts.get("Client") or "unknown")
        if token in USER_TOKENS:
            return Caller(USER_TOKENS[token], device, parts.get("Client") or "Jellyfin Web")
        return None

    def _guard(self, handler: Any) -> Any:
        def guarded(req: Req) -> tuple:
            if self.caller(req) is None:
                return (401, b"")
            return handler(req)
        return guarded

    def _public_info(self) -> dict[str, Any]:
        return {"LocalAddress": self.url, "ServerName": "standin", "Version": self.version,
                "ProductName": "Jellyfin Server", "OperatingSystem": "", "Id": "f" * 32, "StartupWizardCompleted": True}

    def _user_dto(self, user_id: str) -> dict[str, Any]:
        return {"Name": self.users[user_id], "Id": user_id, "ServerId": "f" * 32,
                "Policy": {"IsAdministrator": user_id in self.admins, "EnableAllFolders": user_id not in self.enabled_folders,
                           "EnabledFolders": [self._folder_id("library", n) for n in self.enabled_folders.get(user_id, ())]}}

    def _dto(self, item_id: str, user_id: str | None, fields: set[str] = frozenset(), user_data: bool = True) -> dict[str, Any]:
        """A BaseItemDto (Emby.Server.Implementations/Dto/DtoService.cs): ProviderIds and DateCreated only
        when the request's Fields name them; UserData for a user unless EnableUserData=false."""
        if item_id in self.boxsets:
            return {"Id": item_id, "Name": self.boxsets[item_id][0], "Type": "BoxSet", "IsFolder": True}
        dto = {k: v for k, v in self.items[item_id].items() if k != "ProviderIds" or k in fields}
        if "DateCreated" in fields:
            dto["DateCreated"] = stamp(self.created[item_id])
        if user_id and user_data:
            data = self.data(user_id, item_id)
            dto["UserData"] = {k: v for k, v in data.items() if k != "ItemId"}
        return dto

    def _visible(self, user_id: str | None, item_id: str) -> bool:
        """Whether the item is in a library the user may see (Policy.EnableAllFolders / EnabledFolders)."""
        allowed = self.enabled_folders.get(user_id or "")
        return allowed is None or self.libraries.get(item_id) in allowed

    # -- GET /Items -----------------------------------------------------------------------------

    def _get_items(self, req: Req) -> tuple:
        """ItemsController.GetItems, and what it hands the query to (Folder.GetItems, LibraryManager.GetItemsResult,
        the item repository: Emby.Server.Implementations/Data/SqliteItemRepository.cs up to 10.10,
        Jellyfin.Server.Implementations/Item/BaseItemRepository.cs in 10.11).
        - `userId`: an unknown one is a 404 from 10.9 (ResourceNotFoundException); 10.8 looks it up, gets
          null and lists without a user (no UserData). Without Ids or ParentId a user's listing holds only
          the libraries they may see (AddUserToQuery: TopParentIds from the user's views); with ParentId a
          library's items, which an API key may always list ("api keys can always access all folders").
        - Not Recursive, without Ids or ParentId: the user root's children, the user's libraries.
        - `CollapseBoxSetItems` (Folder.CollapseBoxSetItems): unless false, a listing that may hold movies
          shows a collection in place of its movies when there is no user or the server groups movies
          into collections.
        - Order: `SortBy` with `SortOrder` paired (RequestHelpers.GetOrderBy); without SortBy 10.8-10.10
          add no ORDER BY, and SQLite returns the GROUP BY PresentationUniqueKey order (a movie's key is its
          random GUID: here a hash of the id), 10.11 orders by SortName.
        - Paging: OFFSET StartIndex, LIMIT Limit; a Limit of 0 returns nothing (isReturningZeroItems, Take(0)).
          TotalRecordCount is the whole listing's count only with EnableTotalRecordCount (default true) and
          a Limit or StartIndex (GetItems); otherwise the page's own (GetItemList). StartIndex echoes the
          request's (QueryResult: `startIndex ?? 0`)."""
        q = req.query
        try:
            start, limit = (int(q[k]) if q.get(k) else None for k in ("StartIndex", "Limit"))
            counted, collapse, with_data = (_flag(q, k) for k in ("EnableTotalRecordCount", "CollapseBoxSetItems",
                                                                  "EnableUserData"))
            order = self._order(q)
        except ValueError as exc:  # ASP.NET model binding: the [ApiController] answers 400
            return 400, {"title": "One or more validation errors occurred.", "errors": str(exc)}
        if limit is not None and limit < 0:
            return 400, {"error": "a negative Limit is not modelled by the stand-in"}
        excluded = set(q.get("ExcludeLocationTypes", "").split(",")) - {""}
        if not excluded <= set(LOCATION_TYPES):
            return 400, {"title": "One or more validation errors occurred.", "errors": "ExcludeLocationTypes"}
        user_id = (q.get("userId") or "").replace("-", "").lower() or None
        if user_id is not None and user_id not in self.users:
            if self.release >= (10, 9):
                return 404, b""
            user_id = None
        types = set(q.get("IncludeItemTypes", "").split(",")) - {""}
        parent = q.get("ParentId")
        if types == {"BoxSet"} or (parent or "").replace("-", "").lower() in self.boxsets:
            return self._collection_listing(q, user_id, types, start, limit, counted)
        if q.get("Ids"):  # Jellyfin ignores an empty filter and lists everything
            wanted = [i.replace("-", "").lower() for i in q["Ids"].split(",")]
            chosen = [i for i in wanted if i in self.items]
        elif parent:
            if q.get("Recursive", "").lower() != "true":
                return 400, {"error": "a library's direct children are not modelled by the stand-in"}
            library = next((name for (kind, name), fid in self._folders.items() if kind == "library" and fid == parent), None)
            chosen = [i for i in self.items if library is not None and self.libraries[i] == library]
        elif q.get("Recursive", "").lower() == "true":
            chosen = [i for i in self.items if self._visible(user_id, i)]
        else:
            folders = [f for f in self._library_folders() if self._visible_library(user_id, f["Name"])]
            return 200, {"Items": folders, "TotalRecordCount": len(folders), "StartIndex": start or 0}
        chosen = [i for i in chosen if (not types or self.items[i]["Type"] in types)
                  and not ("Virtual" in excluded and i in self.virtual)]
        if collapse is None:
            collapse = (user_id is None or self.group_into_collections) and (not types or "Movie" in types)
        if collapse and not q.get("Ids"):  # GetItems: never for a listing by Ids
            chosen = self._collapsed(chosen)
        chosen = self._sorted(chosen, order)
        offset = max(start or 0, 0)
        page = chosen[offset:] if limit is None else chosen[offset:offset + limit]
        total = len(chosen) if counted is not False and (limit is not None or offset > 0) else len(page)
        fields = set(q.get("Fields", "").split(","))
        return 200, {"Items": [self._dto(i, user_id, fields, with_data is not False) for i in page],
                     "TotalRecordCount": total, "StartIndex": start or 0}

    def _order(self, q: dict[str, str]) -> list[tuple[str, bool]]:
        """(key, descending) pairs: RequestHelpers.GetOrderBy pairs SortBy with SortOrder, the rest take
        the first SortOrder given (or Ascending)."""
        keys = [k for k in q.get("SortBy", "").split(",") if k]
        orders = [o for o in q.get("SortOrder", "").split(",") if o]
        unknown = [k for k in keys if k not in ("DateCreated", "SortName", "Name")] + [o for o in orders if o not in ORDERS]
        if unknown:
            raise ValueError(f"SortBy/SortOrder {unknown} (the stand-in models DateCreated, SortName and Name)")
        return [(k, (orders[n] if n < len(orders) else (orders[0] if orders else "Ascending")) == "Descending")
                for n, k in enumerate(keys)]

    def _sorted(self, chosen: list[str], order: list[tuple[str, bool]]) -> list[str]:
        # The database's own order first (see _get_items); sorts are stable, so the last key is applied first.
        out = sorted(chosen, key=self._unordered)
        if not order and self.release >= (10, 11):
            order = [("SortName", False)]
        elif order and order[0][0] == "SortName" and self.release >= (10, 11):
            order = [order[0], ("Name", order[0][1]), *order[1:]]  # BaseItemRepository.ApplyOrder: ThenBy(Name)
        for key, descending in reversed(order):
            value = {"DateCreated": self.created.__getitem__, "SortName": self.sort_name, "Name": self._name}[key]
            out.sort(key=value, reverse=descending)
        return out

    def _unordered(self, item_id: str) -> bytes:
        if item_id not in self._hashes:
            self._hashes[item_id] = hashlib.md5(item_id.encode()).digest()
        return self._hashes[item_id]

    def sort_name(self, item_id: str) -> str:
        """BaseItem.CreateSortName: lower-cased, SortRemoveWords dropped at the start (the middle and end
        rules, and the characters removed or replaced, are not modelled); Episode.CreateSortName:
        "SSS - EEEE - Name"."""
        if item_id not in self._sort_names:
            item = self.items.get(item_id, {})
            if item.get("Type") == "Episode":
                name = f"{item['ParentIndexNumber']:03d} - {item['IndexNumber']:04d} - {item['Name']}"
            else:
                name = self._name(item_id).strip().lower()
                for word in SORT_REMOVE_WORDS:
                    name = name.removeprefix(word + " ")
            self._sort_names[item_id] = name
        return self._sort_names[item_id]

    def _name(self, item_id: str) -> str:
        return self.items[item_id]["Name"] if item_id in self.items else self.boxsets[item_id][0]

    def _collapsed(self, chosen: list[str]) -> list[str]:
        """CollectionManager.CollapseItemsWithinBoxSets: each movie of a collection gives way to the collection."""
        member = {m: b for b, (_, movies) in self.boxsets.items() for m in movies}
        out: list[str] = []
        for i in chosen:
            # Only a Movie is ISupportsBoxSetGrouping: a series in a collection stays itself.
            shown = member.get(i, i) if self.items[i]["Type"] == "Movie" else i
            if shown not in out:
                out.append(shown)
        return out

    # -- libraries and played marks -------------------------------------------------------------

    def _library_folders(self) -> list[dict[str, Any]]:
        names = sorted(set(self.libraries.values()), key=str.lower)
        kinds = {name: "tvshows" if any(self.items[i]["Type"] == "Series" for i, n in self.libraries.items() if n == name)
                 else "movies" for name in names}
        return [{"Id": self._folder_id("library", name), "Name": name, "Type": "CollectionFolder",
                 "CollectionType": kinds[name], "IsFolder": True} for name in names]

    def _visible_library(self, user_id: str | None, name: str) -> bool:
        allowed = self.enabled_folders.get(user_id or "")
        return allowed is None or name in allowed

    def _media_folders(self, req: Req) -> tuple:
        """LibraryController.GetMediaFolders: every library, for an administrator (RequiresElevation: an
        API key is one, CustomAuthenticationHandler), sorted by SortName."""
        caller = self.caller(req)
        if caller is not None and caller.user is not None and caller.user not in self.admins:
            return 403, b""
        folders = self._library_folders()
        return 200, {"Items": folders, "TotalRecordCount": len(folders), "StartIndex": 0}

    def _played(self, req: Req) -> tuple:
        """PlaystateController.MarkPlayedItem / MarkUnplayedItem, and BaseItem.MarkPlayed / MarkUnplayed.
        10.8 serves only `/Users/{userId}/PlayedItems/{itemId}`: an unknown item is a NullReferenceException
        (500) and an unknown user an ArgumentNullException (400, Jellyfin.Server/Middleware/ExceptionMiddleware.cs).
        10.9-10.11 add `/UserPlayedItems/{itemId}?userId=` and keep the old route as its obsolete twin:
        an unknown user, or an item the user may not see (LibraryManager.GetItemById<T>(id, user)), is a 404.
        `datePlayed` (LegacyDateTimeModelBinder): yyyyMMddHHmmss as UTC, else an ISO date; else a 400.
        Marked played: PlayCount + 1 with a date, at least 1; the position cleared; LastPlayedDate the
        date, or without one now (10.8), the old date or now (10.9+); Played. Unplayed: count, position
        and date cleared. Both are saves (TogglePlayed), and the reply is the UserItemDataDto."""
        ids = [g.replace("-", "").lower() for g in req.match.groups()] if req.match else []
        user_id, item_id = ids if len(ids) == 2 else ((req.query.get("userId") or "").replace("-", "").lower(), ids[0])
        played = req.method == "POST"
        text = req.query.get("datePlayed")
        date = _date_played(text) if text else None
        if not all(re.fullmatch(r"[0-9a-f]{32}", g) for g in [*ids, user_id] if g) or (text and date is None):
            return 400, {"title": "One or more validation errors occurred."}
        if self.release < (10, 9):
            if item_id not in self.items:
                return 500, b""
            if user_id not in self.users:
                return 400, b""
        elif user_id not in self.users or item_id not in self.items or not self._visible(user_id, item_id):
            return 404, b""
        if self.items[item_id]["Type"] not in ("Movie", "Episode"):
            return 400, {"error": "marking a folder (Folder.MarkPlayed) is not modelled by the stand-in"}
        with self._lock:
            data = self.data(user_id, item_id)
            if played:
                count = data["PlayCount"] + (date is not None)
                last = date if date is not None else (None if self.release < (10, 9) else data.get("LastPlayedDate"))
                data.update(PlayCount=max(count, 1), PlaybackPositionTicks=0, Played=True,
                            LastPlayedDate=last or stamp(time.time()))
            else:
                data.update(PlayCount=0, PlaybackPositionTicks=0, Played=False)
                data.pop("LastPlayedDate", None)  # null, which Jellyfin's JSON leaves out
            self._saved(user_id, item_id)
            return 200, dict(data)

    def _ancestors(self, req: Req) -> tuple:
        """LibraryController.GetAncestors: parents up to the root; TranslateParentItem only for a user."""
        item_id, user_id = req.match.group(1), req.query.get("userId")
        if item_id not in self.items:
            return 404, b""
        chain, parent = [], self._parent(item_id)
        while parent is not None:
            chain.append(self._dto(parent, user_id))
            parent = self._parent(parent)
        library = self.libraries[item_id]
        if user_id in self.users:
            # The physical folder's parent is the AggregateFolder: the user's CollectionFolder stands in
            # for it; that folder's parent is the UserRootFolder, whose parent is none.
            chain.append({"Id": self._folder_id("library", library), "Name": library, "Type": "CollectionFolder",
                          "IsFolder": True})
            chain.append({"Id": "d" * 32, "Name": "Media Folders", "Type": "UserRootFolder", "IsFolder": True})
        else:
            chain.append({"Id": self._folder_id("folder", library), "Name": library.lower(), "Type": "Folder",
                          "Path": f"/media/{library.lower()}", "IsFolder": True})
            chain.append({"Id": "e" * 32, "Name": "root", "Type": "AggregateFolder", "IsFolder": True})
        return 200, chain

    def _episodes(self, req: Req) -> tuple:
        series_id, user_id = req.match.group(1), req.query.get("userId")
        season = req.query.get("season")
        fields = set(req.query.get("Fields", "").split(","))
        found = [self._dto(i, user_id, fields) for i, item in self.items.items()
                 if item["Type"] == "Episode" and item.get("SeriesId") == series_id
                 and (season is None or str(item["ParentIndexNumber"]) == season)]
        return 200, {"Items": found, "TotalRecordCount": len(found), "StartIndex": 0}

    def _set_user_data(self, req: Req) -> tuple:
        """ItemsController.UpdateItemUserData -> UserDataManager.SaveUserData: each field the body
        gives is set (a null one is left as it is); a Rating outside 0-10 is the setter's
        ArgumentOutOfRangeException, a 400 (Jellyfin.Api/Middleware/ExceptionMiddleware.cs)."""
        item_id, user_id = req.match.group(1), req.query.get("userId")
        if item_id not in self.items or user_id not in self.users:
            return 404, b""
        rating = req.json().get("Rating")
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int | float) or not 0 <= rating <= 10):
            return 400, b"Error processing request."
        with self._lock:
            data = self.data(user_id, item_id)
            if rating is not None:
                self._set_rating(data, float(rating))
            data.update({k: v for k, v in req.json().items() if k in ("PlaybackPositionTicks", "LastPlayedDate", "Played")})
            self._saved(user_id, item_id)
        return 200, {k: v for k, v in data.items()}

    # -- ratings and collections ----------------------------------------------------------------

    @staticmethod
    def _set_rating(data: dict[str, Any], rating: float | None) -> None:
        """UserItemData.Rating, and the Likes the DTO derives from it (Rating >= MinLikeValue, 6.5);
        both null when cleared, which Jellyfin's JSON leaves out."""
        if rating is None:
            data.pop("Rating", None)
            data.pop("Likes", None)
        else:
            data.update(Rating=rating, Likes=rating >= 6.5)

    def _rating(self, req: Req) -> tuple:
        """UserLibraryController.UpdateUserItemRating / DeleteUserItemRating -> UpdateUserItemRatingInternal:
        `Likes = likes` (true: Rating 10, false: 1; a DELETE, or no `likes`, clears it), a save
        (UpdateUserRating), the UserItemDataDto back. 10.8 serves only `/Users/{userId}/Items/{itemId}/Rating`
        and looks neither up (UserDataManager.GetUserData dereferences both: a 500); 10.9+ add
        `/UserItems/{itemId}/Rating?userId=` and answer an unknown user or an item the user may not see 404."""
        ids = [g.replace("-", "").lower() for g in req.match.groups()] if req.match else []
        user_id, item_id = ids if len(ids) == 2 else ((req.query.get("userId") or "").replace("-", "").lower(), ids[0])
        try:
            likes = _flag(req.query, "likes") if req.method == "POST" else None
        except ValueError:
            return 400, {"title": "One or more validation errors occurred."}
        if not all(re.fullmatch(r"[0-9a-f]{32}", g) for g in [*ids, user_id] if g):
            return 400, {"title": "One or more validation errors occurred."}
        if self.release < (10, 9):
            if item_id not in self.items or user_id not in self.users:
                return 500, b""
        elif user_id not in self.users or item_id not in self.items or not self._visible(user_id, item_id):
            return 404, b""
        with self._lock:
            data = self.data(user_id, item_id)
            self._set_rating(data, None if likes is None else 10.0 if likes else 1.0)
            self._saved(user_id, item_id)
            return 200, {k: v for k, v in data.items()}

    def _collections(self, req: Req) -> tuple:
        """CollectionController.CreateCollection -> CollectionManager.CreateCollectionAsync: a BoxSet
        named `name` (none given: ArgumentNullException from the file name, a 400) in the Collections
        folder, with `ids` added as AddToCollectionAsync adds them; the reply is {"Id"}."""
        name = req.query.get("name")
        if not name:
            return 400, b"Error processing request."
        ids = [i for i in (req.query.get("ids") or "").split(",") if i]
        with self._lock:
            boxset_id = self.add_boxset(name, [])
            status = self._link(boxset_id, ids) if ids else 200
        return (200, {"Id": boxset_id}) if status == 200 else (status, b"Error processing request.")

    def _collection_items(self, req: Req) -> tuple:
        """CollectionController.AddToCollection / RemoveFromCollection (`ids` required: without it a 400).
        Not a collection: ArgumentException, a 400. Adding: every id must name an item, else the
        ArgumentException comes before anything is linked; ids already linked are skipped, the rest
        appended in order. Removing: ids not linked are logged and skipped. 204 either way."""
        collection = req.match.group(1).replace("-", "").lower() if req.match else ""
        ids = [i.replace("-", "").lower() for i in (req.query.get("ids") or "").split(",") if i]
        if not ids or not all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids):
            return 400, {"title": "One or more validation errors occurred."}
        with self._lock:
            if collection not in self.boxsets:
                return 400, b"Error processing request."
            if req.method == "POST":
                status = self._link(collection, ids)
                return (204, b"") if status == 200 else (status, b"Error processing request.")
            members = self.boxsets[collection][1]
            for item_id in ids:
                if item_id in members:
                    members.remove(item_id)
                else:
                    self.log.append("No collection title exists with the supplied Id")
        return 204, b""

    def _link(self, boxset_id: str, ids: list[str]) -> int:
        wanted = [i.replace("-", "").lower() for i in ids]
        if not all(i in self.items for i in wanted):
            return 400  # "No item exists with the supplied Id"
        members = self.boxsets[boxset_id][1]
        members += [i for i in dict.fromkeys(wanted) if i not in members]
        return 200

    def _collection_listing(self, q: dict[str, str], user_id: str | None, types: set[str], start: int | None,
                            limit: int | None, counted: bool | None) -> tuple:
        """ItemsController.GetItems for collections. A BoxSet-only listing drops ParentId and lists the
        server's collections (those the user may see with a `userId`: BoxSet.IsVisible, one with no items
        or an item in a library of theirs). With a collection as ParentId, not recursive: its children
        are its linked items, for a user only those they may see (FilterLinkedChildrenPerUser); without a
        user none (BoxSet.LoadChildren is empty, Folder.GetItemsInternal); sorted by PremiereDate
        (BoxSet.Sort, DisplayOrder unset), which the stand-in's items have only as a year."""
        if q.get("Recursive", "").lower() == "true" and types != {"BoxSet"}:
            return 400, {"error": "a collection's recursive children are not modelled by the stand-in"}
        if types == {"BoxSet"}:
            chosen = [b for b, (_, members) in self.boxsets.items()
                      if user_id is None or not members or any(self._visible(user_id, m) for m in members)]
        else:
            members = self.boxsets[q["ParentId"].replace("-", "").lower()][1]
            chosen = [m for m in members if user_id is not None and self._visible(user_id, m)]
            chosen = [m for m in chosen if not types or self.items[m]["Type"] in types]
            chosen.sort(key=lambda m: self.items[m].get("ProductionYear") or 0)
        offset = max(start or 0, 0)
        page = chosen[offset:] if limit is None else chosen[offset:offset + limit]
        total = len(chosen) if counted is not False and (limit is not None or offset > 0) else len(page)
        fields = set(q.get("Fields", "").split(","))
        return 200, {"Items": [self._dto(i, user_id, fields, _flag(q, "EnableUserData") is not False) for i in page],
                     "TotalRecordCount": total, "StartIndex": start or 0}
