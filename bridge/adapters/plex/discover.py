"""The token's plex.tv account's Discover watchlist, read and written with the requests plexapi's
MyPlexAccount makes (python-plexapi 4.18, plexapi/myplex.py), without its sign-in to plex.tv:

- Read: `GET <discover>/library/sections/watchlist/all?includeCollections=1&includeExternalMedia=1`
  (MyPlexAccount.watchlist), paged by the X-Plex-Container-Start/-Size headers as base.fetchItems
  pages every listing. Its items are plex.tv's own metadata: a `guid` `plex://movie/<id>` whose
  `<id>` is the item's ratingKey there, and the same guid the server's item of a new agent has (the
  watchlist's docstring: "search for the media using the guid"). The listing carries no `Guid`
  list; plexapi reloads an item from the metadata provider for it (`_toOnlineMetadata`: `GET
  <metadata>/library/metadata/<ratingKey>`), and so does this reader, only for an item the server's
  library does not hold under that guid.
- Write: `PUT <discover>/actions/addToWatchlist?ratingKey=<id>` and `.../removeFromWatchlist`
  (MyPlexAccount.addToWatchlist/removeFromWatchlist), the id being the last part of the guid.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import requests
from plexapi import BASE_HEADERS, X_PLEX_CONTAINER_SIZE
from plexapi.myplex import MyPlexAccount

from bridge.adapters.plex.api import paged
from bridge.adapters.plex.map import metadata_from_xml
from bridge.wire import EventError

WATCHLIST = "/library/sections/watchlist/all"
# What plexapi reloads an online item from (its Guid ids); a test points it at a stand-in.
METADATA = MyPlexAccount.METADATA
PLEX_GUID = "plex://"


def discover_key(guid: Any) -> str | None:
    """The plex.tv ratingKey of a `plex://movie/<id>` or `plex://show/<id>` guid (how plexapi's
    addToWatchlist names an item); None for any other guid."""
    if not isinstance(guid, str) or not guid.startswith(PLEX_GUID):
        return None
    kind, _, key = guid[len(PLEX_GUID):].partition("/")
    return key if kind in ("movie", "show") and key and "/" not in key else None


class Discover:
    def __init__(self, url: str, token: str, *, timeout: float, metadata_url: str = METADATA):
        self.url, self.metadata_url, self.timeout = url.rstrip("/"), metadata_url.rstrip("/"), timeout
        self._headers = {**BASE_HEADERS, "X-Plex-Token": token}
        self._session = requests.Session()
        self.page = X_PLEX_CONTAINER_SIZE  # plexapi's page size

    def watchlist(self) -> Iterator[dict[str, Any]]:
        """The watchlist's movies and shows (their metadata, JSON form). A page that fails raises."""
        url = f"{self.url}{WATCHLIST}"
        params = {"includeCollections": "1", "includeExternalMedia": "1"}
        for page in paged(lambda headers: self._query("GET", url, params, headers), self.page):
            for element in page:
                if element.get("type") in ("movie", "show"):
                    yield _metadata(element)

    def metadata(self, key: str) -> dict[str, Any]:
        """One item as the metadata provider has it, with its `Guid` ids."""
        root = self._query("GET", f"{self.metadata_url}/library/metadata/{key}")
        first = next((e for e in root if e.tag in ("Video", "Directory")), None) if root is not None else None
        if first is None:
            raise EventError(f"plex.tv item {key}: the metadata provider returned no item")
        return _metadata(first)

    def add(self, key: str) -> None:
        self._query("PUT", f"{self.url}/actions/addToWatchlist", {"ratingKey": key})

    def remove(self, key: str) -> None:
        self._query("PUT", f"{self.url}/actions/removeFromWatchlist", {"ratingKey": key})

    def _query(self, method: str, url: str, params: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> ET.Element | None:
        reply = self._session.request(method, url, params=params, headers={**self._headers, **(headers or {})},
                                      timeout=self.timeout)
        reply.raise_for_status()
        return ET.fromstring(reply.text) if reply.text.strip() else None


def _metadata(element: ET.Element) -> dict[str, Any]:
    try:
        return metadata_from_xml(element)
    except EventError:
        return {k: v for k, v in element.attrib.items() if k in ("ratingKey", "guid", "type", "title")}
