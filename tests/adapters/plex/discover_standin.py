"""A stand-in for plex.tv's Discover and metadata providers on 127.0.0.1 (plex.tv cannot be reached
from the test machines), following the requests python-plexapi 4.18 makes (plexapi/myplex.py):

- `GET /library/sections/watchlist/all` (MyPlexAccount.watchlist, with `includeCollections=1` and
  `includeExternalMedia=1`; `filter` is the last path part, `all` unless asked), paged by the
  X-Plex-Container-Start/-Size headers base.fetchItems sends; the container's `size` is the page's
  and `totalSize` the whole list's, as on the server. Its items are plex.tv's: `<Video type="movie">`
  and `<Directory type="show">` whose `guid` is `plex://movie/<id>` and whose `ratingKey` is that
  `<id>`, with no `Guid` list (the shape croneter/PlexKodiConnect PR #2041 shows of a real reply:
  `librarySectionID="watchlist"`, `identifier="tv.plex.provider.metadata"`).
- `GET /library/metadata/<id>` (the metadata provider plexapi's `_toOnlineMetadata` reloads an online
  item from, for what the listing lacks): the item with its `Guid` ids (imdb://, tmdb://, tvdb://).
- `PUT /actions/addToWatchlist?ratingKey=<id>` and `/actions/removeFromWatchlist` (MyPlexAccount
  addToWatchlist/removeFromWatchlist; the id is the last part of the guid). plexapi checks the
  item's userState first and refuses an item already on (or not on) the list itself, so what plex.tv
  answers then is not shown: the stand-in keeps one entry and answers 200.
Every request needs the account's token (`X-Plex-Token`, header or query), else 401.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from tests.adapters.plex.standin import TOKEN
from tests.standin import Req, StandIn


class DiscoverStandIn(StandIn):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.catalog: dict[str, dict[str, Any]] = {}  # plex.tv ratingKey -> type, title, year, Guid ids
        self.watchlist: list[str] = []  # ratingKeys, in the order they were added
        self.route("GET", r"/library/sections/watchlist/(all|available|released)", self._watchlist)
        self.route("GET", r"/library/metadata/([0-9a-f]+)", self._metadata)
        self.route("PUT", r"/actions/(addToWatchlist|removeFromWatchlist)", self._action)

    def add(self, key: str, type: str, title: str, year: int, guids: tuple[str, ...] = (), listed: bool = True) -> None:
        self.catalog[key] = {"type": type, "title": title, "year": year, "Guid": list(guids)}
        if listed:
            self.watchlist.append(key)

    def _element(self, key: str, with_guids: bool) -> ET.Element:
        item = self.catalog[key]
        element = ET.Element("Directory" if item["type"] == "show" else "Video", {
            "ratingKey": key, "key": f"/library/metadata/{key}", "guid": f"plex://{item['type']}/{key}",
            "type": item["type"], "title": item["title"], "year": str(item["year"])})
        for gid in item["Guid"] if with_guids else ():
            ET.SubElement(element, "Guid", {"id": gid})
        return element

    def _refused(self, req: Req) -> tuple | None:
        if (req.headers.get("x-plex-token") or req.query.get("X-Plex-Token")) != self.token:
            return 401, "<html><head><title>Unauthorized</title></head></html>"
        return None

    def _watchlist(self, req: Req) -> tuple:
        if (refused := self._refused(req)) is not None:
            return refused
        start = int(req.headers.get("x-plex-container-start", "0"))
        size = int(req.headers.get("x-plex-container-size", str(len(self.watchlist))))
        page = self.watchlist[start:start + size]
        root = ET.Element("MediaContainer", {"librarySectionID": "watchlist", "librarySectionTitle": "Watchlist",
                                             "offset": str(start), "totalSize": str(len(self.watchlist)),
                                             "identifier": "tv.plex.provider.metadata", "size": str(len(page))})
        for key in page:
            root.append(self._element(key, with_guids=False))
        return 200, ET.tostring(root, encoding="unicode")

    def _metadata(self, req: Req) -> tuple:
        if (refused := self._refused(req)) is not None:
            return refused
        key = req.match.group(1)
        if key not in self.catalog:
            return 404, "<html><title>Not Found</title></html>"
        root = ET.Element("MediaContainer", {"size": "1", "identifier": "tv.plex.provider.metadata"})
        root.append(self._element(key, with_guids=True))
        return 200, ET.tostring(root, encoding="unicode")

    def _action(self, req: Req) -> tuple:
        if (refused := self._refused(req)) is not None:
            return refused
        key = req.query.get("ratingKey", "")
        if key not in self.catalog:
            return 404, "<html><title>Not Found</title></html>"
        if req.match.group(1) == "addToWatchlist" and key not in self.watchlist:
            self.watchlist.append(key)
        elif req.match.group(1) == "removeFromWatchlist" and key in self.watchlist:
            self.watchlist.remove(key)
        return 200, b""
