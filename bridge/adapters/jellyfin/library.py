"""Jellyfin's library for the sync (the LibraryHolder of bridge/sync/runner.py), for the configured
user: every movie and episode of the libraries that user sees, but the excluded ones, with the
user's watched state; and Simkl's watched state written back.

Read with `GET /Items` as the user (`userId`: the user's libraries, access and UserData), a page at
a time, each item mapped by the live plays' own rules (map.item_event): the same ids, the same anime
numbering. The show's ids are its series' ProviderIds, from a Series listing read the same way. A
multi-episode file (IndexNumberEnd) is one item per episode, all with the file's Id as `ref`; the
file's own ProviderIds are its first episode's (the metadata providers look up IndexNumber).

What the listing asks for, and why (jellyfin/jellyfin, ItemsController.GetItems and the item
repositories of 10.8 to 10.11):
- `SortBy=DateCreated,SortName`: without a sort 10.8-10.10 page in no stated order and 10.11 by
  SortName, so an item scanned in during the read shifts every later page; a new item's DateCreated
  is its scan, so it sorts last. An item seen twice anyway is kept once.
- `CollapseBoxSetItems=false`: with the server's "group movies into collections" on, a listing of
  movies shows a collection in place of its movies (Folder.CollapseBoxSetItems).
- `ExcludeLocationTypes=Virtual`: missing episodes (known to the metadata, no file) are no library.
- `EnableTotalRecordCount` on the first page only: each count is a second query over the whole
  listing, 110 of them for 55,000 items; the first page's count says where the listing ends.

Watched is `UserData.Played`, dated by `LastPlayedDate`. Jellyfin counts a play at its start and
clears Played there (SessionManager.OnPlaybackStart), so an item with a PlayCount and not Played was
started and not finished since: watched before or never, a rewatch or an abandoned start. That is no
fact for either side, so the sync leaves such an item out until its viewing ends.

Marks go by the file's Id with the date (`datePlayed`), after reading the item's state again: an item
played or started on Jellyfin since keeps its own state, and a multi-episode file is marked only with
all its episodes. One failure is one log line and the rest carry on; a server that stops answering
(or refuses the key) ends the run with one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from bridge.adapters.jellyfin.api import JellyfinApi, JellyfinError, Users
from bridge.adapters.jellyfin.map import item_event, norm_id
from bridge.events import EventError, Ids, Item, Kind, State
from bridge.library import LibraryHolder, LibraryItem
from bridge.times import iso_ms, parse_iso
from bridge.wire import is_count

log = logging.getLogger("bridge.adapters.jellyfin")

# Items per request. An episode with its ProviderIds and UserData is about 1 KB of JSON, so a page is
# about half a megabyte, built by the server from one query of 500 rows: well inside the 10 s a
# request may take on a small NAS, and 55,000 items are 110 requests. Read from the stand-in
# (bench/jellyfin_library.py), pages of 200, 500, 1,000 and 2,000 cost the bridge 3.6, 3.3, 3.0 and
# 2.8 CPU-s for those 55,000 items: past 500 a bigger page saves little and only grows each reply.
PAGE = 500
# Items whose state is read again per request before marking: 100 ids are 3.3 KB of URL, far below
# the 8 KB request line Kestrel (Jellyfin's web server) accepts.
CHUNK = 100
SAME_INSTANT = 1.0  # Jellyfin keeps dates to the tick; ours are written to the millisecond
LISTING = {"Recursive": "true", "SortBy": "DateCreated,SortName", "SortOrder": "Ascending",
           "CollapseBoxSetItems": "false", "ExcludeLocationTypes": "Virtual", "EnableImages": "false"}
_ITEM_ID = re.compile(r"[0-9a-f]{32}")
# A stop of the whole run: no answer, or the key refused (every later request would be too).
_FATAL = (None, 401, 403)


def library_entries(dto: dict[str, Any], series: dict[str, Any] | None) -> list[LibraryItem]:
    """One Movie or Episode BaseItemDto read for a user (+ its series' BaseItemDto) -> its LibraryItems:
    one, or one per episode of a multi-episode file; none when its state is no fact (started and not
    finished since). Without ids (or with numbers that number nothing) an item has empty ids: the
    sync reports it unmatched. A DTO without UserData was not read for a user: JellyfinError."""
    data = dto.get("UserData")
    if not isinstance(data, dict):
        raise JellyfinError(f"GET /Items: item {norm_id(dto.get('Id')) or '?'} has no UserData: not read for the user")
    watched = data.get("Played") is True
    count = data.get("PlayCount")
    if not watched and is_count(count) and count > 0:
        return []
    at = parse_iso(data.get("LastPlayedDate")) if watched else None
    ref = norm_id(dto.get("Id"))
    try:
        event = item_event(dto, server="", user="", session="library", state=State.WATCHED, position_ticks=None,
                           at=at or 0.0, series=series)
    except EventError:
        title = str(dto.get("SeriesName") or dto.get("Name") or "")
        season, number = dto.get("ParentIndexNumber"), dto.get("IndexNumber")
        if dto.get("Type") == "Episode" and is_count(season) and is_count(number) and number > 0:
            return [LibraryItem(Item(Kind.EPISODE, Ids(), season=season, episodes=(number,)), watched, at, title, ref=ref)]
        return [LibraryItem(Item(Kind.EPISODE if dto.get("Type") == "Episode" else Kind.MOVIE, Ids()), watched, at,
                            title, ref=ref)]
    item = event.item
    numbers = item.episodes
    out = [LibraryItem(replace(item, episodes=numbers[:1]) if len(numbers) > 1 else item, watched, at, event.title,
                       event.year, ref, event.episode_ids)]
    for number in numbers[1:]:
        # The file's ProviderIds name its first episode: an episode known only by them has none of its own.
        later = Item(Kind.EPISODE, Ids(), season=item.season, episodes=(number,)) if item.by_episode_ids \
            else replace(item, episodes=(number,))
        out.append(LibraryItem(later, watched, at, event.title, event.year, ref))
    return out


def _numbers(dto: dict[str, Any]) -> set[int]:
    """The episode numbers a library episode's file holds (none for a movie)."""
    first, last = dto.get("IndexNumber"), dto.get("IndexNumberEnd")
    if not is_count(first):
        return set()
    return set(range(first, (last if is_count(last) and last > first else first) + 1))


Work = list[tuple[LibraryItem, float | None]]


class JellyfinLibrary:
    """The LibraryHolder side of JellyfinAdapter, mixed in ahead of the adapter skeleton (whose
    `library()` offers none): it uses the adapter's API, its users, its name and its excluded libraries."""

    api: JellyfinApi
    users: Users
    name: str
    excluded_libraries: set[str]
    page: int = PAGE

    def library(self) -> LibraryHolder | None:
        """The configured user's library; none without a `user:` (the resume points' owner too)."""
        return self if self.users.configured is not None else None

    def read_library(self) -> list[LibraryItem]:
        """Every movie and episode of the user's libraries, watched or not. A JellyfinError means the
        library was not read whole: no part of it is returned."""
        user = self._user(fresh=True)
        series = {norm_id(s.get("Id")): s for s in self._listing(userId=user, IncludeItemTypes="Series",
                                                                 Fields="ProviderIds", EnableUserData="false")}
        left_out = self._excluded()
        out: list[LibraryItem] = []
        started = 0
        for dto in self._listing(userId=user, IncludeItemTypes="Movie,Episode", Fields="ProviderIds"):
            if norm_id(dto.get("Id")) in left_out or dto.get("Type") not in ("Movie", "Episode"):
                continue
            entries = library_entries(dto, series.get(norm_id(dto.get("SeriesId"))))
            started += not entries
            out += entries
        log.info("%s: library read: %d items, %d watched%s", self.name, len(out), sum(e.watched for e in out),
                 f"; {started} started and not finished since, left as they are" if started else "")
        return out

    def mark_watched(self, marks: list[tuple[LibraryItem, float | None]]) -> int:
        """Mark each item watched as of its date (None: Jellyfin picks one)."""
        return self._write(list(marks), True)

    def mark_unwatched(self, entries: list[LibraryItem]) -> int:
        return self._write([(e, e.watched_at) for e in entries], False)

    # -- reading --------------------------------------------------------------------------------

    def _user(self, fresh: bool = False) -> str:
        """The configured user's id; `fresh`: asked of the server now, so that a user renamed or
        removed since the socket's last look is named as such rather than as an HTTP error."""
        if self.users.configured is None:
            raise JellyfinError("no `user:` is configured for this server: the sync reads one user's watched state")
        if fresh or self.users.configured_id is None:
            self.users.refresh()
        if self.users.configured_id is None:
            raise JellyfinError(f"user {self.users.configured!r} is not a user of this server")
        return self.users.configured_id

    def _listing(self, **params: str) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        start, total = 0, None  # type: int, float | None
        while total is None or start < total:
            items, count = self.api.query_items(**LISTING, **params, StartIndex=start, Limit=self.page,
                                                EnableTotalRecordCount="true" if start == 0 else "false")
            if start == 0:
                total = count if count is not None else float("inf")
            for dto in items:
                item_id = norm_id(dto.get("Id"))
                if item_id not in seen:  # an item scanned in since pushes the page's last one into the next
                    seen.add(item_id)
                    yield dto
            if not items:
                return
            start += self.page  # the server's offset counts rows, also those it could not turn into items

    def _excluded(self, types: str = "Movie,Episode") -> set[str]:
        """The ids of every item of `types` in an excluded library (as its CollectionFolder is named)."""
        if not self.excluded_libraries:
            return set()
        folders = {str(f.get("Name") or "").casefold(): norm_id(f.get("Id")) for f in self.api.media_folders()}
        for name in sorted(self.excluded_libraries - set(folders)):
            log.warning("%s: exclude_libraries names %r, which is no library of this server", self.name, name)
        return {norm_id(dto.get("Id")) for name in self.excluded_libraries & set(folders)
                for dto in self._listing(ParentId=folders[name], IncludeItemTypes=types, EnableUserData="false")}

    # -- writing --------------------------------------------------------------------------------

    def _write(self, work: Work, played: bool) -> int:
        what = "marked watched" if played else "marked unwatched"
        files: dict[str, Work] = {}
        for entry, at in work:
            if _ITEM_ID.fullmatch(norm_id(entry.ref)):
                files.setdefault(norm_id(entry.ref), []).append((entry, at))
            else:
                log.warning("%s: %s not %s: %r names no Jellyfin item", self.name, entry.label, what, entry.ref)
        if not files:
            return 0
        refs, done, tried = list(files), 0, 0  # tried: how many of refs are done with, well or not
        try:
            user = self._user()
            version = self.api.version()
            legacy = version is None or version[:2] < (10, 9)
            for n in range(0, len(refs), CHUNK):
                chunk = refs[n:n + CHUNK]
                try:
                    items, _ = self.api.query_items(Ids=",".join(chunk), userId=user, EnableImages="false")
                except JellyfinError as exc:
                    if exc.status in _FATAL:
                        raise
                    log.warning("%s: %d items not %s: %s", self.name, sum(len(files[r]) for r in chunk), what, exc)
                    tried += len(chunk)
                    continue
                now = {norm_id(dto.get("Id")): dto for dto in items}
                for ref in chunk:
                    try:
                        done += self._one(files[ref], now.get(ref), user, played, legacy, what)
                    except JellyfinError as exc:
                        if exc.status in _FATAL:
                            raise
                        log.warning("%s: %s not %s: %s", self.name, files[ref][0][0].label, what, exc)
                    tried += 1
        except JellyfinError as exc:
            log.warning("%s: %d of %d items not %s: %s", self.name, sum(len(files[r]) for r in refs[tried:]), len(work),
                        what, exc)
        if done:
            log.info("%s: %d items %s from Simkl", self.name, done, what)
        return done

    def _one(self, group: Work, dto: dict[str, Any] | None, user: str, played: bool, legacy: bool, what: str) -> int:
        entry = group[0][0]
        data = dto.get("UserData") if dto is not None else None
        if dto is None or not isinstance(data, dict):
            log.warning("%s: %s not %s: Jellyfin has no item %s for the user", self.name, entry.label, what, entry.ref)
            return 0
        count = data.get("PlayCount")
        if played and (data.get("Played") is True or (is_count(count) and count > 0)):
            return 0  # played or started on Jellyfin since the read: its own state stays
        last = parse_iso(data.get("LastPlayedDate"))
        if not played and (data.get("Played") is not True
                           or (last is not None and entry.watched_at is not None
                               and last > entry.watched_at + SAME_INSTANT)):
            return 0  # unwatched already, or played again since the read
        numbers, asked = _numbers(dto), {e.item.episodes[0] for e, _ in group if e.item.episodes}
        if len(numbers) > 1 and not numbers <= asked:
            log.info("%s: %s not %s: Jellyfin keeps episodes %s as one file, marked only all together", self.name,
                     entry.label, what, "-".join(str(x) for x in (min(numbers), max(numbers))))
            return 0
        dates = [at for _, at in group if at is not None]
        self.api.set_played(norm_id(entry.ref), user, played, iso_ms(max(dates)) if dates else None, legacy)
        return len(group)
