"""PlayEvent or Title -> the JSON bodies Simkl's write endpoints take.

Pure functions. This is the only place that knows how a movie, an episode, a multi-episode file
or an anime episode is spelled in a Simkl write (simkl-api.md §4, §6, §9).
"""

from __future__ import annotations

from typing import Any

from bridge.events import Kind, Numbering, PlayEvent
from bridge.item import Item
from bridge.library import Title


def _media(event: PlayEvent) -> dict[str, Any]:
    media: dict[str, Any] = {"ids": event.ids.as_dict()}
    if event.title:
        media["title"] = event.title
    if event.year:
        media["year"] = event.year
    return media


def bucket(event: PlayEvent) -> str:
    """Which top-level array of /sync/history the item belongs in."""
    if event.kind is Kind.MOVIE:
        return "movies"
    if event.numbering is Numbering.ANIDB:
        return "anime"
    return "shows"


def history_body(event: PlayEvent, watched_at: str | None = None) -> dict[str, Any]:
    """The /sync/history body marking this item (every episode of a multi-episode file) watched.

    For episodes the event's `title`/`year` describe the show. Episode-level ids are added next to
    the number, where Simkl lets them win over numbering.
    """
    stamp = {"watched_at": watched_at} if watched_at else {}
    if event.addressed_by_episode_ids:
        return {"episodes": [{"ids": event.episode_ids.as_dict(), **stamp}]}
    item = _media(event)
    if event.kind is Kind.MOVIE:
        item.update(stamp)
        return {"movies": [item]}
    episodes = []
    for n in event.episodes:
        ep: dict[str, Any] = {"number": n, **stamp}
        # Episode ids name one episode: only meaningful when the file holds exactly that one.
        if event.episode_ids and len(event.episodes) == 1:
            ep["ids"] = event.episode_ids.as_dict()
        episodes.append(ep)
    if event.numbering is Numbering.ANIDB:
        # AniDB numbering: one entry per cour, episodes counted from 1; season 0 holds specials.
        item["seasons"] = [{"number": event.season if event.season is not None else 1, "episodes": episodes}]
        return {"anime": [item]}
    item["seasons"] = [{"number": event.season, "episodes": episodes}]
    # TVDB/TMDB seasons: an anime among them is one of Simkl's AniDB entries per season, and only
    # this flag has Simkl map the season onto it (without it a season past the first is another
    # series, or nothing). A show known by TV ids alone may be anime; for others it is harmless.
    item["use_tvdb_anime_seasons"] = True
    return {"shows": [item]}


def scrobble_body(event: PlayEvent, progress: float | None = None) -> dict[str, Any]:
    """The /scrobble/{start,pause,stop} body: one item, singular keys, progress 0-100."""
    body: dict[str, Any] = {"progress": round(event.progress if progress is None else progress, 2)}
    if event.kind is Kind.MOVIE:
        body["movie"] = _media(event)
        return body
    key = "anime" if event.numbering is Numbering.ANIDB else "show"
    body[key] = _media(event)
    # A scrobble names one episode: a multi-episode file is tracked by its first one.
    body["episode"] = {"season": event.season if event.season is not None else 1, "number": event.episodes[0]}
    return body


def removal_body(event: PlayEvent) -> dict[str, Any]:
    """The /sync/history/remove body taking back this item's viewings: its history body without a
    date (the removal page: the same item shapes and granularity), an anime under `shows` (that page
    has no `anime` array). An episode is its show with that season and episode only; a movie with
    nothing else is removed from the library whole, its list entry and rating too: Simkl has no
    other way to unwatch a movie."""
    if event.addressed_by_episode_ids:
        raise ValueError("Simkl's history removal names an episode by its show; this one is known by its own ids only")
    body = history_body(event)
    return {"shows": body["anime"]} if "anime" in body else body


def title_bucket(item: Item) -> str:
    """Where a movie or a whole show goes in a ratings or add-to-list body: an anime (AniDB
    numbering, or known by anime ids) under `anime`, as those pages sort them."""
    if item.kind is Kind.MOVIE:
        return "movies"
    return "anime" if item.numbering is Numbering.ANIDB or item.ids.is_anime else "shows"


def title_body(title: Title, **fields: Any) -> dict[str, Any]:
    """A one-title body of /sync/ratings, /sync/ratings/remove or /sync/add-to-list: its title,
    year and ids (Simkl falls back on title and year where no id resolves), and `fields`."""
    item: dict[str, Any] = {"ids": title.item.ids.as_dict()}
    if title.title:
        item["title"] = title.title
    if title.year:
        item["year"] = title.year
    return {title_bucket(title.item): [{**item, **fields}]}
