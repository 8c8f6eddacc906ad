"""Kodi's movies and shows for ratings and Simkl-bucket lists: `userrating` read and written, a
bucket's list as a Kodi tag that leaves a person's own tags alone. First against the scripted Kodi
whose library answers as Kodi 20's JSON-RPC does (standin.Library), then on a real Kodi.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge.adapters.kodi import KodiAdapter
from bridge.adapters.kodi.api import RpcError
from bridge.config import KodiHost
from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import Title
from tests.adapters.kodi.real import eventually, kodi, real_kodi  # noqa: F401 - fixtures
from tests.adapters.kodi.standin import Library, scripted  # noqa: F401 - fixtures

PLAN = "Simkl: Plan to Watch"
DROPPED = "Simkl: Dropped"


def movie(movieid: int, title: str, uniqueid: dict[str, str], userrating: int = 0, tag: list[str] | None = None) -> dict[str, Any]:
    return {"movieid": movieid, "label": title, "title": title, "year": 1999, "imdbnumber": next(iter(uniqueid.values()), ""),
            "uniqueid": uniqueid, "playcount": 0, "lastplayed": "", "userrating": userrating, "tag": tag or []}


def show(tvshowid: int, title: str, year: int, uniqueid: dict[str, str], userrating: int = 0,
         tag: list[str] | None = None) -> dict[str, Any]:
    return {"tvshowid": tvshowid, "label": title, "title": title, "year": year, "imdbnumber": next(iter(uniqueid.values()), ""),
            "uniqueid": uniqueid, "userrating": userrating, "tag": tag or []}


def library() -> Library:
    movies = [movie(1, "The Matrix", {"tmdb": "603", "imdb": "tt0133093"}, userrating=8, tag=["Family", PLAN]),
              movie(2, "Inception", {"imdb": "tt1375666"}),
              movie(3, "Holiday 2019", {}, userrating=4)]
    shows = [show(1, "Breaking Bad", 2008, {"tvdb": "81189", "tmdb": "1396", "imdb": "tt0903747"}, tag=[DROPPED]),
             show(2, "Cowboy Bebop", 1998, {"anidb": "23"}, userrating=10, tag=["Anime", PLAN]),
             show(3, "Home Videos", 1970, {})]
    return Library(movies, [], shows)


def started(scripted, lib: Library, page: int = 2) -> tuple[Any, KodiAdapter]:
    kodi_, adapter, _ = scripted()
    kodi_.library = lib.handlers()
    adapter._titles.page = page
    eventually(adapter.supervisor.connected.is_set, "the adapter to connect")
    return kodi_, adapter


def by_ref(titles: list[Title]) -> dict[str, Title]:
    return {t.ref: t for t in titles}


def sets(kodi_: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(r["method"].split(".")[1], r["params"]) for r in kodi_.fake.requests if r["method"].startswith("VideoLibrary.Set")]


# -- reading ---------------------------------------------------------------------------------------


def test_titles_are_offered_where_the_library_is(scripted) -> None:
    _, adapter = started(scripted, library())
    assert adapter.library() is adapter and adapter.titles() is adapter


def test_every_movie_and_show_is_read_page_by_page_with_rating_and_tags(scripted) -> None:
    kodi_, adapter = started(scripted, library(), page=2)
    got = by_ref(adapter.read_titles(frozenset({"plantowatch", "dropped"})))
    assert sorted(got) == ["movie:1", "movie:2", "movie:3", "tvshow:1", "tvshow:2", "tvshow:3"]
    pages = [(r["method"].split(".")[1], r["params"]["limits"]) for r in kodi_.fake.requests
             if r["method"] in ("VideoLibrary.GetMovies", "VideoLibrary.GetTVShows")]
    assert pages == [("GetMovies", {"start": 0, "end": 2}), ("GetMovies", {"start": 2, "end": 4}),
                     ("GetTVShows", {"start": 0, "end": 2}), ("GetTVShows", {"start": 2, "end": 4})]
    matrix = got["movie:1"]
    assert matrix.item == Item(Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093"))
    assert (matrix.title, matrix.year, matrix.rating, matrix.rated_at) == ("The Matrix", 1999, 8, None)
    assert matrix.listed == {"plantowatch"}  # its "Family" tag is the person's, no bucket
    bad = got["tvshow:1"]
    assert bad.item == Item(Kind.SHOW, Ids(tvdb=81189, tmdb=1396, imdb="tt0903747"), Numbering.TV)
    assert (bad.title, bad.year, bad.rating, bad.listed) == ("Breaking Bad", 2008, None, {"dropped"})
    bebop = got["tvshow:2"]
    assert (bebop.item.ids, bebop.item.numbering, bebop.rating) == (Ids(anidb=23), Numbering.ANIDB, 10)


def test_userrating_0_is_unrated_and_only_the_asked_buckets_are_listed(scripted) -> None:
    _, adapter = started(scripted, library())
    got = by_ref(adapter.read_titles(frozenset({"dropped"})))
    assert got["movie:2"].rating is None
    assert got["movie:1"].listed == frozenset()  # it carries the Plan to Watch tag, but that list is not mirrored
    assert got["tvshow:1"].listed == {"dropped"}


def test_titles_without_ids_are_returned_for_the_matching_report(scripted) -> None:
    _, adapter = started(scripted, library())
    got = by_ref(adapter.read_titles(frozenset()))
    holiday, home = got["movie:3"], got["tvshow:3"]
    assert not holiday.item.ids and not home.item.ids
    assert (holiday.label, holiday.rating, home.label, home.year) == ("Holiday 2019 (1999)", 4, "Home Videos", None)


def test_a_page_kodi_refuses_fails_the_whole_read(scripted) -> None:
    kodi_, adapter = started(scripted, library())
    real = kodi_.library["VideoLibrary.GetTVShows"]
    kodi_.library["VideoLibrary.GetTVShows"] = lambda p: None if p["limits"]["start"] == 2 else real(p)
    with pytest.raises(RpcError, match="GetTVShows: Kodi error"):
        adapter.read_titles(frozenset({"plantowatch"}))


# -- ratings ---------------------------------------------------------------------------------------


def test_ratings_are_set_per_title_and_read_back(scripted) -> None:
    lib = library()
    kodi_, adapter = started(scripted, lib)
    got = by_ref(adapter.read_titles(frozenset()))
    done = adapter.rate([(got["movie:2"], 7, 1.7e9), (got["tvshow:1"], 9, None), (got["movie:1"], None, None)])
    assert done == 3
    # Kodi keeps no rating date: none is sent; clearing is 0.
    assert sets(kodi_) == [("SetMovieDetails", {"movieid": 2, "userrating": 7}),
                           ("SetTVShowDetails", {"tvshowid": 1, "userrating": 9}),
                           ("SetMovieDetails", {"movieid": 1, "userrating": 0})]
    again = by_ref(adapter.read_titles(frozenset()))
    assert [again[r].rating for r in ("movie:2", "tvshow:1", "movie:1")] == [7, 9, None]
    assert lib.find("movie", 1)["tag"] == ["Family", PLAN]  # a rating leaves the tags alone


def test_a_refused_rating_is_one_line_and_the_rest_carry_on(scripted, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.kodi")
    lib = library()
    lib.refuse.add(("movie", 2))
    _, adapter = started(scripted, lib)
    got = by_ref(adapter.read_titles(frozenset()))
    stray = Title(got["movie:2"].item, "Inception", 2010, ref="ratingKey:55")
    assert adapter.rate([(got["movie:2"], 7, None), (stray, 7, None), (got["tvshow:2"], 3, None)]) == 1
    assert lib.find("tvshow", 2)["userrating"] == 3
    lines = [r.getMessage() for r in caplog.records if "not rated" in r.getMessage()]
    assert len(lines) == 2
    assert "Inception (1999) not rated" in lines[0] and "Failed to execute method" in lines[0]
    assert "'ratingKey:55' names no Kodi library item" in lines[1]


def test_a_kodi_that_goes_away_mid_run_ends_the_ratings_with_one_line(scripted, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.kodi")
    lib = library()
    kodi_, adapter = started(scripted, lib)
    got = by_ref(adapter.read_titles(frozenset()))
    real = kodi_.library["VideoLibrary.SetTVShowDetails"]
    kodi_.library["VideoLibrary.SetTVShowDetails"] = lambda p: kodi_.fake.drop()
    changes = [(got["movie:2"], 6, None), (got["tvshow:1"], 6, None), (got["movie:3"], 6, None)]
    assert adapter.rate(changes) == 1
    (line,) = [r.getMessage() for r in caplog.records if "not rated" in r.getMessage()]
    assert "2 of 3 items not rated" in line and "connection lost" in line
    kodi_.library["VideoLibrary.SetTVShowDetails"] = real
    assert (lib.find("movie", 2)["userrating"], lib.find("tvshow", 1)["userrating"], lib.find("movie", 3)["userrating"]) == (6, 0, 4)


# -- lists -----------------------------------------------------------------------------------------


def test_a_title_put_on_a_list_keeps_the_persons_own_tags(scripted) -> None:
    lib = library()
    lib.find("movie", 2)["tag"] = ["Date night", "Rewatch"]
    kodi_, adapter = started(scripted, lib)
    got = by_ref(adapter.read_titles(frozenset({"plantowatch"})))
    assert adapter.set_listed("plantowatch", [got["movie:2"], got["tvshow:1"]], []) == 2
    assert lib.find("movie", 2)["tag"] == ["Date night", "Rewatch", PLAN]
    assert lib.find("tvshow", 1)["tag"] == [DROPPED, PLAN]  # the other bucket's tag too
    again = by_ref(adapter.read_titles(frozenset({"plantowatch", "dropped"})))
    assert again["movie:2"].listed == {"plantowatch"} and again["tvshow:1"].listed == {"plantowatch", "dropped"}


def test_taking_a_title_off_a_list_takes_only_that_tag(scripted) -> None:
    lib = library()
    kodi_, adapter = started(scripted, lib)
    got = by_ref(adapter.read_titles(frozenset({"plantowatch"})))
    assert adapter.set_listed("plantowatch", [], [got["movie:1"], got["tvshow:2"]]) == 2
    assert lib.find("movie", 1)["tag"] == ["Family"] and lib.find("tvshow", 2)["tag"] == ["Anime"]
    assert sets(kodi_) == [("SetMovieDetails", {"movieid": 1, "tag": ["Family"]}),
                           ("SetTVShowDetails", {"tvshowid": 2, "tag": ["Anime"]})]


def test_a_title_already_so_is_not_written_again(scripted) -> None:
    lib = library()
    kodi_, adapter = started(scripted, lib)
    got = by_ref(adapter.read_titles(frozenset({"plantowatch"})))
    lib.find("movie", 2)["tag"] = [PLAN]  # the person put it there since the read
    # The Matrix is on the list already; Inception now is too; Breaking Bad was never on it.
    assert adapter.set_listed("plantowatch", [got["movie:1"], got["movie:2"]], [got["tvshow:1"]]) == 0
    assert sets(kodi_) == []
    assert lib.find("tvshow", 1)["tag"] == [DROPPED]


def test_tags_are_read_anew_before_each_write(scripted) -> None:
    lib = library()
    _, adapter = started(scripted, lib)
    matrix = by_ref(adapter.read_titles(frozenset({"plantowatch"})))["movie:1"]
    lib.find("movie", 1)["tag"] = ["Family", PLAN, "Added on Kodi just now"]
    assert adapter.set_listed("plantowatch", [], [matrix]) == 1
    assert lib.find("movie", 1)["tag"] == ["Family", "Added on Kodi just now"]


def test_a_kodi_that_goes_away_mid_run_ends_the_list_with_one_line(scripted, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.kodi")
    lib = library()
    kodi_, adapter = started(scripted, lib)
    got = by_ref(adapter.read_titles(frozenset({"plantowatch"})))
    kodi_.library["VideoLibrary.GetTVShowDetails"] = lambda p: kodi_.fake.drop()
    assert adapter.set_listed("plantowatch", [got["movie:2"], got["tvshow:1"]], [got["movie:1"]]) == 1
    (line,) = [r.getMessage() for r in caplog.records if "not put on or taken off" in r.getMessage()]
    assert f"2 of 3 items not put on or taken off {PLAN!r}" in line and "connection lost" in line
    assert lib.find("movie", 2)["tag"] == [PLAN] and lib.find("movie", 1)["tag"] == ["Family", PLAN]


# -- a real Kodi -----------------------------------------------------------------------------------


@pytest.fixture
def kodi_titles(kodi):
    """The adapter on the real Kodi; its movie and show unrated and untagged before and after."""
    def reset():
        kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "userrating": 0, "tag": []})
        kodi.rpc("VideoLibrary.SetTVShowDetails", {"tvshowid": tvshowid, "userrating": 0, "tag": []})

    (movieid,) = [m["movieid"] for m in kodi.rpc("VideoLibrary.GetMovies")["movies"]]
    (tvshowid,) = [s["tvshowid"] for s in kodi.rpc("VideoLibrary.GetTVShows")["tvshows"]]
    reset()
    adapter = KodiAdapter(KodiHost(name="lr", port=kodi.tcp_port, http_port=kodi.http_port, user="alice"))
    adapter.start(lambda event: None)
    eventually(adapter.supervisor.connected.is_set, "the adapter to connect")
    yield adapter, f"movie:{movieid}", f"tvshow:{tvshowid}"
    adapter.stop()
    reset()


def kodi_details(kodi, ref: str) -> dict[str, Any]:
    kind, _, libid = ref.partition(":")
    name = {"movie": "Movie", "tvshow": "TVShow"}[kind]
    found = kodi.rpc(f"VideoLibrary.Get{name}Details", {f"{kind}id": int(libid), "properties": ["userrating", "tag"]})
    details = found[f"{kind}details"]
    return {"userrating": details["userrating"], "tag": details["tag"]}


@real_kodi
def test_ratings_go_both_ways_on_a_real_kodi(kodi, kodi_titles) -> None:
    adapter, matrix_ref, show_ref = kodi_titles
    adapter._titles.page = 1  # one item per request: the paging ends where Kodi's lists do
    got = by_ref(adapter.read_titles(frozenset()))
    assert sorted(got) == sorted([matrix_ref, show_ref])
    matrix, show_ = got[matrix_ref], got[show_ref]
    assert matrix.item == Item(Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093")) and matrix.rating is None
    assert show_.item == Item(Kind.SHOW, Ids(tvdb=81189, tmdb=1396, imdb="tt0903747")) and show_.rating is None
    # Simkl's ratings set by the bridge, as Kodi itself then shows them.
    assert adapter.rate([(matrix, 9, 1.7e9), (show_, 7, None)]) == 2
    assert kodi_details(kodi, matrix_ref)["userrating"] == 9 and kodi_details(kodi, show_ref)["userrating"] == 7
    # Rated on Kodi, as a remote or Kodi's own rating dialog does it: the bridge reads it.
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": int(matrix_ref.split(":")[1]), "userrating": 4})
    kodi.rpc("VideoLibrary.SetTVShowDetails", {"tvshowid": int(show_ref.split(":")[1]), "userrating": 10})
    again = by_ref(adapter.read_titles(frozenset()))
    assert (again[matrix_ref].rating, again[show_ref].rating, again[matrix_ref].rated_at) == (4, 10, None)
    # Cleared by the bridge: Kodi shows it unrated, and so does the next read.
    assert adapter.rate([(again[matrix_ref], None, None)]) == 1
    assert kodi_details(kodi, matrix_ref)["userrating"] == 0
    assert by_ref(adapter.read_titles(frozenset()))[matrix_ref].rating is None


@real_kodi
def test_a_simkl_list_is_a_tag_on_a_real_kodi_beside_the_persons_own(kodi, kodi_titles) -> None:
    adapter, matrix_ref, show_ref = kodi_titles
    movieid, tvshowid = int(matrix_ref.split(":")[1]), int(show_ref.split(":")[1])
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "tag": ["Family night"]})  # the person's own
    kodi.rpc("VideoLibrary.SetTVShowDetails", {"tvshowid": tvshowid, "userrating": 8})
    got = by_ref(adapter.read_titles(frozenset({"plantowatch"})))
    assert got[matrix_ref].listed == frozenset() and got[show_ref].listed == frozenset()
    assert adapter.set_listed("plantowatch", [got[matrix_ref], got[show_ref]], []) == 2
    assert kodi_details(kodi, matrix_ref) == {"userrating": 0, "tag": ["Family night", PLAN]}
    assert kodi_details(kodi, show_ref) == {"userrating": 8, "tag": [PLAN]}  # its rating stays
    # What Kodi's Movies > Tags and TV shows > Tags show under the tag: the movie and the show themselves.
    tagged = {"tag": PLAN}
    assert [m["movieid"] for m in kodi.rpc("VideoLibrary.GetMovies", {"filter": tagged})["movies"]] == [movieid]
    assert [s["tvshowid"] for s in kodi.rpc("VideoLibrary.GetTVShows", {"filter": tagged})["tvshows"]] == [tvshowid]
    again = by_ref(adapter.read_titles(frozenset({"plantowatch"})))
    assert again[matrix_ref].listed == {"plantowatch"} and again[show_ref].listed == {"plantowatch"}
    # Taken off: only our tag goes.
    assert adapter.set_listed("plantowatch", [], [again[matrix_ref], again[show_ref]]) == 2
    assert kodi_details(kodi, matrix_ref)["tag"] == ["Family night"] and kodi_details(kodi, show_ref)["tag"] == []
    assert by_ref(adapter.read_titles(frozenset({"plantowatch"})))[matrix_ref].listed == frozenset()
