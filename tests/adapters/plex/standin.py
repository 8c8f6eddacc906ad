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
with the same part; a path in `failing` answers 500.
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
        self.listed_while_connected = threading.Event()  # /status/sessions answered with a socket open
        self.route("GET", r"/", self._identity)
        self.route("GET", r"/accounts", self._accounts)
        self.route("GET", r"/library/metadata/(\d+)", self._metadata)
        self.route("GET", r"/library/metadata/(\d+)/allLeaves", self._leaves)
        self.route("GET", r"/library/metadata/(\d+)/children", self._children)
        self.route("GET", r"/library/sections", self._sections)
        self.route("GET", r"/library/sections/(\d+)/all", self._section_all)
        self.route("GET", r"/status/sessions", self._sessions)
        self.route("GET", r"/:/progress", self._set_progress)
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
        kind = self.sections.get(key, ("", ""))[0]
        items = [i for i in self.items.values() if self.section_of[i["ratingKey"]] == key and i["type"] == kind]
        if req.query.get("includeGuids") != "1":
            items = [{k: v for k, v in i.items() if k != "Guid"} for i in items]
        return self._guarded(req, lambda: self._container(items, librarySectionID=key))

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
