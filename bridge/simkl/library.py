"""Simkl's library replies -> neutral `LibraryItem`s and `Title`s: the Simkl side of a sync.

`GET /sync/all-items` (simkl-api.md §8) answers `{"shows": [...], "anime": [...], "movies": [...]}`,
or `null` (some replies `{}`) when there is nothing; external ids come as strings. With
`extended=full` and `episode_watched_at=yes` a show lists its watched episodes with their dates;
with `extended=full_anime_seasons` an anime episode also says where TVDB puts it, so a server that
numbers the show the TVDB way finds it too. `GET /sync/ratings/{type}/{rating}` answers in the same
form, each entry with the user's `user_rating` and `user_rated_at`. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bridge.ids import clean_ids
from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import BUCKETS, LibraryItem, Title, as_rating
from bridge.times import parse_iso
from bridge.wire import is_count

GROUPS = ("movies", "shows", "anime")


def library_items(reply: Any) -> list[LibraryItem]:
    """Every watched movie and episode an all-items reply lists (unwatched entries: none)."""
    out: list[LibraryItem] = []
    for group, entry, media, ids in _identified(reply):
        title, year = str(media.get("title") or ""), media.get("year") if is_count(media.get("year")) else None
        last = parse_iso(entry.get("last_watched_at"))
        if group == "movies":
            if entry.get("status") == "completed" or last is not None:
                out.append(LibraryItem(Item(Kind.MOVIE, ids), True, last, title, year))
            continue
        numbering = Numbering.ANIDB if group == "anime" else Numbering.TV
        for season, number, at, tvdb in _episodes(entry):
            when = at if at is not None else last
            out.append(LibraryItem(Item(Kind.EPISODE, ids, numbering, season, (number,)), True, when, title, year))
            if tvdb is not None:
                out.append(LibraryItem(Item(Kind.EPISODE, ids, Numbering.TV, tvdb[0], (tvdb[1],)), True, when, title, year))
    return out


def library_titles(reply: Any) -> list[Title]:
    """Every movie, show and anime an all-items or a ratings reply lists, whatever its bucket, with
    its bucket and the user's own rating and its date."""
    out: list[Title] = []
    for group, entry, media, ids in _identified(reply):
        item = (Item(Kind.MOVIE, ids) if group == "movies"
                else Item(Kind.SHOW, ids, Numbering.ANIDB if group == "anime" else Numbering.TV))
        status = entry.get("status")
        out.append(Title(item, str(media.get("title") or ""), media.get("year") if is_count(media.get("year")) else None,
                         rating=as_rating(entry.get("user_rating")), rated_at=parse_iso(entry.get("user_rated_at")),
                         status=status if status in BUCKETS else None))
    return out


def listed_simkl_ids(reply: Any) -> set[int]:
    """The simkl ids an ids-only read (`extended=simkl_ids_only`) lists: what is still in the library."""
    return {ids.simkl for _, _, _, ids in _identified(reply) if ids.simkl is not None}


def _entries(reply: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(reply, dict):
        return
    for group in GROUPS:
        entries = reply.get(group)
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict):
                yield group, entry


def _identified(reply: Any) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], Ids]]:
    """(group, entry, its movie or show, their ids) of each entry with an id to match it by."""
    for group, entry in _entries(reply):
        media = entry.get("movie") if group == "movies" else entry.get("show")
        raw = media.get("ids") if isinstance(media, dict) else None
        ids = clean_ids(raw if isinstance(raw, dict) else {}, strict=False)
        if isinstance(media, dict) and ids:
            yield group, entry, media, ids


def _episodes(entry: dict[str, Any]) -> Iterator[tuple[int, int, float | None, tuple[int, int] | None]]:
    """(season, number, watched_at, (tvdb season, tvdb number) or None) per watched episode."""
    seasons = entry.get("seasons")
    for season in seasons if isinstance(seasons, list) else ():
        if not isinstance(season, dict) or not is_count(season.get("number")):
            continue
        episodes = season.get("episodes")
        for ep in episodes if isinstance(episodes, list) else ():
            if not isinstance(ep, dict) or not is_count(ep.get("number")):
                continue
            mapped = ep.get("tvdb")
            tvdb = ((mapped["season"], mapped["episode"])
                    if isinstance(mapped, dict) and is_count(mapped.get("season")) and is_count(mapped.get("episode"))
                    else None)
            yield season["number"], ep["number"], parse_iso(ep.get("watched_at")), tvdb
