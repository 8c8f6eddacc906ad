"""The emulator's per-user state: watches, playbacks and activity stamps, and Simkl's time format.

Written from Simkl's documentation, not from what our client sends. History writes follow the
Rewatches guide (https://api.simkl.org/guides/rewatches): the regular write comes first (what is new
is recorded, an identical resend adds nothing); only when it would add nothing, `allow_rewatch`
opens a rewatch session, for Pro and VIP users only (a silent no-op for free ones), at most 50 per
item, each watch event two days or more from every other of the same movie or episode. A write
naming an existing `rewatch_id` joins that session instead of opening another.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

REWATCH_GAP = 2 * 86400.0
MAX_REWATCHES = 50
PLANS = ("free", "pro", "vip")
REWATCH_PLANS = ("pro", "vip")
SCROBBLE_WATCHED = 80.0
DUPLICATE_WINDOW = 3600.0


def stamp(ts: float, millis: bool = False) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{dt.microsecond // 1000:03d}Z" if millis else "Z")


def parse_stamp(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class Watch:
    simkl: int
    kind: str  # movie | episode
    title: str
    watched_at: float
    season: int | None = None
    number: int | None = None
    tvdb: tuple[int, int] | None = None  # original TVDB coordinates of an anime episode
    rewatch_id: int | None = None  # the rewatch session it belongs to (None: the canonical history)

    def label(self) -> str:
        return "" if self.season is None else f"S{self.season:02d}E{self.number:02d}"


@dataclass
class Playback:
    id: int
    item: dict[str, Any]
    progress: float
    paused_at: float
    season: int | None = None
    number: int | None = None
    tvdb: tuple[int, int] | None = None


ACTIVITY_KEYS = {
    "tv_shows": ("all", "rated_at", "playback", "plantowatch", "watching", "completed", "hold", "dropped", "removed_from_list"),
    "anime": ("all", "rated_at", "playback", "plantowatch", "watching", "completed", "hold", "dropped", "removed_from_list"),
    "movies": ("all", "rated_at", "playback", "plantowatch", "completed", "dropped", "removed_from_list"),
}
_playback_ids = itertools.count(312312312100)
_rewatch_ids = itertools.count(7480)


@dataclass
class Added:
    """What one request item recorded: how many watch events, and the rewatch session they joined."""

    count: int = 0
    rewatch_id: int | None = None


@dataclass
class User:
    name: str
    watches: list[Watch] = field(default_factory=list)
    playbacks: list[Playback] = field(default_factory=list)
    activities: dict[str, Any] = field(default_factory=lambda: {
        "all": None, "settings": {"all": None}, **{g: dict.fromkeys(keys) for g, keys in ACTIVITY_KEYS.items()}})
    last_scrobble: dict[tuple[Any, ...], float] = field(default_factory=dict)
    plan: str = "free"
    changed: dict[int, float] = field(default_factory=dict)  # simkl id -> when its entry last changed
    started: dict[tuple[Any, ...], tuple[float, float]] = field(default_factory=dict)  # (progress, when) of a start
    lists: dict[int, str] = field(default_factory=dict)  # simkl id -> status set by add-to-list or a rating
    ratings: dict[int, tuple[int, float]] = field(default_factory=dict)  # simkl id -> (rating 1-10, rated_at)
    added: dict[int, float] = field(default_factory=dict)  # simkl id -> when it entered the library
    # (simkl, season, number) of every watch, for "is this a repeat" in a write of thousands, and
    # the (list, length) it was taken of: a removal replaces `watches`, and the set is taken again.
    _seen: set[tuple[int, int | None, int | None]] = field(default_factory=set, init=False, repr=False)
    _seen_of: tuple[int, int] = field(default=(0, -1), init=False, repr=False)

    def bump(self, item: dict[str, Any], key: str, now: float) -> None:
        group = {"movie": "movies", "show": "tv_shows", "anime": "anime"}[item["type"]]
        if key in self.activities[group]:
            self.activities[group][key] = self.activities[group]["all"] = self.activities["all"] = stamp(now)

    def bump_watched(self, item: dict[str, Any], bucket: str, now: float) -> None:
        """A watch was recorded: a planned entry leaves plantowatch for the bucket the write's
        `statuses[].response.status` names (add-to-history), other buckets stay."""
        if self.lists.get(item["ids"]["simkl"]) == "plantowatch":
            self.lists[item["ids"]["simkl"]] = bucket
            self.bump(item, "plantowatch", now)
        self.bump(item, bucket, now)

    def touch(self, simkl: int, now: float) -> None:
        """The entry changed now (what `date_from` selects by); the first change is when it joined."""
        self.changed[simkl] = now
        self.added.setdefault(simkl, now)

    def status_of(self, item: dict[str, Any], watched: bool) -> str | None:
        """The bucket an entry is in: the one it was put in, else the one its watches imply."""
        listed = self.lists.get(item["ids"]["simkl"])
        if listed is not None or not watched:
            return listed
        return "completed" if item["type"] == "movie" else "watching"

    def watched_ids(self) -> set[int]:
        return {key[0] for key in self._keys()}

    def forget(self, simkl: int) -> bool:
        """The entry leaves the library with its bucket and rating (its watches are removed by the
        caller); whether a rating went with it."""
        self.lists.pop(simkl, None)
        self.added.pop(simkl, None)
        return self.ratings.pop(simkl, None) is not None

    def add_watches(self, watches: list[Watch], allow_rewatch: bool, rewatch_id: Any, now: float) -> Added:
        """Record one request item's watch events (a movie, or a show's episodes) as Simkl does."""
        new = [w for w in watches if not self._watched(w)]
        if new or not watches:
            self._record(new, now)
            return Added(len(new))
        if not (allow_rewatch and self.plan in REWATCH_PLANS):
            return Added()
        # Every event is already history: a rewatch, if no date repeats and each is two days apart.
        repeats = [w for w in self.watches if w.simkl == watches[0].simkl]
        if any(w.watched_at == o.watched_at or abs(w.watched_at - o.watched_at) < REWATCH_GAP
               for w in watches for o in repeats if (w.season, w.number) == (o.season, o.number)):
            return Added()
        sessions = {o.rewatch_id for o in repeats if o.rewatch_id is not None}
        if rewatch_id in sessions:
            session = int(rewatch_id)
        elif len(sessions) >= MAX_REWATCHES:
            return Added()
        else:
            session = next(_rewatch_ids)
        for w in watches:
            w.rewatch_id = session
        self._record(watches, now)
        return Added(len(watches), session)

    def add_watch(self, watch: Watch, now: float) -> bool:
        """A watch event outside any history write (a scrobble stop): recorded unless a repeat."""
        return self.add_watches([watch], False, None, now).count == 1

    def _watched(self, watch: Watch) -> bool:
        return (watch.simkl, watch.season, watch.number) in self._keys()

    def _keys(self) -> set[tuple[int, int | None, int | None]]:
        if self._seen_of != (id(self.watches), len(self.watches)):
            self._seen = {(w.simkl, w.season, w.number) for w in self.watches}
            self._seen_of = (id(self.watches), len(self.watches))
        return self._seen

    def _record(self, watches: list[Watch], now: float) -> None:
        seen = self._keys()
        self.watches += watches
        seen.update((w.simkl, w.season, w.number) for w in watches)
        self._seen_of = (id(self.watches), len(self.watches))
        for w in watches:
            self.touch(w.simkl, now)

    def watched_after(self, simkl: int, season: int | None, number: int | None, after: float) -> bool:
        return any((w.simkl, w.season, w.number) == (simkl, season, number) and w.watched_at > after for w in self.watches)

    def save_playback(self, item: dict[str, Any], progress: float, now: float, season: int | None, number: int | None,
                      tvdb: tuple[int, int] | None) -> Playback:
        # Only one playback per show/movie/anime item is kept: latest wins.
        self.drop_playbacks(item["ids"]["simkl"])
        pb = Playback(next(_playback_ids), item, progress, now, season, number, tvdb)
        self.playbacks.append(pb)
        self.bump(item, "playback", now)
        return pb

    def drop_playbacks(self, simkl: int) -> None:
        self.playbacks = [p for p in self.playbacks if p.item["ids"]["simkl"] != simkl]
