"""The emulator's catalog: what Simkl knows, and how a request's ids or title find an item.

Items resolve by ids (or exact title + year); anime follow AniDB (one entry per cour), with TVDB
seasons mapped onto the cours. The stock catalog is catalog.json beside this file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ID_KEYS = ("simkl", "imdb", "tmdb", "tvdb", "mal", "anidb", "anilist", "kitsu")
# Ids that name one AniDB entry (one cour): numbering sent with them is the entry's own.
ANIME_NATIVE = ("simkl", "mal", "anidb", "anilist", "kitsu")
# (item, season, number, original TVDB coordinates of an anime episode)
Located = tuple[dict[str, Any] | None, int | None, int | None, tuple[int, int] | None]


def wanted_ids(ids: Any) -> dict[str, str]:
    """The ids a request names, as strings (Simkl takes ints or numeric strings; IMDb also as a URL)."""
    if not isinstance(ids, dict):
        return {}
    wanted = {k: str(v) for k, v in ids.items() if k in ID_KEYS and v not in (None, "")}
    if "imdb" in wanted and "/" in wanted["imdb"]:
        wanted["imdb"] = next((p for p in wanted["imdb"].split("/") if p.startswith("tt")), wanted["imdb"])
    return wanted


class Catalog:
    """The items, with indexes that answer each lookup as a scan of `items` in order would (a
    55,000-episode library sync asks tens of thousands of them)."""

    def __init__(self, items: list[dict[str, Any]] | None = None):
        if items is None:
            items = json.loads((Path(__file__).with_name("catalog.json")).read_text())
        self.items: list[dict[str, Any]] = []
        # (id key, the value as str) -> items, every ID_KEYS key included: a missing one is "None",
        # as str() of the scan's .get() made it.
        self._by_id: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._by_title: dict[str, list[dict[str, Any]]] = {}
        self._by_simkl: dict[Any, dict[str, Any]] = {}
        self._cours: dict[Any, list[dict[str, Any]]] = {}  # an anime's tvdb id -> its cours, in catalog order
        # (id key, value as str) -> (item's position, the id's position in its episode_ids, item, "SxN")
        self._episodes: dict[tuple[str, str], list[tuple[int, int, dict[str, Any], str]]] = {}
        for item in items:
            self.add(item)

    def add(self, item: dict[str, Any]) -> dict[str, Any]:
        item = copy.deepcopy(item)
        ids = item.setdefault("ids", {})
        ids.setdefault("simkl", 900000 + len(self.items))
        odd = [k for k, v in ids.items() if not isinstance(v, (str, int, float, type(None)))]
        if odd:
            raise ValueError(f"catalog item ids must be numbers or strings: {', '.join(odd)}")
        position = len(self.items)
        self.items.append(item)
        for key in ID_KEYS:
            self._by_id.setdefault((key, str(ids.get(key))), []).append(item)
        if isinstance(item.get("title"), str):
            self._by_title.setdefault(item["title"].casefold(), []).append(item)
        self._by_simkl.setdefault(ids["simkl"], item)
        if item.get("type") == "anime" and ids.get("tvdb") is not None:
            self._cours.setdefault(ids["tvdb"], []).append(item)
        for n, (coords, known) in enumerate((item.get("episode_ids") or {}).items()):
            for k, v in known.items():
                self._episodes.setdefault((k, str(v)), []).append((position, n, item, coords))
        return item

    def find(self, request: Any, types: tuple[str, ...]) -> dict[str, Any] | None:
        """The catalog item a request item means: by any id (tmdb within movie vs tv), else title+year."""
        if not isinstance(request, dict):
            return None
        wanted = wanted_ids(request.get("ids"))
        for key in ID_KEYS:
            if key in wanted:
                hit = next((i for i in self._by_id.get((key, wanted[key]), ()) if i["type"] in types), None)
                if hit is not None:
                    return hit
        title = request.get("title")
        if isinstance(title, str) and title and not wanted:
            year = request.get("year")
            for i in self._by_title.get(title.casefold(), ()):
                if i["type"] in types and (year is None or i.get("year") == year):
                    return i
        return None

    def by_simkl(self, simkl: Any) -> dict[str, Any] | None:
        """The first item with this simkl id."""
        return self._by_simkl.get(simkl)

    def cours(self, anime: dict[str, Any]) -> list[dict[str, Any]]:
        """The AniDB entries sharing this anime's TVDB id, by TVDB season."""
        tvdb = anime["ids"].get("tvdb")
        same = self._cours.get(tvdb, []) if tvdb is not None else []
        return sorted(same or [anime], key=lambda i: i.get("tvdb_season", 1))

    def tvdb_to_anidb(self, anime: dict[str, Any], season: int, number: int) -> tuple[dict[str, Any], int] | None:
        for cour in self.cours(anime):
            if cour.get("tvdb_season", 1) == season:
                return (cour, number) if 1 <= number <= cour.get("episodes", 0) else None
        return None

    def find_episode(self, ids: Any, within: dict[str, Any] | None = None) -> tuple[dict[str, Any], int, int] | None:
        """(show, season, number) of the episode these episode-level ids name, by any shared id;
        `within` (a catalog item) looks only among that show's episodes."""
        wanted = wanted_ids(ids).items()
        hits = [hit for pair in wanted for hit in self._episodes.get(pair, ()) if within is None or hit[2] is within]
        if not hits:
            return None
        _, _, item, coords = min(hits, key=lambda hit: hit[:2])  # the scan's first: by item, then episode
        season, number = coords.split("x")
        return item, int(season), int(number)

    def locate(self, item: dict[str, Any], season: int, number: int, tvdb_anime: bool) -> Located:
        """The catalog episode at season/number: an anime read TVDB-style lands on the cour that
        TVDB season maps to; read as itself, an anime has only season 1 (and 0, specials)."""
        if tvdb_anime:
            mapped = self.tvdb_to_anidb(item, season, number)
            if mapped is None:
                return None, None, None, None
            return mapped[0], 1, mapped[1], (season, number)
        if not self.has_episode(item, season, number):
            return None, None, None, None
        return item, season, number, None

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
