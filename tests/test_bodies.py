"""What the bridge POSTs to Simkl for each kind of item (simkl-api.md §4, §6)."""

from __future__ import annotations

from dataclasses import replace

from bridge.events import Ids, Kind, Numbering, PlayEvent, State
from bridge.simkl.bodies import history_body, scrobble_body

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
