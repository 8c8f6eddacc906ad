"""The emulator's per-user state: watches, playbacks and activity stamps, and Simkl's time format.

Written from simkl-api.md, not from what our client sends. History writes follow Simkl's rules for
repeats: an identical resend adds nothing, and with `allow_rewatch` a watch counts again only when
it is two days or more from every recorded one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

REWATCH_GAP = 2 * 86400.0
MAX_REWATCHES = 50
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


@dataclass
class User:
    name: str
    watches: list[Watch] = field(default_factory=list)
    playbacks: list[Playback] = field(default_factory=list)
    activities: dict[str, Any] = field(default_factory=lambda: {
        "all": None, "settings": {"all": None}, **{g: dict.fromkeys(keys) for g, keys in ACTIVITY_KEYS.items()}})
    last_scrobble: dict[tuple[Any, ...], float] = field(default_factory=dict)

    def bump(self, item: dict[str, Any], key: str, now: float) -> None:
        group = {"movie": "movies", "show": "tv_shows", "anime": "anime"}[item["type"]]
        if key in self.activities[group]:
            self.activities[group][key] = self.activities[group]["all"] = self.activities["all"] = stamp(now)

    def add_watch(self, watch: Watch, allow_rewatch: bool) -> bool:
        """Record a watch unless Simkl would treat it as a repeat. True when it counted."""
        same = [w for w in self.watches if (w.simkl, w.season, w.number) == (watch.simkl, watch.season, watch.number)]
        if any(w.watched_at == watch.watched_at for w in same):
            return False  # an identical resend
        if same and not (allow_rewatch and len(same) <= MAX_REWATCHES
                         and all(abs(w.watched_at - watch.watched_at) >= REWATCH_GAP for w in same)):
            return False
        self.watches.append(watch)
        return True

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
