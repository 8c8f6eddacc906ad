"""The normalized play event: the one shape every adapter produces and the engine consumes.

Pure data. Nothing here knows about a particular media server or about Simkl's HTTP API.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bridge import ids as idsmod
from bridge.item import Ids, Item, Kind, Numbering, lazy
from bridge.wire import EventError, is_count, is_number, shown

__all__ = ["EventError", "Ids", "Item", "Kind", "Numbering", "PlayEvent", "Resume", "State", "from_json"]

# Season and episode numbers Simkl keeps as 32-bit integers; positions, lengths and epoch times in
# seconds stay below 1e11 (the year 5138).
MAX_NUMBER, MAX_SECONDS = 2**31, 1e11


class State(str, Enum):
    PLAYING = "playing"
    PAUSED = "paused"
    STOPPED = "stopped"
    # The server's own "this viewing is complete" signal (Plex media.scrobble, Jellyfin Played,
    # Kodi playcount bump). It may arrive while the item is still playing.
    WATCHED = "watched"



@dataclass(frozen=True)
class PlayEvent:
    """One thing a media server told us about one playback session.

    For a movie, `ids` are the movie's ids. For an episode, `ids` are the *show's* ids, `season` and
    `episodes` locate it (several numbers for a multi-episode file), and `episode_ids` carries the
    episode's own ids when the server knows them.
    """

    source: str  # plex | jellyfin | kodi | event | ...
    server: str  # configured server name (or the server's own id)
    user: str  # the media-server user name, as the server reports it
    session: str  # unique within (source, server) for the lifetime of one playback
    kind: Kind
    ids: Ids
    state: State
    position: float = 0.0  # seconds
    duration: float = 0.0  # seconds; 0 when unknown
    title: str = ""
    year: int | None = None
    season: int | None = None
    episodes: tuple[int, ...] = ()
    episode_ids: Ids = field(default_factory=Ids)
    numbering: Numbering = Numbering.TV
    matched_by: str = ""  # how the ids were obtained, e.g. "plex guid tmdb://603"
    at: float = field(default_factory=time.time)  # epoch seconds when the server said it

    def __post_init__(self) -> None:
        # Every source's numbers are checked where they meet: a position of 1e999 would read as a
        # 100% pause, a season of 10**16 names no episode (Simkl keeps 32-bit numbers).
        for name, value in (("position", self.position), ("duration", self.duration), ("at", self.at)):
            if not 0 <= value < MAX_SECONDS:  # NaN fails too
                raise EventError(f"{self.source} {name}: {shown(value)} is not a time in seconds")
        if self.season is not None and not 0 <= self.season < MAX_NUMBER:
            raise EventError(f"{self.source} season: {shown(self.season)} is not a season number")
        if not all(0 <= e < MAX_NUMBER for e in self.episodes):
            raise EventError(f"{self.source} episodes: {shown(self.episodes)} are not episode numbers")
        if self.year is not None and not 0 < self.year < 10_000:
            raise EventError(f"{self.source} year: {shown(self.year)} is not a year")

    @property
    def progress(self) -> float:
        """Percent 0-100 (two decimals), or 0 when the duration is unknown."""
        if self.duration <= 0:
            return 0.0
        return round(min(100.0, max(0.0, self.position * 100.0 / self.duration)), 2)

    @property
    def addressed_by_episode_ids(self) -> bool:
        """An episode whose show's ids are unknown (e.g. a webhook that names only the episode):
        Simkl can still mark it by the episode's own ids, but cannot scrobble it."""
        return self.kind is Kind.EPISODE and not self.ids and bool(self.episode_ids)

    @lazy
    def item(self) -> Item:
        """Identity of the watched thing: the movie, or the show plus episode numbers."""
        if self.addressed_by_episode_ids:
            return Item(self.kind, self.episode_ids, self.numbering, self.season, self.episodes, by_episode_ids=True)
        return Item(self.kind, self.ids, self.numbering, self.season, self.episodes)

    @property
    def item_key(self) -> str:
        return self.item.key

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["kind"] = self.kind.value
        d["state"] = self.state.value
        d["numbering"] = self.numbering.value
        d["ids"] = self.ids.as_dict()
        d["episode_ids"] = self.episode_ids.as_dict()
        d["episodes"] = list(self.episodes)
        return d

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


_REQUIRED = object()
_STR, _INT, _NUM, _DICT, _LIST, _KEY = (str,), (int,), (int, float), (dict,), (list,), (str, int)


def _field(d: dict[str, Any], name: str, types: tuple[type, ...], default: Any = _REQUIRED) -> Any:
    """One field of an event's JSON form. `type(v) in types`, not isinstance: JSON's bool is an int."""
    v = d.get(name)
    if v is None:
        if default is _REQUIRED:
            if name in d:
                raise EventError(f"event.{name}: expected {_tname(types)}, got null")
            raise EventError(f"event.{name}: missing")
        return default
    if type(v) not in types:
        raise EventError(f"event.{name}: expected {_tname(types)}, got {type(v).__name__}")
    return v


def from_json(d: Any) -> PlayEvent:
    """Build a PlayEvent from its JSON form (the `event` source of `simkl-bridge map`, the Kodi
    addon, scripts). Raises EventError naming the first bad field."""
    if not isinstance(d, dict):
        raise EventError("event: expected a JSON object")
    kind = _enum(Kind, _field(d, "kind", _STR), "kind")
    state = _enum(State, _field(d, "state", _STR), "state")
    numbering = _enum(Numbering, _field(d, "numbering", _STR, "tv"), "numbering")
    raw_ids, raw_episode_ids = _field(d, "ids", _DICT, None), _field(d, "episode_ids", _DICT, None)
    ids = idsmod.clean_ids(raw_ids, where="event.ids") if raw_ids else Ids()
    episode_ids = idsmod.clean_ids(raw_episode_ids, where="event.episode_ids") if raw_episode_ids else Ids()
    episodes = _field(d, "episodes", _LIST, [])
    if "episode" in d and not episodes:
        episodes = [_field(d, "episode", _INT)]
    for e in episodes:
        if not is_count(e):
            raise EventError(f"event.episodes: expected non-negative integers, got {shown(e)}")
    season = _field(d, "season", _INT, None)
    if kind is Kind.EPISODE and (season is None or not episodes):
        raise EventError("event.season/episodes: an episode needs a season and an episode number")
    if not ids and not (kind is Kind.EPISODE and episode_ids):
        raise EventError("event.ids: no usable id (tmdb, tvdb, imdb, anidb, mal, ...)")
    at = d.get("at")
    return PlayEvent(
        source=_field(d, "source", _STR, "event"),
        server=_field(d, "server", _STR, "default"),
        user=_field(d, "user", _STR, ""),
        session=str(_field(d, "session", _KEY, "1")),
        kind=kind,
        ids=ids,
        state=state,
        position=_seconds(_field(d, "position", _NUM, 0.0), "position"),
        duration=_seconds(_field(d, "duration", _NUM, 0.0), "duration"),
        title=_field(d, "title", _STR, ""),
        year=_field(d, "year", _INT, None),
        season=season,
        episodes=tuple(episodes),
        episode_ids=episode_ids,
        numbering=numbering,
        matched_by=_field(d, "matched_by", _STR, "event json ids"),
        at=_seconds(_field(d, "at", _NUM) if at is not None else time.time(), "at"),
    )


def _seconds(value: int | float, name: str) -> float:
    # NaN, Infinity and ints past float range are no position: 1e999 would read as a 100% pause.
    if not is_number(value) or value < 0:
        raise EventError(f"event.{name}: expected a finite non-negative number of seconds")
    return float(value)


def _enum(enum: type[Enum], value: str, name: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise EventError(f"event.{name}: {value!r} is not one of {allowed}") from None


def _tname(typ: type | tuple[type, ...]) -> str:
    if isinstance(typ, tuple):
        return " or ".join(t.__name__ for t in typ)
    return typ.__name__


@dataclass(frozen=True)
class Resume:
    """A paused position from the user's Simkl account, in server-neutral terms.

    Reconciliation builds these from `GET /sync/playback` and hands them to each adapter's
    `apply_resume`, which sets the server's own resume point when Simkl's is newer.
    """

    account: str
    kind: Kind
    ids: Ids  # movie ids, or the show's ids for an episode
    progress: float  # percent 0-100
    paused_at: float  # epoch seconds
    season: int | None = None
    episode: int | None = None
    title: str = ""

    def numbers_fit(self, show_numbering: Numbering | None) -> bool:
        """Whether this playback's season/episode name the same episode in a server's show counted
        with `show_numbering` (None: unknown). Simkl counts an anime's episodes per cour, like
        AniDB; a show counted by TVDB/TMDB seasons may put the same numbers on another episode."""
        return not self.ids.is_anime or show_numbering is Numbering.ANIDB

    @property
    def item(self) -> Item:
        # Simkl numbers an anime's episodes per cour, as AniDB does (see numbers_fit).
        episodes = (self.episode,) if self.episode is not None else ()
        numbering = Numbering.ANIDB if self.kind is Kind.EPISODE and self.ids.is_anime else Numbering.TV
        return Item(self.kind, self.ids, numbering, self.season, episodes)
