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


class Kind(str, Enum):
    MOVIE = "movie"
    EPISODE = "episode"


class State(str, Enum):
    PLAYING = "playing"
    PAUSED = "paused"
    STOPPED = "stopped"
    # The server's own "this viewing is complete" signal (Plex media.scrobble, Jellyfin Played,
    # Kodi playcount bump). It may arrive while the item is still playing.
    WATCHED = "watched"


class Numbering(str, Enum):
    # season/episode as TVDB/TMDB count them (the usual case, also anime scraped from TVDB)
    TV = "tv"
    # AniDB numbering: the anidb id names one cour, episodes count from 1, season is 1 (0 = specials)
    ANIDB = "anidb"


# Id keys Simkl accepts on writes, with the type Simkl expects (simkl-api.md §9).
INT_IDS = ("simkl", "tmdb", "tvdb", "mal", "anidb", "anilist", "kitsu")
STR_IDS = ("imdb",)
ANIME_IDS = ("mal", "anidb", "anilist", "kitsu")


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
        return bool(self.as_dict())

    @property
    def is_anime(self) -> bool:
        return any(getattr(self, k) is not None for k in ANIME_IDS)

    def key(self) -> str:
        """A stable identity string for 'the same item' (used for dedupe and supersede)."""
        d = self.as_dict()
        for name in ("simkl", "anidb", "mal", "tvdb", "tmdb", "imdb", "anilist", "kitsu"):
            if name in d:
                return f"{name}:{d[name]}"
        return ""


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

    @property
    def item_key(self) -> str:
        """Identity of the watched thing: the movie, or the show plus episode numbers."""
        if self.addressed_by_episode_ids:
            return f"episode-ids/{self.episode_ids.key()}"
        base = f"{self.kind.value}/{self.ids.key()}"
        if self.kind is Kind.EPISODE:
            eps = ",".join(str(e) for e in self.episodes)
            base += f"/{self.numbering.value}/s{self.season}e{eps}"
        return base

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kind"] = self.kind.value
        d["state"] = self.state.value
        d["numbering"] = self.numbering.value
        d["ids"] = self.ids.as_dict()
        d["episode_ids"] = self.episode_ids.as_dict()
        d["episodes"] = list(self.episodes)
        return d

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


class EventError(ValueError):
    """A payload that cannot become a PlayEvent. The message names the field that was wrong."""


def from_json(d: Any) -> PlayEvent:
    """Build a PlayEvent from its JSON form (the `event` source of `simkl-bridge map`).

    Raises EventError naming the first bad field.
    """
    from bridge import ids as idsmod  # local: ids depends on events

    if not isinstance(d, dict):
        raise EventError("event: expected a JSON object")

    def need(name: str, typ: type | tuple[type, ...]) -> Any:
        if name not in d:
            raise EventError(f"event.{name}: missing")
        v = d[name]
        if not isinstance(v, typ) or isinstance(v, bool) and typ is not bool:
            raise EventError(f"event.{name}: expected {_tname(typ)}, got {type(v).__name__}")
        return v

    def opt(name: str, typ: type | tuple[type, ...], default: Any) -> Any:
        if d.get(name) is None:
            return default
        return need(name, typ)

    kind = _enum(Kind, need("kind", str), "kind")
    state = _enum(State, need("state", str), "state")
    numbering = _enum(Numbering, opt("numbering", str, "tv"), "numbering")
    ids = idsmod.clean_ids(opt("ids", dict, {}), where="event.ids")
    episode_ids = idsmod.clean_ids(opt("episode_ids", dict, {}), where="event.episode_ids")
    episodes = opt("episodes", list, [])
    if "episode" in d and not episodes:
        episodes = [need("episode", int)]
    for e in episodes:
        if not isinstance(e, int) or isinstance(e, bool) or e < 0:
            raise EventError(f"event.episodes: expected non-negative integers, got {e!r}")
    season = opt("season", int, None)
    if kind is Kind.EPISODE and (season is None or not episodes):
        raise EventError("event.season/episodes: an episode needs a season and an episode number")
    if not ids and not (kind is Kind.EPISODE and episode_ids):
        raise EventError("event.ids: no usable id (tmdb, tvdb, imdb, anidb, mal, ...)")
    return PlayEvent(
        source=opt("source", str, "event"),
        server=opt("server", str, "default"),
        user=opt("user", str, ""),
        session=str(opt("session", (str, int), "1")),
        kind=kind,
        ids=ids,
        state=state,
        position=float(opt("position", (int, float), 0.0)),
        duration=float(opt("duration", (int, float), 0.0)),
        title=opt("title", str, ""),
        year=opt("year", int, None),
        season=season,
        episodes=tuple(episodes),
        episode_ids=episode_ids,
        numbering=numbering,
        matched_by=opt("matched_by", str, "event json ids"),
        at=float(opt("at", (int, float), time.time())),
    )


def _enum(enum: type[Enum], value: str, name: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)  # type: ignore[attr-defined]
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
