"""Kodi's movies and shows with their ratings and Simkl-bucket lists (the TitleHolder of
bridge/library.py).

Read with `VideoLibrary.GetMovies` and `GetTVShows` a page at a time like the library read, ids by
its own mapping (map.kodi_ids; a show known only by anime ids counts as AniDB numbers it). `ref` is
"movie:<movieid>" / "tvshow:<tvshowid>".

A rating is Kodi's `userrating`: Kodi 20 keeps only 1-10 (xbmc/video/VideoDatabase.cpp writes any
other value as NULL, which reads back as 0, unrated) and no date of it, so `rated_at` is None and a
rating is cleared by setting 0.

A bucket's list is a Kodi tag named `list_name(bucket)` ("Simkl: Plan to Watch"). A tag, not a
smart playlist: it holds movies and shows as themselves (a show once, not as its episodes), Kodi
shows it under Movies > Tags and TV shows > Tags to browse and play from, a person puts items on it
or takes them off in Kodi or from a remote, and it is written over JSON-RPC from wherever the bridge
runs. A smart playlist is a file in Kodi's userdata, which JSON-RPC cannot write, and holds one media
type; a person can still make one on the tag. A tag is there while an item carries it: nothing to make.

Kodi's setters replace an item's whole tag list (xbmc/interfaces/json-rpc/VideoLibrary.cpp,
UpdateVideoTag), so each change reads the item's tags anew and writes back the same list with only
ours put on or taken off: a person's own tags stay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from bridge.adapters.kodi.api import KodiApi
from bridge.adapters.kodi.library import PAGE, Write, write_each
from bridge.adapters.kodi.map import kodi_ids, kodi_year
from bridge.ids import numbering_for
from bridge.item import Item, Kind, Numbering
from bridge.library import Title, as_rating, list_name
from bridge.wire import is_count

TITLE_PROPERTIES = ["title", "year", "uniqueid", "imdbnumber", "userrating", "tag"]
_LISTS = (("movie", "VideoLibrary.GetMovies", "movies"), ("tvshow", "VideoLibrary.GetTVShows", "tvshows"))
KINDS = {"movie": Kind.MOVIE, "tvshow": Kind.SHOW}


def tags(obj: dict[str, Any]) -> list[str]:
    """An object's `tag` list (Array.String in Kodi's types.json), [] when it has none."""
    found = obj.get("tag")
    return [t for t in found if isinstance(t, str)] if isinstance(found, list) else []


def title_of(obj: dict[str, Any], kind: str, buckets: Iterable[str]) -> Title:
    """One GetMovies/GetTVShows object (`kind` "movie" or "tvshow") -> Title; without usable ids
    it has empty ids, for the matching report."""
    libid = obj.get(f"{kind}id")
    ids, _ = kodi_ids(obj)
    numbering = numbering_for(ids) if kind == "tvshow" else Numbering.TV
    year = kodi_year(obj.get("year"))
    carried = tags(obj)
    return Title(Item(KINDS[kind], ids, numbering), str(obj.get("title") or obj.get("label") or ""),
                 year if year is not None and year < 10_000 else None, f"{kind}:{libid}" if is_count(libid) else "",
                 as_rating(obj.get("userrating")), None, None,
                 frozenset(b for b in buckets if list_name(b) in carried))


class KodiTitles:
    def __init__(self, api: KodiApi, name: str, log: logging.Logger, page: int = PAGE):
        self.api, self.name, self.log, self.page = api, name, log, page

    def read(self, buckets: frozenset[str]) -> list[Title]:
        """Every movie and show, rated or not. An RpcError means they were not read whole: no part
        of them is returned."""
        out: list[Title] = []
        seen: set[str] = set()  # a row added while paging pushes a page's last one into the next
        for kind, method, key in _LISTS:
            for obj in self.api.listing(method, key, TITLE_PROPERTIES, self.page):
                title = title_of(obj, kind, buckets)
                if title.ref and title.ref in seen:
                    continue
                seen.add(title.ref)
                out.append(title)
        self.log.info("%s: titles read: %d movies and shows, %d rated, %d on Simkl lists", self.name, len(out),
                      sum(t.rating is not None for t in out), sum(bool(t.listed) for t in out))
        return out

    def rate(self, changes: list[tuple[Title, int | None, float | None]]) -> int:
        """Set each title's `userrating` (None: 0, unrated); the date is dropped, Kodi keeps none."""
        def write(rating: int | None) -> Write:
            def one(kind: Kind, libid: int) -> bool:
                self.api.set_details(kind, libid, {"userrating": rating or 0})
                return True
            return one

        return write_each(self.name, self.log, [(title, write(rating)) for title, rating, _ in changes], "rated", KINDS)

    def set_listed(self, bucket: str, add: list[Title], remove: list[Title]) -> int:
        tag = list_name(bucket)

        def change(put: bool) -> Write:
            def one(kind: Kind, libid: int) -> bool:
                carried = tags(self.api.details(kind, libid, ["tag"]))
                if (tag in carried) == put:
                    return False  # so already: the person did it, or an earlier run
                self.api.set_details(kind, libid, {"tag": [*carried, tag] if put else [t for t in carried if t != tag]})
                return True
            return one

        # One run for both: a Kodi gone midway ends it with one line counting all that was not done.
        work = [(t, change(True)) for t in add] + [(t, change(False)) for t in remove]
        return write_each(self.name, self.log, work, f"put on or taken off {tag!r}", KINDS)
