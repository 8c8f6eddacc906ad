"""What a library holds, in server-neutral terms: the media servers' libraries and the Simkl
account's, as the sync compares them.

Pure data. A `LibraryItem` is one movie or ONE episode (a multi-episode file is one item per
episode, sharing its `ref`), with its watched state and date. A `Title` is a movie or a whole show,
with its rating and list bucket: what ratings and watchlists are about. A `Shelf` (of LibraryItems)
or a `TitleShelf` is a side's whole library with a lookup by the one identity rule
(`Item.overlaps`): two sides never need the same key for an item, only an id in common.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from bridge.item import INT_IDS, STR_IDS, Ids, Item, Kind, Numbering, lazy
from bridge.wire import is_number

# Simkl's list buckets (the seed page on statuses): movies have no watching or hold.
BUCKETS = ("watching", "plantowatch", "hold", "dropped", "completed")
MOVIE_BUCKETS = ("plantowatch", "dropped", "completed")
BUCKET_TITLES = {"watching": "Watching", "plantowatch": "Plan to Watch", "hold": "On Hold", "dropped": "Dropped",
                 "completed": "Completed"}


def list_name(bucket: str) -> str:
    """The name of a server's mirror list of a Simkl bucket, as Simkl's apps title the bucket."""
    return f"Simkl: {BUCKET_TITLES[bucket]}"


def _key(item: Item, ref: str) -> str:
    # Items without ids would all share one key: the holder's own handle tells them apart.
    return item.key if item.ids else f"{item.key}@{ref}"


def as_rating(value: Any) -> int | None:
    """A rating on Simkl's scale, a whole number 1-10 (Simkl silently ignores any other), from any
    side's number: 8.0 and 8 are the same rating (re-sent as different they would sync every run);
    0, a missing value or one out of range is no rating."""
    if not is_number(value):
        return None
    rounded = round(float(value))
    return rounded if 1 <= rounded <= 10 else None


@dataclass(frozen=True)
class LibraryItem:
    item: Item  # a movie, or one episode (episodes=(n,)) of a show
    watched: bool
    watched_at: float | None = None  # the last viewing (epoch seconds); None when never, or not known
    title: str = ""  # the movie's, or the show's
    year: int | None = None
    ref: str = ""  # the holder's own handle (Plex ratingKey, Jellyfin item Id, Kodi movieid/episodeid)
    episode_ids: Ids = field(default_factory=Ids)  # an episode's own ids, where the holder knows them

    @lazy
    def key(self) -> str:
        # Computed once: a sync of 55,000 items asks each for it a dozen times.
        return _key(self.item, self.ref)

    @property
    def label(self) -> str:
        """The item as a log line names it: its title, and an episode's season and number."""
        item = self.item
        if item.kind is Kind.EPISODE and item.season is not None and item.episodes:
            return f"{self.title or '?'} S{item.season:02d}E{item.episodes[0]:02d}"
        return self.title or self.ref or "?"

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item.to_json(), "watched": self.watched, "watched_at": self.watched_at,
                "title": self.title, "year": self.year, "ref": self.ref, "episode_ids": self.episode_ids.as_dict()}

    @lazy
    def stored(self) -> str:
        """`to_json` as text, made once: a first sync stores most items twice (the server's side of
        the baseline, and Simkl's, which holds the bridge's own writes)."""
        return json.dumps(self.to_json())

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LibraryItem:
        """The sync baseline's own stored form (written by `to_json`) back to a LibraryItem."""
        return cls(Item.from_json(d["item"]), bool(d["watched"]), d["watched_at"], d["title"], d["year"], d["ref"],
                   Ids(**d["episode_ids"]))


@dataclass(frozen=True)
class Title:
    """A movie or a whole show (anime too), as ratings and list buckets see it."""

    item: Item  # Kind.MOVIE, or Kind.SHOW with the show's ids (numbering ANIDB for an anime)
    title: str = ""
    year: int | None = None
    ref: str = ""  # the holder's handle of the movie or show (Plex ratingKey, Jellyfin Id, Kodi "tvshow:3")
    rating: int | None = None  # 1-10 (`as_rating`); None: not rated
    rated_at: float | None = None  # when it was rated, where the side says
    status: str | None = None  # Simkl's side: the bucket it is in (BUCKETS); a server's: None
    listed: frozenset[str] = frozenset()  # a server's side: the buckets whose mirror list holds it

    @lazy
    def key(self) -> str:
        return _key(self.item, self.ref)

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.title and self.year else self.title or self.ref or "?"

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item.to_json(), "title": self.title, "year": self.year, "ref": self.ref,
                "rating": self.rating, "rated_at": self.rated_at, "status": self.status,
                "listed": sorted(self.listed)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Title:
        return cls(Item.from_json(d["item"]), d["title"], d["year"], d["ref"], d["rating"], d["rated_at"],
                   d["status"], frozenset(d["listed"]))


class LibraryHolder(Protocol):
    """A media server's library, as its adapter offers it (bridge/adapters/<server>/library.py)."""

    name: str

    def read_library(self) -> list[LibraryItem]:
        """Every movie and episode, watched or not; raises rather than return part of it."""

    def mark_watched(self, marks: list[tuple[LibraryItem, float | None]]) -> int:
        """Mark these watched (at the date where the server takes one); how many were."""

    def mark_unwatched(self, entries: list[LibraryItem]) -> int: ...


class TitleHolder(Protocol):
    """A media server's movies and shows with their ratings and Simkl-bucket lists, as its adapter
    offers them (bridge/adapters/<server>/titles.py)."""

    name: str

    def read_titles(self, buckets: frozenset[str]) -> list[Title]:
        """Every movie and show, rated or not, each with its rating and which of `buckets`' mirror
        lists hold it; raises rather than return part of it."""

    def rate(self, changes: list[tuple[Title, int | None, float | None]]) -> int:
        """Set each title's rating (None: clear it) with its date where the server takes one; how many were."""

    def set_listed(self, bucket: str, add: list[Title], remove: list[Title]) -> int:
        """Put titles on, or take them off, the server's mirror list of a Simkl bucket (made when
        missing); how many of them are now as asked. Called every run that writes the server, with
        nothing to add or remove if need be: a holder with two mirrors of one list completes each
        from the other then (a read writes nothing)."""


_IdKey = tuple[Kind, Numbering, "int | None", "int | None", str, "int | str", bool]


def _id_keys(item: Item) -> Iterator[_IdKey]:
    """One lookup key per id an item carries: any one in common is enough to be the same item."""
    numbered = item.kind is Kind.EPISODE and not item.by_episode_ids
    season = item.season if numbered else None
    # Only an episode's place depends on how it is counted: a show or movie is the same whatever
    # numbering one side gives it (Simkl's anime and a server's TVDB-numbered show, as `overlaps` says).
    numbering = item.numbering if item.kind is Kind.EPISODE else Numbering.TV
    for number in (item.episodes or (None,)) if numbered else (None,):
        for name in (*INT_IDS, *STR_IDS):
            value = getattr(item.ids, name)
            if value is not None:
                yield (item.kind, numbering, season, number, name, value, item.by_episode_ids)


class _Entry(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def item(self) -> Item: ...


E = TypeVar("E", bound=_Entry)


class _Index(Generic[E]):
    """One side's library: entries by key, and `find` by any id in common."""

    def __init__(self, items: Iterable[E] = ()):
        self._items: dict[str, E] = {}
        self._by_id: dict[_IdKey, str] = {}
        for entry in items:
            self.add(entry)

    def add(self, entry: E) -> None:
        """Add an item, or replace the one with the same key."""
        self._items[entry.key] = entry
        for k in _id_keys(entry.item):
            self._by_id[k] = entry.key

    def discard(self, key: str) -> None:
        self._items.pop(key, None)  # its id keys stay behind: `find` checks the item is still here

    def find(self, item: Item) -> E | None:
        for k in _id_keys(item):
            key = self._by_id.get(k)
            if key is not None and key in self._items and self._items[key].item.overlaps(item):
                return self._items[key]
        return None

    def __iter__(self) -> Iterator[E]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class Shelf(_Index[LibraryItem]):
    """Movies and episodes with their watched state."""


class TitleShelf(_Index[Title]):
    """Movies and shows with their ratings and buckets."""


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Hundreds of thousands of objects kept while they are made (a library read, a sync's shelves
    and writes) set off the cyclic collector's full walks of the growing heap again and again: 10 of
    them took 1.3 of 6.5 CPU-s of a 55,000-item Plex read, and a third of a 55,000-item sync's CPU.
    What a read or a sync makes holds no cycles; reference counting frees it all the same."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
