"""Simkl's all-items replies as the sync's Simkl side (bridge/simkl/library.py)."""

from __future__ import annotations

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import Shelf
from bridge.simkl.library import library_items, listed_simkl_ids

REPLY = {
    "movies": [{"last_watched_at": "2024-01-15T10:30:00Z", "status": "completed",
                "movie": {"title": "The Matrix", "year": 1999, "ids": {"simkl": 53992, "imdb": "tt0133093", "tmdb": "603"}}},
               {"status": "plantowatch", "movie": {"title": "Dune", "ids": {"simkl": 1, "tmdb": "438631"}}}],
    "shows": [{"last_watched_at": "2024-02-01T00:00:00Z", "status": "watching",
               "show": {"title": "Breaking Bad", "year": 2008, "ids": {"simkl": 17465, "tvdb": "81189", "tmdb": "1396"}},
               "seasons": [{"number": 1, "episodes": [{"number": 1, "watched_at": "2024-01-31T20:00:00Z"},
                                                      {"number": 2}]}]}],
    "anime": [{"last_watched_at": "2024-03-01T00:00:00Z", "status": "watching",
               "show": {"title": "Shingeki no Kyojin Season 2", "ids": {"simkl": 39687, "anidb": "10944", "tvdb": "267440"}},
               "seasons": [{"number": 1, "episodes": [{"number": 4, "tvdb": {"season": 2, "episode": 4}}]}]}],
}


def test_every_watched_movie_and_episode_with_its_date() -> None:
    items = library_items(REPLY)
    assert [(i.key, i.watched_at) for i in items] == [
        ("movie/simkl:53992", 1705314600.0),
        ("episode/simkl:17465/tv/s1e1", 1706731200.0),
        ("episode/simkl:17465/tv/s1e2", 1706745600.0),  # no date of its own: the show's last
        ("episode/simkl:39687/anidb/s1e4", 1709251200.0),
        ("episode/simkl:39687/tv/s2e4", 1709251200.0),  # where TVDB puts it, for a TVDB-numbered server
    ]
    shelf = Shelf(items)
    assert shelf.find(Item(Kind.MOVIE, Ids(tmdb=603))) is not None  # ids come as strings
    assert shelf.find(Item(Kind.EPISODE, Ids(tvdb=267440), Numbering.TV, 2, (4,))) is not None
    assert shelf.find(Item(Kind.EPISODE, Ids(tvdb=267440), Numbering.TV, 1, (4,))) is None


def test_an_empty_library_may_be_null_or_an_empty_object_and_junk_is_skipped() -> None:
    assert library_items(None) == [] and library_items({}) == [] and library_items([1, 2]) == []
    junk = {"movies": [None, {"movie": "x"}, {"status": "completed", "movie": {"ids": {"tmdb": "x"}}}],
            "shows": [{"show": {"ids": {"tvdb": 1}}, "seasons": [{"number": "1"}, {"number": 1, "episodes": [{"number": True}]}]}]}
    assert library_items(junk) == []


def test_an_ids_only_read_lists_what_is_still_in_the_library() -> None:
    assert listed_simkl_ids(REPLY) == {53992, 1, 17465, 39687}
    assert listed_simkl_ids(None) == set()
