"""Jellyfin's REST API, the few calls the adapter needs, for servers 10.8 to 10.11, and what the
adapter keeps from them: series and libraries by item (bounded memories, `remember`), and the
server's users (`Users`).

Authentication is the API key in the `Authorization: MediaBrowser Token="…"` header (never in a
URL, so it cannot reach a log line): every version reads it there, where 10.11 reads `X-Emby-Token`
and `api_key` only with legacy authorization on (off by default after 10.11). Item lookups use
`GET /Items?Ids=…`, which every version from 10.8 on serves, rather than `/Items/{id}` (10.9+) or
`/Users/{id}/Items/{id}` (gone in 10.11). Writing a user's resume point uses
`POST /UserItems/{id}/UserData?userId=…` (10.9+; 10.8 has no user-data write and answers 404,
which the caller reports). The library sync's listings, libraries and played marks are here too
(library.py says what it asks for and why), and the ratings and collections of titles.py.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import requests

import bridge
from bridge.adapters.base import remember
from bridge.adapters.jellyfin.map import norm_id
from bridge.wire import is_count

log = logging.getLogger("bridge.adapters.jellyfin")

ITEM_FIELDS = "ProviderIds,ParentId,DateCreated"
# A user we do not know (the configured one, or one created since) is looked up at most this often.
USER_RETRY = 60.0

_T = TypeVar("_T")


def _cached(memory: dict[str, _T], key: str, fetch: Callable[[], _T]) -> _T:
    try:
        return memory[key]  # one read, not "check then read": another thread may evict the key in between
    except KeyError:
        found = fetch()
        remember(memory, key, found)
        return found


class JellyfinError(Exception):
    """A failed request: network, HTTP status or a reply that is not what the API documents."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the reply's HTTP status; None when the server gave no reply


class JellyfinApi:
    def __init__(self, url: str, api_key: str, device_id: str, timeout: float = 10.0):
        self.base = url.rstrip("/")
        self.device_id = device_id
        self.timeout = timeout
        self.auth = (f'MediaBrowser Client="simkl-bridge", Device="simkl-bridge", DeviceId="{device_id}", '
                     f'Version="{bridge.__version__}", Token="{api_key}"')
        self.http = requests.Session()
        self.http.headers.update({"Authorization": self.auth, "Accept": "application/json"})
        self._series: dict[str, dict[str, Any] | None] = {}
        self._libraries: dict[str, str] = {}

    # -- transport ------------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params, None)

    def post(self, path: str, body: dict[str, Any], **params: Any) -> Any:
        return self._request("POST", path, params, body)

    def _request(self, method: str, path: str, params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        try:
            reply = self.http.request(method, self.base + path, params=params, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise JellyfinError(f"{method} {path}: {type(exc).__name__}") from None
        status = reply.status_code
        if status in (401, 403):
            raise JellyfinError(f"{method} {path}: {status}: the API key was refused", status)
        if status >= 300:
            raise JellyfinError(f"{method} {path}: HTTP {status}", status)
        if not reply.content:
            return None
        try:
            return reply.json()
        except ValueError:
            raise JellyfinError(f"{method} {path}: the reply is not JSON", status) from None

    def socket_url(self) -> str:
        parts = urlsplit(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path + "/socket", f"deviceId={self.device_id}", ""))

    # -- calls ----------------------------------------------------------------------------------

    def version(self) -> tuple[int, ...] | None:
        """The server's version from `/System/Info/Public` (no token needed); None when unknown: a proxy
        may not pass it on, and the socket then tells whether the server is there."""
        try:
            reply = self.get("/System/Info/Public")
        except JellyfinError as exc:
            log.debug("GET /System/Info/Public: %s", exc)
            return None
        found = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", str(reply.get("Version") or "")) if isinstance(reply, dict) else None
        return tuple(int(part) for part in found.groups() if part is not None) if found else None

    def sessions(self) -> list[dict[str, Any]]:
        reply = self.get("/Sessions")
        if not isinstance(reply, list):
            raise JellyfinError("GET /Sessions: expected a list")
        return reply

    def users(self) -> list[dict[str, Any]]:
        reply = self.get("/Users")
        if not isinstance(reply, list):
            raise JellyfinError("GET /Users: expected a list")
        return [u for u in reply if isinstance(u, dict)]

    def item(self, item_id: str, user_id: str | None = None) -> dict[str, Any] | None:
        wanted = norm_id(item_id)
        if not wanted:
            return None
        params = {"Ids": item_id, "Fields": ITEM_FIELDS, **({"userId": user_id} if user_id else {})}
        # Jellyfin ignores an Ids filter it cannot use and lists other items: only the asked one counts.
        items = [i for i in self._items(self.get("/Items", **params), "GET /Items") if norm_id(i.get("Id")) == wanted]
        return items[0] if items else None

    def series(self, series_id: str) -> dict[str, Any] | None:
        """The series' BaseItemDto (its ProviderIds are the show's ids), cached: they rarely change.
        A series not found is remembered too, or every session update of its episode would ask again."""
        return _cached(self._series, norm_id(series_id), lambda: self.item(series_id))

    def library(self, item_id: str, user_id: str) -> str:
        """The name of the library (CollectionFolder) an item lives in, as `user_id` (who can see the
        item) is shown it; '' when it has none."""
        return _cached(self._libraries, norm_id(item_id), lambda: self._library(item_id, user_id))

    def _library(self, item_id: str, user_id: str) -> str:
        path = f"/Items/{_segment(item_id)}/Ancestors"
        # Without a user the chain is the physical one (folders, the AggregateFolder): only for a user
        # does the server put the library's CollectionFolder in place of its top folder
        # (LibraryController.GetAncestors -> TranslateParentItem, 10.8 to 10.11).
        ancestors = self.get(path, userId=user_id)
        if not isinstance(ancestors, list):
            raise JellyfinError(f"GET {path}: expected a list")
        names = [a.get("Name") for a in ancestors if isinstance(a, dict) and a.get("Type") == "CollectionFolder"]
        return str(names[0]) if names and names[0] else ""

    def library_items(self, user_id: str, item_type: str) -> list[dict[str, Any]]:
        """Every movie or series of the library with its ids and the user's UserData."""
        reply = self.get("/Items", userId=user_id, Recursive="true", IncludeItemTypes=item_type,
                         Fields=ITEM_FIELDS, EnableUserData="true")
        return self._items(reply, "GET /Items")

    def episodes(self, series_id: str, season: int, user_id: str) -> list[dict[str, Any]]:
        path = f"/Shows/{_segment(series_id)}/Episodes"
        reply = self.get(path, userId=user_id, season=season, Fields=ITEM_FIELDS, EnableUserData="true")
        return self._items(reply, f"GET {path}")

    def query_items(self, **params: Any) -> tuple[list[dict[str, Any]], int | None]:
        """One GET /Items page: its items, and its TotalRecordCount when the reply has a count."""
        reply = self.get("/Items", **params)
        total = reply.get("TotalRecordCount") if isinstance(reply, dict) else None
        return self._items(reply, "GET /Items"), total if is_count(total) else None

    def media_folders(self) -> list[dict[str, Any]]:
        """Every library (CollectionFolder) of the server, whoever may see it."""
        return self._items(self.get("/Library/MediaFolders"), "GET /Library/MediaFolders")

    def set_played(self, item_id: str, user_id: str, played: bool, date: str | None, legacy: bool) -> None:
        """Mark an item played (as of `date`; None: the server picks) or unplayed for a user.
        PlaystateController: `/UserPlayedItems/{id}?userId=` from 10.9; `/Users/{userId}/PlayedItems/{id}`
        on 10.8, which 10.9 to 10.11 keep as an obsolete twin (`legacy`: the version is older or unknown)."""
        path = (f"/Users/{_segment(user_id)}/PlayedItems/{_segment(item_id)}" if legacy
                else f"/UserPlayedItems/{_segment(item_id)}")
        params = ({} if legacy else {"userId": user_id}) | ({"datePlayed": date} if date and played else {})
        self._request("POST" if played else "DELETE", path, params, None)

    def set_rating(self, item_id: str, user_id: str, rating: int | None, legacy: bool) -> None:
        """Set a user's rating of an item (UserItemData.Rating, 0-10) or clear it (None). Only
        `POST /UserItems/{id}/UserData` (10.9+) takes a value: the `Rating` routes of
        UserLibraryController take a like (10) or dislike (1), and a DELETE clears it, on
        `/UserItems/{id}/Rating?userId=` from 10.9 or `/Users/{userId}/Items/{id}/Rating` (10.8, and
        its obsolete twin after: `legacy`)."""
        if rating is not None:
            self.post(f"/UserItems/{_segment(item_id)}/UserData", {"Rating": rating}, userId=user_id)
        elif legacy:
            self._request("DELETE", f"/Users/{_segment(user_id)}/Items/{_segment(item_id)}/Rating", {}, None)
        else:
            self._request("DELETE", f"/UserItems/{_segment(item_id)}/Rating", {"userId": user_id}, None)

    def create_collection(self, name: str) -> str:
        """A new, empty collection (BoxSet); its Id (CollectionController.CreateCollection)."""
        reply = self._request("POST", "/Collections", {"name": name}, None)
        made = norm_id(reply.get("Id")) if isinstance(reply, dict) else ""
        if not made:
            raise JellyfinError("POST /Collections: the reply names no collection Id")
        return made

    def collection_items(self, collection_id: str, item_ids: list[str], add: bool) -> None:
        """Add items to a collection, or take them off (by the items' own Ids)."""
        self._request("POST" if add else "DELETE", f"/Collections/{_segment(collection_id)}/Items",
                      {"ids": ",".join(item_ids)}, None)

    def set_resume(self, item_id: str, user_id: str, ticks: int, last_played: str) -> None:
        self.post(f"/UserItems/{_segment(item_id)}/UserData", {"PlaybackPositionTicks": ticks, "LastPlayedDate": last_played},
                  userId=user_id)

    @staticmethod
    def _items(reply: Any, what: str) -> list[dict[str, Any]]:
        items = reply.get("Items") if isinstance(reply, dict) else None
        if not isinstance(items, list):
            raise JellyfinError(f"{what}: expected an object with Items")
        return [i for i in items if isinstance(i, dict)]


def _segment(item_id: str) -> str:
    """An id from a message or a webhook body as one path segment: never a way to another endpoint."""
    return quote(item_id, safe="")


class Users:
    """The server's users: names by id, the configured user's id and an administrator's. The list is
    fetched again when the configured user is not in it, at most every USER_RETRY seconds."""

    def __init__(self, api: JellyfinApi, configured: str | None, label: str):
        self.api = api
        self.configured = configured  # the server's `user:` setting: a name or an id; None = everyone
        self.label = label
        self.names: dict[str, str] = {}  # user id -> name
        self.configured_id: str | None = None
        self.admin_id: str | None = None  # an administrator: sees every library
        self._fetched_at = float("-inf")  # time.monotonic
        self._missing = False  # the configured user was not found (said once, not at every fetch)

    def refresh(self) -> None:
        try:
            users = self.api.users()
        finally:
            self._fetched_at = time.monotonic()  # after: a fetch under way elsewhere is no answer yet
        self.names = {norm_id(u.get("Id")): str(u.get("Name") or "") for u in users}
        admins = [norm_id(u.get("Id")) for u in users
                  if isinstance(u.get("Policy"), dict) and u["Policy"].get("IsAdministrator") is True]
        self.admin_id = admins[0] if admins else None
        if self.configured is not None:
            wanted, wanted_id = self.configured.casefold(), norm_id(self.configured)
            match = [uid for uid, name in self.names.items() if name.casefold() == wanted or uid == wanted_id]
            if not match and not self._missing:
                log.warning("%s: user %r is not a user of this server; nothing will be sent", self.label,
                            self.configured)
            self._missing = not match
            self.configured_id = match[0] if match else None

    def ensure(self) -> None:
        """Webhooks and resume pushes may come before (or without) a socket that fetched the list."""
        if self.configured is not None and not self.configured_id:
            self._fetch()

    def _fetch(self) -> None:
        if time.monotonic() - self._fetched_at >= USER_RETRY:
            try:
                self.refresh()
            except JellyfinError as exc:
                log.warning("%s: could not look up the server's users: %s", self.label, exc)

    def wanted(self, name: Any, uid: Any) -> bool:
        """Whether a play by this user (name or id) is followed: everyone's when no user is configured."""
        if self.configured is None or (isinstance(name, str) and name.casefold() == self.configured.casefold()):
            return True
        self.ensure()  # the configured user may be given by id
        return self.configured_id is not None and norm_id(uid) == self.configured_id

    def viewer(self, uid: Any) -> str | None:
        """Whom to ask about an item's library: the user who played it, else the configured user or an
        administrator (a webhook may name no user)."""
        if norm_id(uid):
            return norm_id(uid)
        if self.configured_id is None and self.admin_id is None:
            self._fetch()
        return self.configured_id or self.admin_id
