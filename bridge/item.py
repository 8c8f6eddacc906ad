"""The one item identity: which movie or episode a play, a write, a resume point or a server's
library object is about.

Pure data. `Ids` are the external ids of a movie or a show; `Item` adds what locates an episode
(season, episode numbers and how they are counted). Two things are the same item when `overlaps`
says so; `key` is the stable string the outbox and the engine index by (it is only ever written,
never parsed back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")
V = TypeVar("V")


class lazy(Generic[T, V]):
    """functools.cached_property without its lock (Python 3.11 takes one at every read): the value
    is computed on first use and stored in the instance's __dict__, which even a frozen dataclass
    has, so later reads are plain attribute reads. Two threads computing it at once get equal values."""

    def __init__(self, compute: Callable[[T], V]):
        self.compute = compute
        self.name = compute.__name__

    @overload
    def __get__(self, instance: None, owner: type[T]) -> lazy[T, V]: ...
    @overload
    def __get__(self, instance: T, owner: type[T]) -> V: ...
    def __get__(self, instance: T | None, owner: type[T]) -> lazy[T, V] | V:
        if instance is None:
            return self
        value = self.compute(instance)
        instance.__dict__[self.name] = value
        return value


class Kind(str, Enum):
    MOVIE = "movie"
    EPISODE = "episode"
    SHOW = "show"  # a show (or anime) as a whole: what ratings and list buckets are about


class Numbering(str, Enum):
    # season/episode as TVDB/TMDB count them (the usual case, also anime scraped from TVDB)
    TV = "tv"
    # AniDB numbering: the anidb id names one cour, episodes count from 1, season is 1 (0 = specials)
    ANIDB = "anidb"


# Id keys Simkl accepts on writes, with the type Simkl expects (simkl-api.md §9).
INT_IDS = ("simkl", "tmdb", "tvdb", "mal", "anidb", "anilist", "kitsu")
STR_IDS = ("imdb",)
ANIME_IDS = ("mal", "anidb", "anilist", "kitsu")
# Which id names an item in its key: the most specific first (an anidb id names one cour, a tvdb id
# the whole show). Outbox rows are keyed by it, so the order is part of the stored format.
ID_PRIORITY = ("simkl", "anidb", "mal", "tvdb", "tmdb", "imdb", "anilist", "kitsu")


@dataclass(frozen=True)
class Ids:
    simkl: int | None = None
    imdb: str | None = None
    tmdb: int | None = None
    tvdb: int | None = None
    mal: int | None = None
    anidb: int | None = None
    anilist: int | None = None
    kitsu: int | None = None

    def as_dict(self) -> dict[str, Any]:
        # vars(), not dataclasses.asdict: the engine calls this per event and asdict deep-copies.
        return {k: v for k, v in vars(self).items() if v is not None}

    def __bool__(self) -> bool:
        return any(v is not None for v in vars(self).values())

    @property
    def is_anime(self) -> bool:
        return any(getattr(self, k) is not None for k in ANIME_IDS)

    def key(self) -> str:
        """The first id by ID_PRIORITY as 'name:value' ('' when there is none)."""
        for name in ID_PRIORITY:
            value = getattr(self, name)
            if value is not None:
                return f"{name}:{value}"
        return ""

    def overlaps(self, other: Ids) -> bool:
        """The one id-overlap rule: the same thing when some provider gives both the same id."""
        mine = self.as_dict()
        return any(mine.get(k) == v for k, v in other.as_dict().items())


@dataclass(frozen=True)
class Item:
    """A movie, or one or more episodes of a show (several for a multi-episode file).

    For a movie `ids` are the movie's; for an episode, the show's, with `season` and `episodes`
    locating it in `numbering`. An episode whose show is unknown is addressed by its own ids alone
    (`by_episode_ids`, with `ids` the episode's)."""

    kind: Kind
    ids: Ids
    numbering: Numbering = Numbering.TV
    season: int | None = None
    episodes: tuple[int, ...] = ()
    by_episode_ids: bool = False

    @lazy
    def key(self) -> str:
        if self.by_episode_ids:
            return f"episode-ids/{self.ids.key()}"
        base = f"{self.kind.value}/{self.ids.key()}"
        if self.kind is Kind.EPISODE:
            eps = ",".join(str(e) for e in self.episodes)
            base += f"/{self.numbering.value}/s{self.season}e{eps}"
        return base

    def overlaps(self, other: Item) -> bool:
        """Whether the two name a common movie or episode: ids overlap and, for episodes, the same
        season holds a common episode number in the same numbering (an anime's TVDB S1E3 and its
        second cour's AniDB S1E3 share a tvdb id, and are different episodes)."""
        if self.kind is not other.kind or self.by_episode_ids != other.by_episode_ids or not self.ids.overlaps(other.ids):
            return False
        if self.kind is not Kind.EPISODE or self.by_episode_ids:
            return True
        return (self.numbering is other.numbering and self.season == other.season
                and not set(self.episodes).isdisjoint(other.episodes))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "ids": self.ids.as_dict(), "numbering": self.numbering.value,
                "season": self.season, "episodes": list(self.episodes), "by_episode_ids": self.by_episode_ids}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Item:
        """The outbox's own stored form (written by `to_json`) back to an Item."""
        return cls(Kind(d["kind"]), Ids(**d["ids"]), Numbering(d["numbering"]), d["season"],
                   tuple(d["episodes"]), bool(d["by_episode_ids"]))
