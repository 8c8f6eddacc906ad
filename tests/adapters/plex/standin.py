"""A Plex Media Server stand-in on 127.0.0.1, its shapes taken from code that reads real servers:
python-plexapi 4.18 (plexapi/server.py, plexapi/base.py, plexapi/video.py and its tests) and Tautulli
(plexpy/pmsconnect.py, plexpy/activity_handler.py).

It answers in XML as Plex does: `GET /` (the server's identity: `myPlexUsername` is the plex.tv
account's e-mail address, "Email address if signed into myPlex (user@example.com)" in plexapi's
PlexServer, which its test_server.py checks against an e-mail pattern), `/accounts` (the server's
accounts, plexapi's SystemAccount: the owner is account 1, as in `/status/sessions`, where
Tautulli's get_current_activity takes `User id="1"` for the admin and finds every other user by
id), `/library/metadata/{key}` with the library's `librarySectionID`/`librarySectionTitle` on the
MediaContainer and not on the item (where Tautulli's get_metadata_details reads them; plexapi's
fetchItems copies the container's librarySectionID onto items that lack it), its `/children` and
`/allLeaves`, `/library/sections` and their `all`, `/status/sessions` (each item with its library,
as Tautulli's get_session_each reads it), `/:/progress`; and the notifications websocket
`/:/websockets/notifications`, which pushes `{"NotificationContainer": {"type": "playing", ...}}`
in the states Tautulli's ActivityHandler tells apart: playing, paused, buffering, stopped, error.
Every request must carry the token (header or `X-Plex-Token` query), as on a real server. An item
added with `file=` has a `<Media><Part file=…>`, as Plex lists every episode of an `S01E01-E02` file
with the same part; a path in `failing` answers 500, one in `refusing` 401.

The library as the sync reads it (python-plexapi 4.18, plexapi/library.py and plexapi/base.py):
`/library/sections/{key}/all` of one `type` (utils.SEARCHTYPES: 1 movie, 2 show, 4 episode; the
section's own without one, as `LibrarySection.all` defaults to its TYPE), its `Guid`s only with
`includeGuids=1`, paged by `X-Plex-Container-Start`/`-Size` as headers (base.fetchItems) or query
arguments (LibrarySection.totalViewSize): the container's `size` is the page's, `totalSize` the
whole listing's, `offset` the start (tests/test_fetch_items.py), and a start past the end is an
empty page (tests/test_library.py: container_start=9999); `/library/metadata/<k1,k2,…>` (several
items at once, as fetchItems reads a list of keys), the items found; `viewCount` and `lastViewedAt`
(absent on an unplayed item: video.py reads viewCount with a default of 0) are the token's user's,
the owner's. `/:/scrobble` and `/:/unscrobble` with `key` and `identifier=com.plexapp.plugins.library`
(mixins/played_unplayed.py markPlayed/markUnplayed) set viewCount to 1 and 0 (tests/test_video.py
test_video_movie_watched); a scrobble stamps lastViewedAt with the server's clock and, since PMS
1.40.0.7998 (the version this stand-in reports), makes no history row (python-plexapi PR #1366 and
tests/test_history.py: markPlayed leaves history() empty). `/status/sessions/history/all`
(server.history: `sort=viewedAt:desc`, `accountID`, `metadataItemID`, `librarySectionID`,
`viewedAt>`; base.PlexHistory: each row's `historyKey`, `viewedAt`, `accountID`, `deviceID`) holds the
real plays of every account, paged the same way.

Ratings and collections (python-plexapi 4.18): `PUT /:/rate?key=&identifier=com.plexapp.plugins.library&rating=`
(mixins/rating.py RatingMixin.rate) sets the token user's `userRating`, a float 0-10 (video.py: "0.0 - 10.0
equaling 0 stars - 5 stars"), and stamps `lastRatedAt`; `rating=-1` clears it (tests/test_mixins.py
edit_rating: rate(10.0) then rate() leaves userRating None); other values are refused (plexapi refuses
them before asking; what the server does with them is not shown, so the stand-in answers 400). A
collection (collection.py): `POST /library/collections?uri=server://<machineIdentifier>/com.plexapp.plugins.library/library/metadata/<keys>&type=&title=&smart=0&sectionId=`
(Collection._create; made with items only, of one type) answers the new `<Directory type="collection">`;
`PUT /library/collections/<key>/items?uri=…` (addItems) adds, `DELETE /library/collections/<key>/items/<item>`
(removeItems) removes; its items are `/library/collections/<key>/children`; a section lists its
collections as `all?type=18` (LibrarySection.collections searches libtype collection, utils.SEARCHTYPES
18; tests/test_collection.py: `collection in tvshows.collections()`, attributes in test_Collection_attrs:
key /library/collections/…, subtype, smart 0, childCount, guid collection://…). An item of another
type than the collection's is refused (plexapi: "Can not mix media types"); whether a regular
collection outlives its last item is not shown (plexapi's Collection._create makes none without items):
the stand-in drops it, the case that asks more of a client.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from tests.standin import Req, StandIn, WsConn

TOKEN = "plex-token-abcdef"
MACHINE_ID = "0123456789abcdef0123456789abcdef01234567"
OWNER_EMAIL = "alice@example.com"


# plexapi utils.SEARCHTYPES, and what each section type lists.
SEARCH_TYPES = {"1": "movie", "2": "show", "3": "season", "4": "episode"}
COLLECTION_TYPE = "18"
LIBRARY_ID = "com.plexapp.plugins.library"
LISTED = {"movie": ("movie",), "show": ("show", "season", "episode")}
# What a history row says of its item besides its own attributes (plexapi video.py EpisodeHistory
# loads the Episode's: its title, show and numbers).
HISTORY_ITEM = ("ratingKey", "key", "type", "title", "grandparentTitle", "grandparentRatingKey", "parentIndex", "index")


@dataclass
class Session:
    rating_key: str
    user: str
    user_id: int
    state: str
    offset: int  # ms


class PlexStandIn(StandIn):
    def __init__(self, owner: str = "alice", machine_id: str = MACHINE_ID, owner_email: str = OWNER_EMAIL) -> None:
        super().__init__()
        self.owner, self.owner_email = owner, owner_email
        self.accounts = {1: owner, 2: "bob", 7: "carol"}  # account id -> user name; 1 is the owner
        self.machine_id = machine_id
        self.items: dict[str, dict[str, Any]] = {}  # ratingKey -> attributes (+ "Guid": [ids])
        self.sections = {"1": ("movie", "Movies"), "2": ("show", "TV Shows"), "3": ("movie", "Home Videos"),
                         "4": ("show", "Anime")}
        self.section_of: dict[str, str] = {}  # ratingKey -> section key
        self.sessions: dict[str, Session] = {}
        self.progress: list[dict[str, str]] = []
        self.failing: set[str] = set()  # request paths answered with 500
        self.refusing: set[str] = set()  # request paths answered with 401 (a token not allowed there)
        self.history: list[dict[str, Any]] = []  # the server's play history, oldest first
        self.clock = time.time  # the server's clock: a scrobble stamps lastViewedAt with it
        self.listed_while_connected = threading.Event()  # /status/sessions answered with a socket open
        self.collections: dict[str, dict[str, Any]] = {}  # ratingKey -> title, section, subtype, items
        self.route("GET", r"/", self._identity)
        self.route("GET", r"/accounts", self._accounts)
        self.route("GET", r"/library/metadata/(\d+)", self._metadata)
        self.route("GET", r"/library/metadata/(\d+(?:,\d+)+)", self._metadata_many)
        self.route("GET", r"/library/metadata/(\d+)/allLeaves", self._leaves)
        self.route("GET", r"/library/metadata/(\d+)/children", self._children)
        self.route("GET", r"/library", lambda req: self._guarded(req, lambda: self._xml(ET.Element("MediaContainer", {
            "size": "0", "identifier": "com.plexapp.plugins.library", "title1": "Plex Library"}))))
        self.route("GET", r"/library/sections", self._sections)
        self.route("GET", r"/library/sections/(\d+)/all", self._section_all)
        self.route("GET", r"/status/sessions", self._sessions)
        self.route("GET", r"/:/progress", self._set_progress)
        self.route("GET", r"/:/scrobble", lambda req: self._mark(req, True))
        self.route("GET", r"/:/unscrobble", lambda req: self._mark(req, False))
        self.route("GET", r"/status/sessions/history/all", self._history)
        self.route("PUT", r"/:/rate", self._rate)
        self.route("POST", r"/library/collections", self._create_collection)
        self.route("GET", r"/library/collections/(\d+)/children", self._collection_children)
        self.route("PUT", r"/library/collections/(\d+)/items", self._collection_add)
        self.route("DELETE", r"/library/collections/(\d+)/items/(\d+)", self._collection_remove)
        self.websocket("/:/websockets/notifications", self._ws_open)

    def _handler_class(self) -> Any:
        handler = super()._handler_class()
        # Replies go out as separate header and body writes; on a kept-alive connection (plexapi
        # reuses one) Nagle's algorithm then waits for a delayed ACK: ~40 ms per request.
        handler.disable_nagle_algorithm = True
        return handler

    # -- the library ----------------------------------------------------------------------------

    def add(self, rating_key: str, type: str, title: str, section: str, guid: str, guids: tuple[str, ...] = (),
            file: str | None = None, **attrs: Any) -> None:
        if file is not None:  # one part per distinct file, as Plex numbers them
            parts = {i["Media"][0]["Part"][0]["file"]: i["Media"][0]["Part"][0]["id"] for i in self.items.values() if "Media" in i}
            part = parts.get(file, str(1000 + len(parts)))
            attrs["Media"] = [{"id": str(2000 + len(self.items)), "duration": attrs.get("duration"), "Part": [
                {"id": part, "key": f"/library/parts/{part}/1700000000/file.mkv", "file": file}]}]
        self.items[rating_key] = {"ratingKey": rating_key, "key": f"/library/metadata/{rating_key}", "type": type,
                                  "title": title, "guid": guid, "Guid": list(guids), **attrs}
        self.section_of[rating_key] = section

    def view(self, rating_key: str, at: int, account: int = 1) -> None:
        """A play of the item past Plex's watched mark by `account`, at `at`: a history row; for the
        owner (account 1, the token's user) the item's viewCount and lastViewedAt too."""
        item = self.items[rating_key]
        self.history.append({"ratingKey": rating_key, "accountID": account, "viewedAt": at, "deviceID": 1,
                             "historyKey": f"/status/sessions/history/{len(self.history) + 1}"})
        if account == 1:
            item["viewCount"] = int(item.get("viewCount") or 0) + 1
            item["lastViewedAt"] = max(at, int(item.get("lastViewedAt") or 0))

    # -- playback -------------------------------------------------------------------------------

    def play(self, session: str, rating_key: str, state: str = "playing", offset: int = 0,
             user: str = "alice", user_id: int = 1, alert: bool = True) -> None:
        """A client plays: the session is listed in /status/sessions and (alert=True) announced."""
        self.sessions[session] = Session(rating_key, user, user_id, state, offset)
        if alert:
            self.alert(session, state, offset)

    def alert(self, session: str, state: str, offset: int) -> None:
        s = self.sessions[session]
        s.state, s.offset = state, offset
        if state == "stopped":
            del self.sessions[session]
        self.broadcast({"NotificationContainer": {"type": "playing", "size": 1, "PlaySessionStateNotification": [
            {"sessionKey": session, "clientIdentifier": "client-1", "guid": "", "ratingKey": s.rating_key, "url": "",
             "key": f"/library/metadata/{s.rating_key}", "viewOffset": offset, "playQueueItemID": 1, "state": state}]}})

    def wait_connected(self, n: int = 1, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.connected() < n:
            if time.monotonic() > deadline:
                raise AssertionError("the adapter did not connect to the Plex stand-in")
            time.sleep(0.02)

    # -- handlers -------------------------------------------------------------------------------

    def _authorized(self, req: Req) -> bool:
        return (req.headers.get("x-plex-token") or req.query.get("X-Plex-Token")) == TOKEN

    def _xml(self, container: ET.Element) -> tuple[int, str]:
        return 200, ET.tostring(container, encoding="unicode")

    def _guarded(self, req: Req, build: Any) -> tuple:
        if not self._authorized(req):
            return 401, "<html><head><title>Unauthorized</title></head></html>"
        if req.path in self.failing:
            return 500, "<html><head><title>Internal Server Error</title></head></html>"
        if req.path in self.refusing:
            return 401, "<html><head><title>Unauthorized</title></head></html>"
        return build()

    def _identity(self, req: Req) -> tuple:
        return self._guarded(req, lambda: self._xml(ET.Element("MediaContainer", {
            "size": "0", "friendlyName": "standin", "machineIdentifier": self.machine_id, "version": "1.40.0.7998",
            "platform": "Linux", "myPlex": "1", "myPlexSigninState": "ok", "myPlexMappingState": "mapped",
            "myPlexUsername": self.owner_email, "multiuser": "1"})))

    def _accounts(self, req: Req) -> tuple:
        root = ET.Element("MediaContainer", {"size": str(len(self.accounts)), "identifier": "com.plexapp.system.accounts"})
        for account_id, name in self.accounts.items():
            ET.SubElement(root, "Account", {"id": str(account_id), "key": f"/accounts/{account_id}", "name": name,
                                            "defaultAudioLanguage": "en", "autoSelectAudio": "1",
                                            "defaultSubtitleLanguage": "en", "subtitleMode": "0", "thumb": ""})
        return self._guarded(req, lambda: self._xml(root))

    def library(self, rating_key: str) -> dict[str, str]:
        """The library attributes of an item's section, as containers and session items carry them."""
        section = self.section_of[rating_key]
        return {"librarySectionID": section, "librarySectionTitle": self.sections[section][1],
                "librarySectionKey": f"/library/sections/{section}"}

    def _element(self, attrs: dict[str, Any]) -> ET.Element:
        tag = "Directory" if attrs["type"] in ("show", "season") else "Video"
        element = ET.Element(tag, {k: str(v) for k, v in attrs.items() if k not in ("Guid", "Media") and v is not None})
        for media in attrs.get("Media") or ():
            node = ET.SubElement(element, "Media", {k: str(v) for k, v in media.items() if k != "Part" and v is not None})
            for part in media["Part"]:
                ET.SubElement(node, "Part", part)
        for gid in attrs.get("Guid") or ():
            ET.SubElement(element, "Guid", {"id": gid})
        return element

    def _container(self, items: list[dict[str, Any]], **attrs: str) -> tuple[int, str]:
        root = ET.Element("MediaContainer", {"size": str(len(items)), **attrs})
        for item in items:
            root.append(self._element(item))
        return self._xml(root)

    def _metadata(self, req: Req) -> tuple:
        item = self.items.get(req.match.group(1))
        if item is None:
            return self._guarded(req, lambda: (404, "<html><title>Not Found</title></html>"))
        library = self.library(item["ratingKey"])
        return self._guarded(req, lambda: self._container([item], identifier="com.plexapp.plugins.library",
                                                          librarySectionID=library["librarySectionID"],
                                                          librarySectionTitle=library["librarySectionTitle"],
                                                          librarySectionUUID=f"uuid-{library['librarySectionID']}"))

    def _leaves(self, req: Req) -> tuple:
        show = req.match.group(1)
        return self._guarded(req, lambda: self._container(
            [i for i in self.items.values() if i.get("grandparentRatingKey") == show]))

    def _children(self, req: Req) -> tuple:
        season = req.match.group(1)
        episodes = sorted((i for i in self.items.values() if i.get("parentRatingKey") == season), key=lambda i: i["index"])
        return self._guarded(req, lambda: self._container(episodes, key=season))

    def _sections(self, req: Req) -> tuple:
        root = ET.Element("MediaContainer", {"size": str(len(self.sections))})
        for key, (kind, title) in self.sections.items():
            ET.SubElement(root, "Directory", {"key": key, "type": kind, "title": title, "agent": "tv.plex.agents.movie"})
        return self._guarded(req, lambda: self._xml(root))

    def _section_all(self, req: Req) -> tuple:
        key = req.match.group(1)
        if req.query.get("type") == COLLECTION_TYPE:
            page, paging = self._page(req, [self._collection(k) for k, c in self.collections.items() if c["section"] == key])
            root = ET.Element("MediaContainer", {"size": str(len(page)), "librarySectionID": key, **paging})
            for attrs in page:
                ET.SubElement(root, "Directory", attrs)
            return self._guarded(req, lambda: self._xml(root))
        kind = self.sections.get(key, ("", ""))[0]
        wanted = SEARCH_TYPES.get(req.query.get("type", ""), kind)
        items = [i for i in self.items.values() if self.section_of[i["ratingKey"]] == key and i["type"] == wanted
                 and wanted in LISTED.get(kind, ())]
        if req.query.get("includeGuids") != "1":
            items = [{k: v for k, v in i.items() if k != "Guid"} for i in items]
        page, paging = self._page(req, items)
        return self._guarded(req, lambda: self._container(page, librarySectionID=key, **paging))

    def _page(self, req: Req, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The page X-Plex-Container-Start/-Size ask for (headers or query arguments), and the
        container attributes that describe it; everything when neither is given."""
        start = req.headers.get("x-plex-container-start", req.query.get("X-Plex-Container-Start"))
        size = req.headers.get("x-plex-container-size", req.query.get("X-Plex-Container-Size"))
        if start is None and size is None:
            return items, {}
        first = int(start or 0)
        count = int(size) if size is not None else len(items)
        return items[first:first + count], {"totalSize": str(len(items)), "offset": str(first)}

    def _metadata_many(self, req: Req) -> tuple:
        found = [self.items[k] for k in req.match.group(1).split(",") if k in self.items]
        if not found:
            return self._guarded(req, lambda: (404, "<html><title>Not Found</title></html>"))
        return self._guarded(req, lambda: self._container(found, identifier="com.plexapp.plugins.library"))

    def _mark(self, req: Req, played: bool) -> tuple:
        def apply() -> tuple:
            item = self.items.get(req.query.get("key", ""))
            if req.query.get("identifier") != "com.plexapp.plugins.library":
                return 400, "<html><head><title>Bad Request</title></head></html>"
            if item is None:
                return 404, "<html><title>Not Found</title></html>"
            if played:
                # Whether a scrobble of a played item adds a view is not shown by plexapi's tests: one more.
                item["viewCount"] = int(item.get("viewCount") or 0) + 1
                item["lastViewedAt"] = int(self.clock())
            else:
                item.pop("viewCount", None)
                item.pop("lastViewedAt", None)
            return 200, b""
        return self._guarded(req, apply)

    def _history(self, req: Req) -> tuple:
        q = req.query
        rows = [r for r in self.history
                if all(q.get(name) in (None, str(value)) for name, value in
                       (("accountID", r["accountID"]), ("metadataItemID", r["ratingKey"]),
                        ("librarySectionID", self.section_of[r["ratingKey"]])))
                and r["viewedAt"] > int(q.get("viewedAt>", -1))]
        if q.get("sort") == "viewedAt:desc":
            rows = sorted(rows, key=lambda r: r["viewedAt"], reverse=True)
        shown = []
        for row in rows:
            item = self.items.get(row["ratingKey"], {})
            shown.append({k: item[k] for k in HISTORY_ITEM if k in item} | {"librarySectionID": self.section_of[row["ratingKey"]]}
                         | {k: v for k, v in row.items()})
        page, paging = self._page(req, shown)
        return self._guarded(req, lambda: self._container(page, **paging))

    def _sessions(self, req: Req) -> tuple:
        root = ET.Element("MediaContainer", {"size": str(len(self.sessions))})
        for key, s in self.sessions.items():
            video = self._element({**self.items[s.rating_key], **self.library(s.rating_key), "sessionKey": key,
                                   "viewOffset": s.offset})
            ET.SubElement(video, "User", {"id": str(s.user_id), "title": s.user, "thumb": ""})
            ET.SubElement(video, "Player", {"machineIdentifier": "client-1", "state": s.state, "title": "Stand-in TV"})
            ET.SubElement(video, "Session", {"id": f"session-{key}", "bandwidth": "10000", "location": "lan"})
            root.append(video)
        reply = self._guarded(req, lambda: self._xml(root))
        if reply[0] == 200 and self.connected():
            self.listed_while_connected.set()
        return reply

    def _set_progress(self, req: Req) -> tuple:
        def apply() -> tuple:
            self.progress.append(dict(req.query))
            item = self.items[req.query["key"]]
            item["viewOffset"] = int(req.query["time"])
            item["lastViewedAt"] = int(time.time())
            return 200, b""
        return self._guarded(req, apply)

    def _ws_open(self, conn: WsConn) -> None:
        if not self._authorized(conn.req):
            conn.close()

    # -- ratings and collections ----------------------------------------------------------------

    def _rate(self, req: Req) -> tuple:
        def apply() -> tuple:
            item = self.items.get(req.query.get("key", ""))
            try:
                rating = float(req.query.get("rating", ""))
            except ValueError:
                rating = -2.0
            if req.query.get("identifier") != LIBRARY_ID or not (rating == -1 or 0 <= rating <= 10):
                return 400, "<html><head><title>Bad Request</title></head></html>"
            if item is None:
                return 404, "<html><title>Not Found</title></html>"
            if rating == -1:
                item.pop("userRating", None)
                item.pop("lastRatedAt", None)
            else:
                item["userRating"], item["lastRatedAt"] = rating, int(self.clock())
            return 200, b""
        return self._guarded(req, apply)

    def _uri_keys(self, req: Req) -> list[str] | None:
        """The ratingKeys a `uri` names, when it names this server's library (plexapi server._uriRoot)."""
        prefix = f"server://{self.machine_id}/{LIBRARY_ID}/library/metadata/"
        uri = req.query.get("uri", "")
        keys = uri[len(prefix):].split(",") if uri.startswith(prefix) else []
        return keys if keys and all(k in self.items for k in keys) else None

    def _collection(self, key: str) -> dict[str, str]:
        c = self.collections[key]
        return {"ratingKey": key, "key": f"/library/collections/{key}/children", "guid": f"collection://uuid-{key}",
                "type": "collection", "title": c["title"], "subtype": c["subtype"], "smart": "0",
                "childCount": str(len(c["items"])), "librarySectionID": c["section"],
                "librarySectionTitle": self.sections[c["section"]][1], "librarySectionKey": f"/library/sections/{c['section']}"}

    def _create_collection(self, req: Req) -> tuple:
        def apply() -> tuple:
            q, keys = req.query, self._uri_keys(req)
            subtype = SEARCH_TYPES.get(q.get("type", ""))
            if (keys is None or q.get("smart") != "0" or not q.get("title") or q.get("sectionId") not in self.sections
                    or any(self.items[k]["type"] != subtype or self.section_of[k] != q["sectionId"] for k in keys)):
                return 400, "<html><head><title>Bad Request</title></head></html>"
            key = str(max((int(k) for k in [*self.items, *self.collections]), default=0) + 1000)
            self.collections[key] = {"title": q["title"], "section": q["sectionId"], "subtype": subtype, "items": keys}
            root = ET.Element("MediaContainer", {"size": "1"})
            ET.SubElement(root, "Directory", self._collection(key))
            return self._xml(root)
        return self._guarded(req, apply)

    def _collection_children(self, req: Req) -> tuple:
        collection = self.collections.get(req.match.group(1))
        if collection is None:
            return self._guarded(req, lambda: (404, "<html><title>Not Found</title></html>"))
        page, paging = self._page(req, [self.items[k] for k in collection["items"] if k in self.items])
        return self._guarded(req, lambda: self._container(page, **paging))

    def _collection_add(self, req: Req) -> tuple:
        def apply() -> tuple:
            collection, keys = self.collections.get(req.match.group(1)), self._uri_keys(req)
            if collection is None:
                return 404, "<html><title>Not Found</title></html>"
            if keys is None or any(self.items[k]["type"] != collection["subtype"] for k in keys):
                return 400, "<html><head><title>Bad Request</title></head></html>"
            collection["items"] += [k for k in keys if k not in collection["items"]]
            return self._container([])
        return self._guarded(req, apply)

    def _collection_remove(self, req: Req) -> tuple:
        def apply() -> tuple:
            key, item = req.match.group(1), req.match.group(2)
            collection = self.collections.get(key)
            if collection is None or item not in collection["items"]:
                return 404, "<html><title>Not Found</title></html>"
            collection["items"].remove(item)
            if not collection["items"]:
                del self.collections[key]
            return 200, b""
        return self._guarded(req, apply)
