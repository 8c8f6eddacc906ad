"""What a library holds, in server-neutral terms: the media servers' libraries and the Simkl
account's, as the sync compares them.

Pure data. A `LibraryItem` is one movie or ONE episode (a multi-episode file is one item per
episode, sharing its `ref`), with its watched state and date. A `Shelf` is a side's whole library
with a lookup by the one identity rule (`Item.overlaps`): two sides never need the same key for an
item, only an id in common.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.item import INT_IDS, STR_IDS, Ids, Item, Kind, Numbering, lazy


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
        # Items without ids would all share one key: the holder's own handle tells them apart.
        # Computed once: a sync of 55,000 items asks each for it a dozen times.
        return self.item.key if self.item.ids else f"{self.item.key}@{self.ref}"

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


class LibraryHolder(Protocol):
    """A media server's library, as its adapter offers it (bridge/adapters/<server>/library.py)."""

    name: str

    def read_library(self) -> list[LibraryItem]:
        """Every movie and episode, watched or not; raises rather than return part of it."""

    def mark_watched(self, marks: list[tuple[LibraryItem, float | None]]) -> int:
        """Mark these watched (at the date where the server takes one); how many were."""

    def mark_unwatched(self, entries: list[LibraryItem]) -> int: ...


_IdKey = tuple[Kind, Numbering, "int | None", "int | None", str, "int | str", bool]


def _id_keys(item: Item) -> Iterator[_IdKey]:
    """One lookup key per id an item carries: any one in common is enough to be the same item."""
    numbered = item.kind is Kind.EPISODE and not item.by_episode_ids
    season = item.season if numbered else None
    for number in (item.episodes or (None,)) if numbered else (None,):
        for name in (*INT_IDS, *STR_IDS):
            value = getattr(item.ids, name)
            if value is not None:
                yield (item.kind, item.numbering, season, number, name, value, item.by_episode_ids)


class Shelf:
    """One side's library: LibraryItems by key, and `find` by any id in common."""

    def __init__(self, items: Iterable[LibraryItem] = ()):
        self._items: dict[str, LibraryItem] = {}
        self._by_id: dict[_IdKey, str] = {}
        for entry in items:
            self.add(entry)

    def add(self, entry: LibraryItem) -> None:
        """Add an item, or replace the one with the same key."""
        self._items[entry.key] = entry
        for k in _id_keys(entry.item):
            self._by_id[k] = entry.key

    def discard(self, key: str) -> None:
        self._items.pop(key, None)  # its id keys stay behind: `find` checks the item is still here

    def find(self, item: Item) -> LibraryItem | None:
        for k in _id_keys(item):
            key = self._by_id.get(k)
            if key is not None and key in self._items and self._items[key].item.overlaps(item):
                return self._items[key]
        return None

    def __iter__(self) -> Iterator[LibraryItem]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


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
