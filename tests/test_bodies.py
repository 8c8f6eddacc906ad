"""What the bridge POSTs to Simkl for each kind of item (simkl-api.md §4, §6)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.events import Ids, Kind, Numbering, PlayEvent, State
from bridge.item import Item
from bridge.library import Title
from bridge.simkl.bodies import history_body, removal_body, scrobble_body, title_body

EP = PlayEvent("kodi", "lr", "alice", "1", Kind.EPISODE, Ids(tvdb=81189, imdb="tt0903747"), State.PAUSED,
               position=450.0, duration=1000.0, title="Breaking Bad", year=2008, season=1, episodes=(2,),
               episode_ids=Ids(tvdb=349232))
MOVIE = PlayEvent("plex", "home", "alice", "9", Kind.MOVIE, Ids(tmdb=603), State.STOPPED, position=1, duration=3, title="The Matrix", year=1999)


def test_movie_history() -> None:
    assert history_body(MOVIE, "2015-03-15T15:30:11Z") == {
        "movies": [{"ids": {"tmdb": 603}, "title": "The Matrix", "year": 1999, "watched_at": "2015-03-15T15:30:11Z"}]}


def test_episode_history_carries_show_ids_numbers_and_episode_ids() -> None:
    body = history_body(EP, "2015-03-15T15:30:11Z")
    assert body == {"shows": [{"ids": {"imdb": "tt0903747", "tvdb": 81189}, "title": "Breaking Bad", "year": 2008,
                               "seasons": [{"number": 1, "episodes": [{"number": 2, "watched_at": "2015-03-15T15:30:11Z",
                                                                        "ids": {"tvdb": 349232}}]}],
                               "use_tvdb_anime_seasons": True}]}


def test_multi_episode_file_lists_every_episode_without_single_episode_ids() -> None:
    body = history_body(replace(EP, episodes=(2, 3, 4)))
    assert body["shows"][0]["seasons"][0]["episodes"] == [{"number": 2}, {"number": 3}, {"number": 4}]


def test_anime_numbering() -> None:
    anidb = replace(EP, ids=Ids(anidb=9541), numbering=Numbering.ANIDB, episode_ids=Ids(), episodes=(4,))
    assert history_body(anidb) == {"anime": [{"ids": {"anidb": 9541}, "title": "Breaking Bad", "year": 2008,
                                              "seasons": [{"number": 1, "episodes": [{"number": 4}]}]}]}
    tvdb_anime = replace(EP, ids=Ids(tvdb=267440, mal=16498), episode_ids=Ids(), season=2, episodes=(4,))
    assert history_body(tvdb_anime)["shows"][0]["use_tvdb_anime_seasons"] is True
    assert scrobble_body(anidb) == {"progress": 45.0, "anime": {"ids": {"anidb": 9541}, "title": "Breaking Bad", "year": 2008},
                                    "episode": {"season": 1, "number": 4}}


def test_scrobble_bodies_have_one_item_and_two_decimal_progress() -> None:
    assert scrobble_body(MOVIE) == {"progress": 33.33, "movie": {"ids": {"tmdb": 603}, "title": "The Matrix", "year": 1999}}
    body = scrobble_body(replace(EP, episodes=(5, 6)))
    assert body["episode"] == {"season": 1, "number": 5} and "show" in body and body["progress"] == 45.0


def test_tvdb_seasons_always_ask_simkl_to_map_anime_seasons() -> None:
    """An anime known only by TVDB/TMDB ids looks like any show: only the flag has Simkl read its
    season 2 as the second cour (blueprint "Handling Anime Seasons"); it is harmless for a show."""
    tvdb_only_anime = replace(EP, ids=Ids(tvdb=267440), title="Attack on Titan", episode_ids=Ids(), season=2, episodes=(4,))
    assert history_body(tvdb_only_anime)["shows"][0]["use_tvdb_anime_seasons"] is True
    anidb = replace(EP, ids=Ids(anidb=9541), numbering=Numbering.ANIDB, episode_ids=Ids(), episodes=(4,))
    assert "use_tvdb_anime_seasons" not in history_body(anidb)["anime"][0]


def test_a_removal_names_one_episode_by_its_show_and_an_anime_under_shows() -> None:
    """The history-removal page: the same item shapes as a history write, no `anime` array, and a
    movie or show with nothing else removed whole: an episode always carries its season and number."""
    assert removal_body(EP) == {"shows": [{"ids": {"imdb": "tt0903747", "tvdb": 81189}, "title": "Breaking Bad",
                                           "year": 2008, "seasons": [{"number": 1, "episodes": [
                                               {"number": 2, "ids": {"tvdb": 349232}}]}],
                                           "use_tvdb_anime_seasons": True}]}
    anidb = replace(EP, ids=Ids(anidb=9541), numbering=Numbering.ANIDB, episode_ids=Ids(), episodes=(4,))
    assert removal_body(anidb) == {"shows": [{"ids": {"anidb": 9541}, "title": "Breaking Bad", "year": 2008,
                                              "seasons": [{"number": 1, "episodes": [{"number": 4}]}]}]}
    assert removal_body(MOVIE) == {"movies": [{"ids": {"tmdb": 603}, "title": "The Matrix", "year": 1999}]}
    with pytest.raises(ValueError, match="by its show"):
        removal_body(replace(EP, ids=Ids()))


def test_a_title_goes_under_movies_shows_or_anime_with_its_title_year_and_ids() -> None:
    matrix = Title(Item(Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093")), "The Matrix", 1999)
    assert title_body(matrix, rating=9) == {"movies": [{"ids": {"imdb": "tt0133093", "tmdb": 603}, "title": "The Matrix",
                                                        "year": 1999, "rating": 9}]}
    bb = Title(Item(Kind.SHOW, Ids(tvdb=81189)), "Breaking Bad")
    assert title_body(bb) == {"shows": [{"ids": {"tvdb": 81189}, "title": "Breaking Bad"}]}
    # An anime: by Simkl's own numbering, or known by an anime id beside its TVDB one.
    assert list(title_body(Title(Item(Kind.SHOW, Ids(anidb=9541), Numbering.ANIDB)))) == ["anime"]
    assert list(title_body(Title(Item(Kind.SHOW, Ids(tvdb=267440, mal=16498))))) == ["anime"]
