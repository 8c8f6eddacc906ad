"""What a request's ids find (bridge/emulator/catalog.py, history.py): unknown items, AniDB cours,
episodes by their own ids."""

from __future__ import annotations

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
