"""Kodi's library for the sync (the LibraryHolder of bridge/sync/runner.py): every movie and episode
with its watched state, and Simkl's watched state written back.

Read with `VideoLibrary.GetMovies` and `GetEpisodes` (the shows' ids through `GetTVShows`) a page at
a time, each object mapped by the live plays' own rules (map.event_from_item): the same ids, the
same anime numbering. Kodi keeps a multi-episode file as one library episode per number, so each is
an item of its own here. `lastplayed` is a naive time in Kodi's own zone, read and written with the
offset Kodi's clock shows (resume.read_utc_offset).

Marks are per item, by Kodi's library id (`ref`, "movie:<movieid>" / "episode:<episodeid>"). One
failure is one log line and the rest carry on; a Kodi that cannot be reached ends the run with one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from bridge.adapters.kodi.api import SHOW_PROPERTIES, KodiApi, RpcError, Unreachable
from bridge.adapters.kodi.map import event_from_item, kodi_ids
from bridge.adapters.kodi.resume import read_utc_offset
from bridge.events import EventError, Ids, Item, Kind, State
from bridge.library import LibraryItem
from bridge.times import format_local, parse_local
from bridge.wire import digits, is_count

# Objects per request. A page of 500 episodes is about 130 KB of JSON: far below the 8 MB a message
# may have here (JsonStream), and quick for Kodi to build (its SQL reads only the page's rows), so no
# reply nears the 10 s a request may take; 50,000 episodes are 100 requests. On the stand-in, pages
# of 100 to 2,000 cost the bridge the same CPU: the size only trades reply size for request count.
PAGE = 500
MOVIE_PROPERTIES = ["title", "year", "uniqueid", "imdbnumber", "playcount", "lastplayed"]
# Episodes have no `imdbnumber` (asking for it fails the request); the show's ids come from GetTVShows.
EPISODE_PROPERTIES = ["title", "showtitle", "season", "episode", "tvshowid", "uniqueid", "playcount", "lastplayed"]
_KINDS = {"movie": Kind.MOVIE, "episode": Kind.EPISODE}
_LISTS = (("movie", "VideoLibrary.GetMovies", "movies", MOVIE_PROPERTIES),
          ("episode", "VideoLibrary.GetEpisodes", "episodes", EPISODE_PROPERTIES))

Write = Callable[[Kind, int], bool]


def library_item(obj: dict[str, Any], kind: str, tvshow: dict[str, Any] | None, utc_offset: float | None,
                 show_mapped: tuple[Ids, str] | None = None) -> LibraryItem:
    """One GetMovies/GetEpisodes object (`kind` "movie" or "episode") -> LibraryItem. Without ids
    (or with episode numbers that number nothing) it has empty ids: the sync reports it unmatched.
    `show_mapped`: kodi_ids(tvshow), mapped once per show."""
    libid = obj.get(f"{kind}id")
    ref = f"{kind}:{libid}" if is_count(libid) else ""
    count = obj.get("playcount")
    watched = is_count(count) and count > 0
    at = parse_local(obj.get("lastplayed"), utc_offset) if watched else None
    try:
        event = event_from_item({**obj, "type": kind}, server="", user="", session="library", state=State.WATCHED,
                                at=at or 0.0, tvshow=tvshow, show_mapped=show_mapped)
    except EventError:
        show = tvshow.get("title") if isinstance(tvshow, dict) else None
        season, number = obj.get("season"), obj.get("episode")
        if kind == "episode" and is_count(season) and is_count(number) and number > 0:
            item = Item(Kind.EPISODE, Ids(), season=season, episodes=(number,))  # the matching report names it
        else:
            item = Item(_KINDS[kind], Ids())
        return LibraryItem(item, watched, at, str(show or obj.get("showtitle") or obj.get("title") or ""), ref=ref)
    return LibraryItem(event.item, watched, at, event.title, event.year, ref, event.episode_ids)


def target(ref: str, kinds: Mapping[str, Kind] = _KINDS) -> tuple[Kind, int] | None:
    """An entry's `ref` -> (kind, Kodi library id); None when it names no Kodi library item of `kinds`."""
    kind, _, number = ref.partition(":")
    libid = digits(number)
    return (kinds[kind], libid) if kind in kinds and libid is not None else None


class Entry(Protocol):
    """What a write is about: a LibraryItem or a Title."""

    @property
    def label(self) -> str: ...
    @property
    def ref(self) -> str: ...


def write_each(name: str, log: logging.Logger, work: Sequence[tuple[Entry, Write]], what: str,
               kinds: Mapping[str, Kind] = _KINDS) -> int:
    """Each write in turn, by the entry's Kodi library id: how many changed something. One failure
    is one line and the rest carry on; a Kodi that cannot be reached ends the run with one line
    saying how many were not done."""
    done = 0
    for n, (entry, write) in enumerate(work):
        found = target(entry.ref, kinds)
        if found is None:
            log.warning("%s: %s not %s: %r names no Kodi library item", name, entry.label, what, entry.ref)
            continue
        try:
            done += write(*found)
        except Unreachable as exc:
            log.warning("%s: %d of %d items not %s: %s", name, len(work) - n, len(work), what, exc)
            break
        except RpcError as exc:
            log.warning("%s: %s not %s: %s", name, entry.label, what, exc)
    if done:
        log.info("%s: %d items %s from Simkl", name, done, what)
    return done


class KodiLibrary:
    def __init__(self, api: KodiApi, name: str, log: logging.Logger, page: int = PAGE):
        self.api, self.name, self.log, self.page = api, name, log, page

    def read(self, now: float) -> list[LibraryItem]:
        """Every movie and episode, watched or not. An RpcError means the library was not read
        whole: no part of it is returned."""
        offset = read_utc_offset(self.api, self.name, self.log, now)
        shows = {s["tvshowid"]: (s, kodi_ids(s)) for s in self.api.listing("VideoLibrary.GetTVShows", "tvshows",
                                                                          SHOW_PROPERTIES, self.page)
                 if is_count(s.get("tvshowid"))}
        out: list[LibraryItem] = []
        seen: set[str] = set()  # a row added while paging pushes a page's last one into the next
        for kind, method, key, properties in _LISTS:
            for obj in self.api.listing(method, key, properties, self.page):
                showid = obj.get("tvshowid")
                show, mapped = shows.get(showid, (None, None)) if is_count(showid) else (None, None)
                entry = library_item(obj, kind, show, offset, mapped)
                if entry.ref and entry.ref in seen:
                    continue
                seen.add(entry.ref)
                out.append(entry)
        self.log.info("%s: library read: %d items, %d watched", self.name, len(out), sum(e.watched for e in out))
        return out

    def mark_watched(self, marks: Iterable[tuple[LibraryItem, float | None]], now: float) -> int:
        """Mark each item watched as of its date (None: Kodi stamps the moment of the write)."""
        offset = read_utc_offset(self.api, self.name, self.log, now)

        def write(at: float | None) -> Write:
            def one(kind: Kind, libid: int) -> bool:
                count = self.api.details(kind, libid, ["playcount"]).get("playcount")
                if is_count(count) and count > 0:
                    return False  # watched on Kodi already: its own count and date stay
                details: dict[str, Any] = {"playcount": 1}
                if at is not None:
                    details["lastplayed"] = format_local(at, offset)
                self.api.set_details(kind, libid, details)
                return True
            return one

        return write_each(self.name, self.log, [(entry, write(at)) for entry, at in marks], "marked watched")

    def mark_unwatched(self, entries: Iterable[LibraryItem]) -> int:
        def one(kind: Kind, libid: int) -> bool:
            # An empty date too, as Kodi's own "mark as unwatched" leaves it: a count of 0 alone
            # keeps the old lastplayed, which the resume points would take for a recent play.
            self.api.set_details(kind, libid, {"playcount": 0, "lastplayed": ""})
            return True

        return write_each(self.name, self.log, [(entry, one) for entry in entries], "marked unwatched")
