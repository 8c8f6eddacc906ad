"""The emulator's Simkl: a catalog, and per user the watches, playbacks and activity stamps.

Written from simkl-api.md, not from what our client sends. Items resolve by ids (or exact
title + year); anime follow AniDB (one entry per cour), with TVDB seasons mapped onto the cours.
History writes follow Simkl's rules for repeats: an identical resend adds nothing, and with
`allow_rewatch` a watch counts again only when it is two days or more from every recorded one.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REWATCH_GAP = 2 * 86400.0
MAX_REWATCHES = 50
SCROBBLE_WATCHED = 80.0
DUPLICATE_WINDOW = 3600.0
ID_KEYS = ("simkl", "imdb", "tmdb", "tvdb", "mal", "anidb", "anilist", "kitsu")


def stamp(ts: float, millis: bool = False) -> str:
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{dt.microsecond // 1000:03d}Z" if millis else "Z")


def parse_stamp(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def wanted_ids(ids: Any) -> dict[str, str]:
    """The ids a request names, as strings (Simkl takes ints or numeric strings; IMDb also as a URL)."""
    if not isinstance(ids, dict):
        return {}
    wanted = {k: str(v) for k, v in ids.items() if k in ID_KEYS and v not in (None, "")}
    if "imdb" in wanted and "/" in wanted["imdb"]:
        wanted["imdb"] = next((p for p in wanted["imdb"].split("/") if p.startswith("tt")), wanted["imdb"])
    return wanted


class Catalog:
    def __init__(self, items: list[dict[str, Any]] | None = None):
        if items is None:
            items = json.loads((Path(__file__).with_name("catalog.json")).read_text())
        self.items: list[dict[str, Any]] = []
        for item in items:
            self.add(item)

    def add(self, item: dict[str, Any]) -> dict[str, Any]:
        item = copy.deepcopy(item)
        item.setdefault("ids", {}).setdefault("simkl", 900000 + len(self.items))
        self.items.append(item)
        return item

    def find(self, request: Any, types: tuple[str, ...]) -> dict[str, Any] | None:
        """The catalog item a request item means: by any id (tmdb within movie vs tv), else title+year."""
        if not isinstance(request, dict):
            return None
        wanted = wanted_ids(request.get("ids"))
        candidates = [i for i in self.items if i["type"] in types]
        for key in ID_KEYS:
            if key in wanted:
                hits = [i for i in candidates if str(i["ids"].get(key)) == wanted[key]]
                if hits:
                    return hits[0]
        title = request.get("title")
        if isinstance(title, str) and title and not wanted:
            year = request.get("year")
            for i in candidates:
                if i["title"].casefold() == title.casefold() and (year is None or i.get("year") == year):
                    return i
        return None

    def cours(self, anime: dict[str, Any]) -> list[dict[str, Any]]:
        """The AniDB entries sharing this anime's TVDB id, by TVDB season."""
        tvdb = anime["ids"].get("tvdb")
        same = [i for i in self.items if i["type"] == "anime" and tvdb is not None and i["ids"].get("tvdb") == tvdb]
        return sorted(same or [anime], key=lambda i: i.get("tvdb_season", 1))

    def tvdb_to_anidb(self, anime: dict[str, Any], season: int, number: int) -> tuple[dict[str, Any], int] | None:
        for cour in self.cours(anime):
            if cour.get("tvdb_season", 1) == season:
                return (cour, number) if 1 <= number <= cour.get("episodes", 0) else None
        return None

    def find_episode(self, ids: Any) -> tuple[dict[str, Any], int, int] | None:
        """(show, season, number) of the episode these episode-level ids name, by any shared id."""
        wanted = set(wanted_ids(ids).items())
        for item in self.items:
            for coords, known in (item.get("episode_ids") or {}).items():
                if wanted & {(k, str(v)) for k, v in known.items()}:
                    season, number = coords.split("x")
                    return item, int(season), int(number)
        return None

    @staticmethod
    def has_episode(item: dict[str, Any], season: int, number: int) -> bool:
        if item["type"] == "anime":
            return season in (0, 1) and 1 <= number <= item.get("episodes", 0)
        return 1 <= number <= int(item.get("seasons", {}).get(str(season), 0))


def echo_ids(item: dict[str, Any]) -> dict[str, Any]:
    """Simkl answers with the resolved ids; external ids frequently come back as strings."""
    return {k: (v if k == "simkl" else str(v)) for k, v in item["ids"].items()}


def media_echo(item: dict[str, Any]) -> dict[str, Any]:
    out = {"title": item["title"], "year": item.get("year"), "ids": echo_ids(item)}
    if item["type"] in ("movie", "anime"):
        out["anime_type"] = item.get("anime_type")
    return out


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
