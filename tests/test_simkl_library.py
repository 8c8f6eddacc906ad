"""Simkl's all-items and ratings replies as the sync's Simkl side (bridge/simkl/library.py)."""

from __future__ import annotations

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import Shelf, Title
from bridge.simkl.library import library_items, library_titles, listed_simkl_ids

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


# The get-user-ratings page's example reply (https://api.simkl.org/api-reference/simkl/get-user-ratings).
RATINGS = {
    "shows": [{"last_watched_at": "2016-09-12T13:00:30.000Z", "user_rated_at": "2021-06-23T13:19:05.000Z",
               "user_rating": 5, "status": "dropped", "last_watched": None, "next_to_watch": "S01E01",
               "show": {"title": "The Last Ship", "year": 2014, "ids": {"simkl": 42040, "imdb": "tt2402207", "tvdb": "269533"}}}],
    "anime": [{"last_watched_at": "2014-11-06T22:05:52.000Z", "user_rated_at": "2021-06-23T13:19:05.000Z",
               "user_rating": 10, "status": "completed", "last_watched": "E148", "next_to_watch": None,
               "show": {"title": "Hunter x Hunter", "year": 2011, "ids": {"simkl": 40398, "imdb": "tt2098220", "mal": "11061",
                                                                          "anidb": "8550"}}}],
    "movies": [{"last_watched_at": "2014-08-16T18:45:20.000Z", "user_rated_at": "2021-06-23T13:19:05.000Z",
                "user_rating": 6, "status": "completed",
                "movie": {"title": "Maleficent", "year": 2014, "ids": {"simkl": 195258, "imdb": "tt1587310", "tmdb": "102651"}}}],
}


def test_a_ratings_reply_is_every_rated_title_with_its_rating_date_and_bucket() -> None:
    rated = 1624454345.0  # 2021-06-23T13:19:05Z
    assert library_titles(RATINGS) == [
        Title(Item(Kind.MOVIE, Ids(simkl=195258, imdb="tt1587310", tmdb=102651)), "Maleficent", 2014,
              rating=6, rated_at=rated, status="completed"),
        Title(Item(Kind.SHOW, Ids(simkl=42040, imdb="tt2402207", tvdb=269533), Numbering.TV), "The Last Ship", 2014,
              rating=5, rated_at=rated, status="dropped"),
        Title(Item(Kind.SHOW, Ids(simkl=40398, imdb="tt2098220", mal=11061, anidb=8550), Numbering.ANIDB),
              "Hunter x Hunter", 2011, rating=10, rated_at=rated, status="completed"),
    ]


def test_an_all_items_reply_is_every_title_whatever_its_bucket_rated_or_not() -> None:
    titles = {t.title: t for t in library_titles(REPLY)}
    assert sorted(titles) == ["Breaking Bad", "Dune", "Shingeki no Kyojin Season 2", "The Matrix"]
    assert (titles["Dune"].status, titles["Dune"].rating, titles["Dune"].rated_at) == ("plantowatch", None, None)
    assert titles["Breaking Bad"].item == Item(Kind.SHOW, Ids(simkl=17465, tvdb=81189, tmdb=1396))
    # A rating out of Simkl's range, or not a number, is no rating; an unknown bucket is none.
    odd = {"movies": [{"user_rating": 0, "status": "wishlist", "user_rated_at": "yesterday",
                       "movie": {"title": "X", "ids": {"tmdb": "5"}}},
                      {"user_rating": 7.0, "movie": {"title": "Y", "ids": {"tmdb": "6"}}},
                      {"user_rating": 8, "movie": {"title": "No ids", "ids": {}}}]}
    assert [(t.title, t.rating, t.rated_at, t.status) for t in library_titles(odd)] == [("X", None, None, None),
                                                                                     ("Y", 7, None, None)]
    assert library_titles(None) == [] and library_titles({"shows": None}) == []
