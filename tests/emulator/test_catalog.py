"""What a request's ids find (bridge/emulator/catalog.py, history.py): unknown items, AniDB cours,
episodes by their own ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

import bridge.emulator.catalog
from bridge.emulator.catalog import ID_KEYS, Catalog, wanted_ids
from tests.emulator.helpers import MATRIX, call, watches


def test_not_found_echoes_unmodified_items_and_has_no_anime_bucket(emulator) -> None:
    unknown_movie = {"title": "Nope", "ids": {"tmdb": 999999999}}
    unknown_anime = {"ids": {"anidb": 999999}, "episodes": [{"number": 1}]}
    r = call(emulator, "POST", "/sync/history", {"movies": [MATRIX, unknown_movie], "anime": [unknown_anime]}).json()
    assert r["added"]["movies"] == 1
    assert r["not_found"] == {"movies": [unknown_movie], "shows": [unknown_anime], "episodes": []}


def test_anime_tvdb_seasons_map_onto_anidb_cours(emulator) -> None:
    body = {"shows": [{"ids": {"tvdb": 267440}, "use_tvdb_anime_seasons": True, "seasons": [{"number": 2, "episodes": [{"number": 4}]}]}]}
    call(emulator, "POST", "/sync/history", body)
    (w,) = watches(emulator)
    assert (w["title"], w["season"], w["number"], w["tvdb"]) == ("Shingeki no Kyojin Season 2", 1, 4, [2, 4])
    r = call(emulator, "POST", "/scrobble/pause", {"progress": 10, "show": {"ids": {"tmdb": 1429}}, "episode": {"season": 2, "number": 5}}).json()
    assert "anime" in r and r["episode"] == {"season": 1, "number": 5, "tvdb_season": 2, "tvdb_number": 5}


def test_top_level_episodes_resolve_by_their_own_ids(emulator) -> None:
    by_tvdb = {"ids": {"tvdb": 349232}, "watched_at": "2026-01-02T03:04:05Z"}
    by_imdb_url = {"ids": {"imdb": "https://www.imdb.com/title/tt0959621/"}, "watched_at": "2026-01-02T03:04:05Z"}
    unknown = {"ids": {"tvdb": 1}}
    r = call(emulator, "POST", "/sync/history", {"episodes": [by_tvdb, by_imdb_url, unknown]}).json()
    assert r["added"]["episodes"] == 2
    # The add-to-history reference echoes a top-level episode reduced: its ids as strings.
    assert r["not_found"]["episodes"] == [{"ids": {"tvdb": "1"}}]
    watches = emulator.state()["users"]["alice"]["watches"]
    assert sorted((w["title"], w["season"], w["number"]) for w in watches) == [("Breaking Bad", 1, 1), ("Breaking Bad", 1, 2)]


def test_without_the_flag_an_animes_tvdb_season_is_a_separate_series(emulator) -> None:
    """Blueprint, "Handling Anime Seasons": anime seasons are separate series unless the item says
    use_tvdb_anime_seasons. TVDB S2E4 without it lands on the first entry, which has no season 2:
    answered 201 with nothing counted and nothing in not_found, as Simkl answers it."""
    body = {"shows": [{"ids": {"tvdb": 267440}, "seasons": [{"number": 2, "episodes": [{"number": 4}]}]}]}
    r = call(emulator, "POST", "/sync/history", body)
    assert r.status_code == 201
    assert (r.json()["added"]["episodes"], r.json()["not_found"]["shows"]) == (0, [])
    assert watches(emulator) == []
    season_one = {"shows": [{"ids": {"tvdb": 267440}, "seasons": [{"number": 1, "episodes": [{"number": 4}]}]}]}
    call(emulator, "POST", "/sync/history", season_one)
    assert [(w["title"], w["label"]) for w in watches(emulator)] == [("Shingeki no Kyojin", "S01E04")]


def test_an_episodes_own_ids_win_over_its_number(emulator) -> None:
    # Blueprint, "Episode-Level External IDs": ids beside the number take priority for matching.
    body = {"shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [
        {"number": 7, "ids": {"tvdb": 349232}}, {"number": 3, "ids": {"tvdb": 1}}]}]}]}
    assert call(emulator, "POST", "/sync/history", body).json()["added"]["episodes"] == 2
    assert sorted(w["label"] for w in watches(emulator)) == ["S01E02", "S01E03"]  # unknown ids: the number


# -- the catalog's indexes answer as its scans did ---------------------------------------------------
# The scans below are the catalog's lookups as they were before it had indexes: each index must
# give the same item for every question, on the shipped catalog and on one with ids shared across
# types and repeated, where "the first in catalog order" decides.

def scan_find(items: list[dict], request, types: tuple[str, ...]):
    if not isinstance(request, dict):
        return None
    wanted = wanted_ids(request.get("ids"))
    candidates = [i for i in items if i["type"] in types]
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


def scan_cours(items: list[dict], anime: dict) -> list[dict]:
    tvdb = anime["ids"].get("tvdb")
    same = [i for i in items if i["type"] == "anime" and tvdb is not None and i["ids"].get("tvdb") == tvdb]
    return sorted(same or [anime], key=lambda i: i.get("tvdb_season", 1))


def scan_episode(items: list[dict], ids, within=None):
    wanted = set(wanted_ids(ids).items())
    for item in [within] if within is not None else items:
        for coords, known in (item.get("episode_ids") or {}).items():
            if wanted & {(k, str(v)) for k, v in known.items()}:
                season, number = coords.split("x")
                return item, int(season), int(number)
    return None


SHIPPED = json.loads((Path(bridge.emulator.catalog.__file__).with_name("catalog.json")).read_text())
CROWDED = [
    *SHIPPED,
    {"type": "show", "title": "The Matrix", "year": 1999, "ids": {"tmdb": 603, "tvdb": 1}, "seasons": {"1": 3},
     "episode_ids": {"1x1": {"tvdb": 349238}, "1x2": {"tvdb": 349238, "imdb": "tt7"}}},  # Breaking Bad's 1x1 id
    {"type": "movie", "title": "the matrix", "year": 2021, "ids": {"imdb": "tt0133093", "tmdb": "603"}},
    {"type": "anime", "title": "Cowboy Bebop: Season 2", "ids": {"tvdb": 76885, "anidb": 1}, "episodes": 5,
     "tvdb_season": 2},
    {"type": "anime", "title": "Cowboy Bebop Special", "ids": {"tvdb": 76885}, "episodes": 1, "tvdb_season": 0},
    {"type": "movie", "title": "No Ids"},
    {"type": "movie", "title": "The Matrix Again", "ids": {"simkl": 53992}},
]
TYPES = [("movie",), ("show",), ("anime",), ("show", "anime"), ("movie", "show", "anime")]


def questions(items: list[dict]) -> list:
    """Every id of every item, as sent and as a string (an IMDb id also as a URL), alone and after
    an id that finds nothing; titles in other cases, with and without the right year; misses."""
    asked: list = [None, "x", {}, {"ids": None}, {"ids": {"tmdb": "None"}}, {"ids": {"tmdb": 999999999}},
                   {"ids": {"slug": "the-matrix"}}, {"title": ""}, {"title": "Nope"}]
    for item in items:
        for key, value in item["ids"].items():
            for sent in {value, str(value)}:
                asked += [{"ids": {key: sent}}, {"ids": {"simkl": 1, key: sent}}]
            if key == "imdb":
                asked.append({"ids": {"imdb": f"https://www.imdb.com/title/{value}/"}})
        for title in {item["title"], item["title"].upper()}:
            asked += [{"title": title}, {"title": title, "year": item.get("year")}, {"title": title, "year": 1},
                      {"title": title, "ids": {"tmdb": 999999999}}]
    return asked


@pytest.mark.parametrize("items", [SHIPPED, CROWDED], ids=["shipped", "crowded"])
def test_indexed_lookups_answer_as_the_scans_did(items) -> None:
    catalog = Catalog(items)
    stored = catalog.items
    for request in questions(stored):
        for types in TYPES:
            assert catalog.find(request, types) is scan_find(stored, request, types), (request, types)
    for item in stored:
        assert catalog.by_simkl(item["ids"]["simkl"]) is next(i for i in stored if i["ids"]["simkl"] == item["ids"]["simkl"])
        if item["type"] == "anime":
            assert catalog.cours(item) == scan_cours(stored, item)
            assert [id(i) for i in catalog.cours(item)] == [id(i) for i in scan_cours(stored, item)]
    assert catalog.by_simkl(1) is None
    episode_ids = [{k: sent} for item in stored for known in (item.get("episode_ids") or {}).values()
                   for k, v in known.items() for sent in (v, str(v))]
    for ids in [*episode_ids, {"tvdb": 1}, {"imdb": "https://www.imdb.com/title/tt0959621/"}, None, {}]:
        assert catalog.find_episode(ids) == scan_episode(stored, ids), ids
        for show in stored:
            assert catalog.find_episode(ids, within=show) == scan_episode(stored, ids, show), (ids, show["title"])


def test_an_item_added_later_is_found_and_ids_that_are_not_numbers_or_strings_are_refused(emulator) -> None:
    sintel2 = emulator.add_catalog({"type": "movie", "title": "Sintel 2", "year": 2030, "ids": {"tmdb": 4242}})
    r = call(emulator, "POST", "/sync/history", {"movies": [{"ids": {"simkl": sintel2["ids"]["simkl"]}},
                                                            {"title": "sintel 2", "year": 2030}]}).json()
    assert r["added"]["movies"] == 1 and r["not_found"]["movies"] == []
    bad = requests.post(emulator.url + "/_emulator/catalog", json={"item": {"type": "movie", "title": "Odd",
                                                                           "ids": {"tmdb": [1]}}}, timeout=10)
    assert bad.status_code == 400 and "tmdb" in bad.json()["error"]
