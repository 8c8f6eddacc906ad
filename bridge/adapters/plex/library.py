"""Plex's library for the sync (what PlexAdapter offers as its LibraryHolder, bridge/library.py):
every movie and episode of the movie and show libraries with its watched state, and Simkl's watched
state written back.

Whose state: `viewCount` and `lastViewedAt` in a listing, and the marks, are the token's user's: the
owner's, for the admin token the bridge asks for (as `/:/progress` sets the owner's resume points).
The adapter offers it for the account `resume_user`, the owner, maps to; another user's watched state
needs that user's own token, in a server entry of its own.

Read: each section's `all` listing with its `Guid`s (`includeGuids=1`), one type at a time (movies;
shows, whose Guid lists new-agent episodes take, as live plays inline the show; episodes), PAGE
items a request. Each item is mapped by the live plays' own rules (map.event_from_metadata: legacy,
HAMA and new-agent GUIDs, anime numbering). A multi-episode file is one Plex episode per number,
each an item of its own; a viewing of one is a viewing of every episode the file holds
(map.same_file_episodes, as a live play of it reports them all).

Dates: `lastViewedAt` is the last viewing or the last mark, and since PMS 1.40.0.7998 marking an
item played makes no history row (python-plexapi PR #1366), so where the server's play history
(`/status/sessions/history/all`, the owner's account 1, as plexapi's LibrarySection.history asks)
has a play of the item, its latest `viewedAt` is a real viewing's date: a season marked played in
bulk long after it was watched keeps the dates it was watched on.

Write: `/:/scrobble` and `/:/unscrobble` per item (plexapi's markPlayed/markUnplayed). Plex takes no
date: a mark is stamped with the moment it is made. An item watched on Plex since the read is left
alone (its own count and date stay). One failure is one log line and the rest carry on; a server
that cannot be reached ends the run with one.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from plexapi.exceptions import Unauthorized
from requests import ConnectionError as Unreachable
from requests import Timeout

from bridge.adapters.plex.api import ERRORS, PlexApi
from bridge.adapters.plex.map import event_from_metadata, in_excluded_library, metadata_from_xml, same_file_episodes
from bridge.events import EventError, Ids, Item, Kind, State
from bridge.library import LibraryItem, Title, no_cycle_collection
from bridge.wire import digits, is_count

# Items per request. Plex builds a page with one SQL read of its rows; 500 episodes with their Guid
# and Media elements are 0.5-1 MB of XML, well inside the 10 s a request may take on a small server.
# A 5,000-movie, 50,000-episode library with 27,500 plays in its history is 169 requests and 4.2-4.6
# CPU-s of the bridge on the stand-in; pages of 2,000 (45 requests) save it 0.5-1 s for 15 MB more
# memory and replies four times as long for the server to build, pages of 100 (837) cost 1 s more.
PAGE = 500
# Listing types (plexapi utils.SEARCHTYPES).
MOVIES, SHOWS, EPISODES = 1, 2, 4
_KINDS = {"movie": Kind.MOVIE, "episode": Kind.EPISODE}
_CUT_OFF = (Unreachable, Timeout)
_MARK_ERRORS: tuple[type[Exception], ...] = (*ERRORS, LookupError)
# Newest first: a play made while the history is paged repeats a row, and never hides one.
HISTORY = "/status/sessions/history/all?accountID=1&sort=viewedAt%3Adesc"

Write = Callable[[str], bool]


def library_item(meta: dict[str, Any], viewed: float | None = None) -> LibraryItem:
    """One movie or episode of a listing (an episode's show inlined as `grandparent`) -> LibraryItem;
    `viewed`: the latest play of it in the server's history. Without ids (or with numbers that
    number nothing) it has empty ids: the sync reports it unmatched."""
    count, last = _number(meta.get("viewCount")), _number(meta.get("lastViewedAt"))
    watched = count is not None and count > 0
    at = (viewed if viewed is not None else float(last) if last else None) if watched else None
    try:
        event = event_from_metadata(meta, server="", user="", session="library", state=State.WATCHED,
                                    position=0.0, at=at or 0.0)
    except EventError:
        return _unmatched(meta, watched, at)
    return LibraryItem(event.item, watched, at, event.title, event.year, str(meta.get("ratingKey") or ""),
                       event.episode_ids)


def _unmatched(meta: dict[str, Any], watched: bool, at: float | None) -> LibraryItem:
    episode = meta.get("type") == "episode"
    season, number = _number(meta.get("parentIndex")), _number(meta.get("index"))
    if episode and season is not None and number:
        item = Item(Kind.EPISODE, Ids(), season=season, episodes=(number,))  # the matching report names it
    else:
        item = Item(_KINDS.get(str(meta.get("type")), Kind.MOVIE), Ids())
    title = meta.get("grandparentTitle" if episode else "title")
    return LibraryItem(item, watched, at, title if isinstance(title, str) else "", ref=str(meta.get("ratingKey") or ""))


def _number(value: Any) -> int | None:
    """A count as the JSON form has it (an int) or as an attribute that did not parse left it (text)."""
    return value if is_count(value) else digits(value)


class PlexLibrary:
    def __init__(self, api: PlexApi, name: str, excluded: Sequence[str | int], log: logging.Logger, page: int = PAGE):
        self.api, self.name, self.excluded, self.log, self.page = api, name, excluded, log, page

    def read(self) -> list[LibraryItem]:
        """Every movie and episode, watched or not. A failed request means the library was not read
        whole: no part of it is returned."""
        with no_cycle_collection():
            return self._read()

    def _read(self) -> list[LibraryItem]:
        viewed = self._history()
        out: list[LibraryItem] = []
        for section in self.api.items("/library/sections"):
            kind, key = section.get("type"), section.get("key")
            meta = {"librarySectionID": key, "librarySectionTitle": section.get("title")}
            if kind not in ("movie", "show") or in_excluded_library(meta, self.excluded):
                continue
            if kind == "movie":
                out += [library_item(m, viewed.get(str(m.get("ratingKey")))) for m in self.listing(key, MOVIES)]
                continue
            # The shows first: their Guid lists are what new-agent episodes are known by.
            shows = {str(s.get("ratingKey")): s for s in self.listing(key, SHOWS)}
            episodes = []
            for m in self.listing(key, EPISODES):
                show = shows.get(str(m.get("grandparentRatingKey")))
                entry = library_item({**m, "grandparent": show} if show is not None else m,
                                     viewed.get(str(m.get("ratingKey"))))
                episodes.append((entry, _files(m)))
            out += _same_file(episodes)
        self.log.info("%s: library read: %d items, %d watched", self.name, len(out), sum(e.watched for e in out))
        return out

    def listing(self, section: Any, kind: int) -> Iterable[dict[str, Any]]:
        """A section's items of one type, each once (an item added while paging pushes a page's last
        one into the next)."""
        seen: set[str] = set()
        for page in self.api.pages(f"/library/sections/{section}/all?type={kind}&includeGuids=1", self.page):
            for element in page:
                key = element.get("ratingKey") or ""
                if key not in seen:
                    seen.add(key)
                    yield _metadata(element)

    def _history(self) -> dict[str, float]:
        """The owner's latest play of each item (ratingKey -> epoch seconds), from the server's
        history; {} when this token may not read it (not the owner's: lastViewedAt dates then)."""
        latest: dict[str, float] = {}
        try:
            for page in self.api.pages(HISTORY, self.page):
                for row in page:
                    key, at = row.get("ratingKey"), digits(row.get("viewedAt"))
                    if key and at and at > latest.get(key, 0):
                        latest[key] = float(at)
        except Unauthorized as exc:
            self.log.info("%s: the play history is not readable with this token (%s): watched dates are the "
                          "items' lastViewedAt", self.name, exc)
            return {}
        return latest

    # -- marks ----------------------------------------------------------------------------------

    def mark_watched(self, marks: Iterable[tuple[LibraryItem, float | None]]) -> int:
        """Mark each item watched. Plex cannot set the date of a view (`/:/scrobble` takes none): each
        is stamped with the moment of the mark, and Simkl keeps the real date."""
        entries = [entry for entry, _ in marks]
        keys = [str(k) for k in (digits(e.ref) for e in entries) if k is not None]
        try:
            counts = self.api.view_counts(keys)
        except ERRORS as exc:
            if entries:
                self.log.warning("%s: %d items not marked watched: their state on Plex could not be read: %s",
                                 self.name, len(entries), exc)
            return 0

        def one(key: str) -> bool:
            if key not in counts:
                raise LookupError("not on the server any more")
            if counts[key] > 0:
                return False  # watched on Plex since the read: its own count and date stay
            self.api.scrobble(key, played=True)
            return True

        done = self.each([(entry, one) for entry in entries], "marked watched")
        if done:
            self.log.info("%s: %d items marked watched from Simkl (Plex dates them now: it cannot set a view's date)",
                          self.name, done)
        return done

    def mark_unwatched(self, entries: Iterable[LibraryItem]) -> int:
        def one(key: str) -> bool:
            self.api.scrobble(key, played=False)
            return True

        done = self.each([(entry, one) for entry in entries], "marked unwatched")
        if done:
            self.log.info("%s: %d items marked unwatched from Simkl", self.name, done)
        return done

    def each(self, work: Sequence[tuple[LibraryItem | Title, Write]], what: str) -> int:
        """Write each item (its ratingKey to `write`); one failure is one line and the rest carry on, a
        server that cannot be reached ends the run with one line."""
        done = 0
        for n, (entry, write) in enumerate(work):
            key = digits(entry.ref)
            if key is None:
                self.log.warning("%s: %s not %s: %r names no Plex item", self.name, entry.label, what, entry.ref)
                continue
            try:
                done += write(str(key))
            except _CUT_OFF as exc:
                self.log.warning("%s: %d of %d items not %s: %s", self.name, len(work) - n, len(work), what, exc)
                break
            except _MARK_ERRORS as exc:
                self.log.warning("%s: %s (plex item %s) not %s: %s", self.name, entry.label, key, what, exc)
        return done


def _metadata(element: ET.Element) -> dict[str, Any]:
    try:
        return metadata_from_xml(element)
    except EventError:
        # Without its guid nothing maps it: an item that does not parse is never matched, since a
        # watched item read as unwatched could otherwise be unwatched on Simkl.
        return {k: v for k, v in element.attrib.items() if k != "guid"}


def _files(meta: dict[str, Any]) -> frozenset[str]:
    return frozenset(p["file"] for m in meta.get("Media") or () for p in m.get("Part") or () if p.get("file"))


def _same_file(episodes: list[tuple[LibraryItem, frozenset[str]]]) -> list[LibraryItem]:
    """An episode of a multi-episode file unwatched on Plex is watched when another episode of the
    file is, as of the latest such viewing: the live rule (same_file_episodes), asked of each
    watched episode among those sharing a file with it, by their files and numbers."""
    by_file: dict[str, list[int]] = {}
    for n, (_, files) in enumerate(episodes):
        for f in files:
            by_file.setdefault(f, []).append(n)
    out = [entry for entry, _ in episodes]
    for n, (entry, files) in enumerate(episodes):
        near = {m for f in files for m in by_file[f] if m != n}
        if not entry.watched or not near:
            continue
        numbers = same_file_episodes(_as_listed(entry, files), [_as_listed(*episodes[m]) for m in near])
        for m in near:
            own, now = episodes[m][0], out[m]
            if own.watched or own.item.season != entry.item.season or not set(own.item.episodes) & set(numbers):
                continue
            if not now.watched or (entry.watched_at or 0) > (now.watched_at or 0):
                out[m] = replace(own, watched=True, watched_at=entry.watched_at)
    return out


def _as_listed(entry: LibraryItem, files: frozenset[str]) -> dict[str, Any]:
    """An episode as same_file_episodes reads a season's child: its files and its numbers."""
    return {"type": "episode", "ratingKey": entry.ref, "parentIndex": entry.item.season,
            "index": entry.item.episodes[0] if entry.item.episodes else None,
            "Media": [{"Part": [{"file": f} for f in sorted(files)]}]}
