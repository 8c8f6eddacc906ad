"""Plex's HTTP API through plexapi's `PlexServer` (its XML parsing, headers and token handling).

Reads that many plays share are kept a while: a show's metadata (whose ids every episode needs) and
a season's episodes (whose files tell a multi-episode file). Webhooks (HTTP threads) and the
adapter's worker share them.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from plexapi.exceptions import BadRequest, NotFound, PlexApiException
from plexapi.server import PlexServer
from requests import RequestException

from bridge.adapters.plex.map import metadata_from_xml
from bridge.adapters.plex.sessions import Live, read_sessions
from bridge.wire import EventError, digits

log = logging.getLogger("bridge.adapters.plex")

# The server unreachable, refusing or failing: expected now and then, where a surprise is a bug.
ERRORS: tuple[type[Exception], ...] = (PlexApiException, RequestException)
# What a read may fail with besides: a reply that is not XML, or not the item asked for.
READ_ERRORS: tuple[type[Exception], ...] = (*ERRORS, EventError, ET.ParseError)
# plexapi ships type information but no annotations: its server object is Any here.
_PlexServer: Any = PlexServer
NOTIFICATIONS = "/:/websockets/notifications"
# A show re-matched in Plex (Fix Match) has new ids: its cached metadata is read again after this.
SHOW_TTL = 600.0
# A season's episodes: shared by one play's alerts and webhooks.
SEASON_TTL = 120.0
_ITEMS = ("Video", "Directory", "Track")
LIBRARY = ("librarySectionID", "librarySectionTitle")
OWNER_ACCOUNT = 1  # the server owner's local account id
LIBRARY_ID = "com.plexapp.plugins.library"
# Items asked for by key in one request: 100 keys keep the URL under 1 KB.
BY_KEY = 100
T = TypeVar("T")


def paged(query: Callable[[dict[str, str]], ET.Element | None], size: int) -> Iterator[list[ET.Element]]:
    """A listing's items, `size` a request with the X-Plex-Container-Start/-Size headers plexapi's
    fetchItems (base.py) pages by, until the container's totalSize (else its size) is reached.
    `query(headers)` is one request; the server's own listings and plex.tv's Discover page alike."""
    start = 0
    while True:
        root = query({"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)})
        page = [e for e in root if e.tag in _ITEMS] if root is not None else []
        yield page
        start += len(page)
        total = digits(root.get("totalSize") or root.get("size")) if root is not None else None
        if not page or total is None or start >= total:
            return


class PlexApi:
    def __init__(self, name: str, url: str, token: str, *, timeout: float):
        self.name, self.url, self.token, self.timeout = name, url, token, timeout
        self.machine_id: str | None = None
        self._client: Any = None
        self._cache: dict[str, tuple[float, Any]] = {}  # show:/season:ratingKey -> (good until, what was read)

    def client(self) -> Any:
        """plexapi's server object; (re)made when missing. Raises while the server is down."""
        client = self._client  # read once: the listener may drop it from another thread meanwhile
        if client is None:
            client = self._client = _PlexServer(self.url, self.token, timeout=self.timeout)
            self.machine_id = client.machineIdentifier
        return client

    def reconnect(self) -> None:
        """Ask the server again on next use: a restarted one may have changed."""
        self._client = None

    def identify(self) -> str | None:
        """The server's machineIdentifier (asked once; None while it cannot be reached)."""
        if self.machine_id is None:
            try:
                self.client()
            except ERRORS as exc:
                log.debug("%s: server not reachable to learn its identity: %s", self.name, exc)
        return self.machine_id

    def notifications_url(self) -> str:
        """The alert websocket's URL; it carries the token, so it is never logged."""
        return str(self.client().url(NOTIFICATIONS, includeToken=True)).replace("http", "ws", 1)

    def owner(self) -> tuple[str, str]:
        """The server owner's user name as plays show it and their plex.tv e-mail; '' for what the server
        does not say. The e-mail is the root's `myPlexUsername` (plexapi: "Email address if signed into
        myPlex"); the name is account 1's in `/accounts`, the owner's, who is `User id="1"` in
        /status/sessions (Tautulli reads that id as the admin). Another user's token may not list accounts."""
        client = self.client()
        try:
            name = next((a.name for a in client.systemAccounts() if a.id == OWNER_ACCOUNT), "")
        except ERRORS as exc:
            log.debug("%s: /accounts not read: %s", self.name, exc)
            name = ""
        return str(name or ""), str(client.myPlexUsername or "")

    def sessions(self) -> dict[str, Live]:
        return read_sessions(self.client().query("/status/sessions"))

    def metadata(self, rating_key: str) -> dict[str, Any]:
        try:
            root = self.client().query(f"/library/metadata/{rating_key}")
        except NotFound:
            raise EventError(f"plex item {rating_key}: the server has no such item (404)") from None
        first = next((e for e in root if e.tag in _ITEMS), None) if root is not None else None
        if first is None:
            raise EventError(f"plex item {rating_key}: /library/metadata returned no item")
        # The library is named on the container (where Tautulli's get_metadata_details reads it; plexapi
        # copies its librarySectionID onto items): the item need not repeat it.
        for name in LIBRARY:
            if first.get(name) is None and root.get(name) is not None:
                first.set(name, str(root.get(name)))
        return metadata_from_xml(first)

    def show(self, rating_key: str, now: float) -> dict[str, Any]:
        """A show's metadata, shared by its episodes' plays and webhooks for SHOW_TTL seconds (of
        the caller's clock, `now`)."""
        return self._cached(f"show:{rating_key}", SHOW_TTL, now, lambda: self.metadata(rating_key))

    def season(self, rating_key: str, now: float) -> list[dict[str, Any]]:
        """A season's episodes (with their Media parts), kept SEASON_TTL seconds."""
        def read() -> list[dict[str, Any]]:
            root = self.client().query(f"/library/metadata/{rating_key}/children")
            return [metadata_from_xml(e) for e in root if e.tag == "Video"] if root is not None else []
        return self._cached(f"season:{rating_key}", SEASON_TTL, now, read)

    def items(self, path: str) -> list[dict[str, Any]]:
        """The movies, shows, episodes or sections a listing holds; an unreadable one is left out."""
        out = []
        root = self.client().query(path)
        for element in root if root is not None else ():
            if element.tag in ("Video", "Directory"):
                try:
                    out.append(metadata_from_xml(element))
                except EventError as exc:
                    log.debug("%s: %s: item skipped: %s", self.name, path, exc)
        return out

    def pages(self, path: str, size: int) -> Iterator[list[ET.Element]]:
        """A listing's items, `size` a request (`paged`). A page that fails raises: no caller takes
        part of a listing for all of it."""
        return paged(lambda headers: self.client().query(path, headers=headers), size)

    def view_counts(self, keys: list[str]) -> dict[str, int]:
        """The token user's viewCount of each item still on the server, read BY_KEY at a time as
        /library/metadata/<k1,k2,…> (how plexapi's fetchItems reads a list of keys); items gone are
        left out, also when the server answers a request naming one with 404."""
        counts: dict[str, int] = {}
        for first in range(0, len(keys), BY_KEY):
            chunk = keys[first:first + BY_KEY]
            try:
                root = self.client().query(f"/library/metadata/{','.join(chunk)}")
            except NotFound:
                if len(chunk) > 1:
                    for key in chunk:
                        counts.update(self.view_counts([key]))
                continue
            for element in root if root is not None else ():
                if element.tag in _ITEMS and element.get("ratingKey"):
                    counts[str(element.get("ratingKey"))] = digits(element.get("viewCount")) or 0
        return counts

    def scrobble(self, rating_key: str, *, played: bool) -> None:
        """Mark the token user's item played or unplayed (plexapi's markPlayed/markUnplayed)."""
        self.client().query("/:/scrobble" if played else "/:/unscrobble", params={"key": rating_key, "identifier": LIBRARY_ID})

    def set_progress(self, rating_key: str, offset_ms: int) -> None:
        """Set the token owner's view offset (plexapi's `updateProgress`)."""
        self.client().query(f"/:/progress?key={rating_key}&identifier={LIBRARY_ID}"
                            f"&time={offset_ms}&state=stopped")

    def rate(self, rating_key: str, rating: int | None) -> None:
        """Set or (None) clear the token user's rating of an item, 0-10 where 10 is five stars
        (plexapi mixins/rating.py RatingMixin.rate: -1 clears)."""
        client = self.client()
        client.query("/:/rate", method=client._session.put,
                     params={"key": rating_key, "identifier": LIBRARY_ID, "rating": -1 if rating is None else rating})

    # -- collections (plexapi collection.py) ------------------------------------------------------

    def create_collection(self, section: str, kind: int, title: str, rating_key: str) -> str:
        """A regular (not smart) collection of one section made with its first item (plexapi's
        Collection._create makes none without items); its ratingKey."""
        client = self.client()
        root = client.query("/library/collections", method=client._session.post, params={
            "uri": self._uri(rating_key), "type": kind, "title": title, "smart": 0, "sectionId": section})
        made = next(iter(root), None) if root is not None else None
        if made is None or not made.get("ratingKey"):
            raise BadRequest(f"plex collection {title!r}: the server's reply names no collection")
        return str(made.get("ratingKey"))

    def add_to_collection(self, collection: str, rating_key: str) -> None:
        client = self.client()
        client.query(f"/library/collections/{collection}/items", method=client._session.put,
                     params={"uri": self._uri(rating_key)})

    def remove_from_collection(self, collection: str, rating_key: str) -> None:
        client = self.client()
        client.query(f"/library/collections/{collection}/items/{rating_key}", method=client._session.delete)

    def _uri(self, rating_key: str) -> str:
        """An item as collections are given it: server://<machineIdentifier>/<library>/library/metadata/<key>
        (plexapi server.py _uriRoot)."""
        self.client()
        return f"server://{self.machine_id}/{LIBRARY_ID}/library/metadata/{rating_key}"

    def _cached(self, key: str, ttl: float, now: float, read: Callable[[], T]) -> T:
        cached = self._cache.get(key)  # read once: webhooks (HTTP threads) and the worker share it
        if cached is None or cached[0] < now:
            fresh = {k: v for k, v in self._cache.items() if v[0] >= now}
            cached = fresh[key] = (now + ttl, read())
            self._cache = fresh
        return cast(T, cached[1])

