"""Plex's movies and shows for the ratings and lists sync: read page by page outside excluded
libraries with the owner's ratings, rated back with plexapi's own request, Simkl buckets mirrored as
one collection per section, and the owner's plex.tv Discover watchlist read as Plan to Watch.
Against the Plex stand-in and the Discover stand-in, over HTTP.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from bridge.adapters.plex.adapter import NotTheOwner
from bridge.adapters.plex.api import ERRORS
from bridge.item import Ids, Kind, Numbering
from bridge.library import Title
from tests.adapters.plex.discover_standin import DiscoverStandIn
from tests.adapters.plex.helpers import adapter_for
from tests.adapters.plex.standin import MACHINE_ID, TOKEN, PlexStandIn

T = 1_700_000_000
PTW = "Simkl: Plan to Watch"
MATRIX_PLEX = "5d7768313c3c2a001fbcd1f0"  # the fixture's Matrix: plex://movie/<this>
OFFICE_PLEX = "5d9c086c46115600200aa2fe"
PARKS_PLEX = "5d9c08254eefaa001f5d6dcb"


def owners(plex: PlexStandIn, **cfg: Any) -> Any:
    adapter = adapter_for(plex, **{"resume_user": "alice", **cfg})
    adapter._library.page = 2
    return adapter


def read(adapter: Any, *buckets: str) -> dict[str, Title]:
    return {t.ref: t for t in adapter.read_titles(frozenset(buckets))}


def rates(plex: PlexStandIn) -> list[dict[str, str]]:
    return [dict(r.query) for r in plex.requests if r.path == "/:/rate"]


def collections(plex: PlexStandIn) -> dict[tuple[str, str], list[str]]:
    return {(c["section"], c["title"]): list(c["items"]) for c in plex.collections.values()}


def collection_writes(plex: PlexStandIn) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in plex.requests if r.path.startswith("/library/collections")
            and r.method != "GET"]


def add_by_hand(plex: PlexStandIn, collection: str, key: str) -> None:
    """A person adds an item to the collection in Plex Web (the request plexapi's addItems makes)."""
    uri = f"server://{MACHINE_ID}/com.plexapp.plugins.library/library/metadata/{key}"
    reply = requests.put(f"{plex.url}/library/collections/{collection}/items", params={"uri": uri},
                         headers={"X-Plex-Token": TOKEN}, timeout=5)
    assert reply.status_code == 200


# -- reading ---------------------------------------------------------------------------------------


def test_every_movie_and_show_is_read_page_by_page_outside_excluded_libraries(plex) -> None:
    plex.add("110", "movie", "The Matrix Reloaded", "1", "plex://movie/5d7768313c3c2a001fbcd1f1", ("imdb://tt0234215",),
             year=2003)
    plex.add("120", "movie", "Akira", "1", "com.plexapp.agents.hama://anidb-28?lang=en", year=1988)
    got = read(owners(plex))
    assert sorted(got) == ["100", "110", "120", "200", "300", "500", "600"]  # not 400 (Home Videos), no episodes
    assert [(r.path, r.query.get("type"), r.headers.get("x-plex-container-start")) for r in plex.requests
            if r.path.startswith("/library/sections/") and r.query.get("includeGuids") == "1"] == [
        ("/library/sections/1/all", "1", "0"), ("/library/sections/1/all", "1", "2"),
        ("/library/sections/2/all", "2", "0"), ("/library/sections/4/all", "2", "0")]
    assert (got["100"].item.kind, got["100"].item.ids, got["100"].title, got["100"].year) == (
        Kind.MOVIE, Ids(imdb="tt0133093", tmdb=603), "The Matrix", 1999)
    assert (got["200"].item.kind, got["200"].item.ids, got["200"].item.numbering) == (Kind.SHOW, Ids(tvdb=81189), Numbering.TV)
    assert (got["500"].item.kind, got["500"].item.ids) == (Kind.SHOW, Ids(tvdb=73244, tmdb=2316))
    assert (got["300"].item.ids, got["300"].item.numbering) == (Ids(anidb=23), Numbering.ANIDB)  # HAMA anidb: anime
    assert not got["600"].item.ids and got["600"].label == "Holiday 2023"  # local://: for the matching report
    # an anime film: numbered as the library read and live plays number a movie
    assert (got["120"].item.kind, got["120"].item.ids, got["120"].item.numbering) == (Kind.MOVIE, Ids(anidb=28), Numbering.TV)
    assert all(t.listed == frozenset() for t in got.values())
    # the ids and numbering the library read gives the same movies, and the episodes of the same shows
    library = owners(plex).read_library()
    assert {k: t.item for k, t in got.items() if t.item.kind is Kind.MOVIE} == {
        e.ref: e.item for e in library if e.item.kind is Kind.MOVIE}
    assert {(t.item.ids, t.item.numbering) for t in got.values() if t.item.kind is Kind.SHOW} == {
        (e.item.ids, e.item.numbering) for e in library if e.item.kind is Kind.EPISODE}


def test_half_star_ratings_read_as_simkl_ratings_one_for_one(plex) -> None:
    plex.items["100"].update(userRating=7.0, lastRatedAt=T)  # 3.5 stars
    plex.items["200"].update(userRating=1.0, lastRatedAt=T - 60)  # half a star
    plex.items["500"].update(userRating=10.0, lastRatedAt=T - 120)  # 5 stars
    got = read(owners(plex))
    assert [(got[k].rating, got[k].rated_at) for k in ("100", "200", "500")] == [(7, T), (1, T - 60), (10, T - 120)]


def test_an_unrated_title_reads_none(plex) -> None:
    plex.items["300"].update(userRating=0.0, lastRatedAt=T)  # no stars left
    got = read(owners(plex))
    assert (got["100"].rating, got["100"].rated_at) == (None, None)
    assert (got["300"].rating, got["300"].rated_at) == (None, None)


def test_a_rating_is_written_with_plexapis_request_and_read_back(plex, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    plex.clock = lambda: T
    adapter = owners(plex)
    got = read(adapter)
    assert adapter.rate([(got["100"], 7, T - 99), (got["500"], 10, None)]) == 2
    assert rates(plex) == [{"key": "100", "identifier": "com.plexapp.plugins.library", "rating": "7"},
                           {"key": "500", "identifier": "com.plexapp.plugins.library", "rating": "10"}]
    assert (plex.items["100"]["userRating"], plex.items["500"]["userRating"]) == (7.0, 10.0)  # 3.5 and 5 stars
    again = read(adapter)
    assert [(again[k].rating, again[k].rated_at) for k in ("100", "500")] == [(7, T), (10, T)]  # Plex dates them
    assert adapter.rate([(again["100"], None, None)]) == 1  # cleared: plexapi's rate() without a value
    assert rates(plex)[-1]["rating"] == "-1"
    assert read(adapter)["100"].rating is None and "userRating" not in plex.items["100"]


def test_a_rating_plex_refuses_is_one_line_and_the_rest_carry_on(plex, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    adapter = owners(plex)
    got = read(adapter)
    del plex.items["200"]  # deleted from Plex since the read
    assert adapter.rate([(got["200"], 8, None), (got["500"], 8, None)]) == 1
    (line,) = [r.getMessage() for r in caplog.records if "not rated" in r.getMessage()]
    assert "Breaking Bad (2008) (plex item 200) not rated" in line and "(404)" in line
    assert plex.items["500"]["userRating"] == 8.0


def test_a_plex_that_goes_away_mid_run_ends_it_with_one_line(plex, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    adapter = owners(plex)
    got = read(adapter)
    (route,) = [r for r in plex.routes if r.pattern.pattern == r"/:/rate"]
    real = route.handler

    def going_away(req):
        reply = real(req)
        plex.stop()  # the first rating is answered, then the server is gone
        return reply

    route.handler = going_away
    adapter.api.client()._session.headers["Connection"] = "close"  # no kept-alive socket outlives the server
    assert adapter.rate([(got["100"], 8, None), (got["200"], 8, None), (got["500"], 8, None)]) == 1
    (line,) = [r.getMessage() for r in caplog.records if "not rated" in r.getMessage()]
    assert "2 of 3 items not rated" in line


def test_another_users_titles_are_not_offered(plex, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    assert adapter_for(plex).titles() is None  # no resume_user: nobody's to sync
    alice = owners(plex)
    assert alice.titles() is alice
    got = read(alice)
    bob = owners(plex, resume_user="bob", lists=("plantowatch",))  # bob's ratings need bob's own token
    with pytest.raises(NotTheOwner, match=r"resume_user 'bob' is not the server's owner 'alice'"):
        bob.read_titles(frozenset({"plantowatch"}))
    assert bob.rate([(got["100"], 8, None)]) == 0
    assert bob.set_listed("plantowatch", [got["100"]], []) == 0
    assert rates(plex) == [] and plex.collections == {}
    assert any("1 items not rated" in r.getMessage() for r in caplog.records)


# -- lists ------------------------------------------------------------------------------------------


def test_a_bucket_is_one_collection_per_section_made_once_holding_what_was_added(plex) -> None:
    adapter = owners(plex, lists=("plantowatch",))
    got = read(adapter, "plantowatch")
    assert adapter.set_listed("plantowatch", [got["100"], got["200"], got["500"]], []) == 3
    assert collections(plex) == {("1", PTW): ["100"], ("2", PTW): ["200", "500"]}
    assert [m for m, _ in collection_writes(plex)] == ["POST", "POST", "PUT"]  # made with its first title
    (made,) = [r for r in plex.requests if r.method == "POST" and r.query.get("sectionId") == "2"]
    assert (made.query["type"], made.query["smart"], made.query["title"]) == ("2", "0", PTW)
    again = read(adapter, "plantowatch")
    assert {k for k, t in again.items() if t.listed} == {"100", "200", "500"}
    assert all(t.listed == frozenset({"plantowatch"}) for t in again.values() if t.listed)
    assert adapter.set_listed("plantowatch", [again["100"], again["500"]], []) == 2  # already there: as asked
    assert len(collection_writes(plex)) == 3 and len(plex.collections) == 2


def test_removal_takes_off_only_the_given_title(plex) -> None:
    plex.add("510", "show", "Parks and Recreation", "2", f"plex://show/{PARKS_PLEX}", ("tvdb://84912",))
    adapter = owners(plex, lists=("plantowatch", "dropped"))
    got = read(adapter, "plantowatch", "dropped")
    adapter.set_listed("plantowatch", [got["200"], got["500"]], [])
    adapter.set_listed("dropped", [got["500"]], [])
    (ptw,) = [k for k, c in plex.collections.items() if c["title"] == PTW]
    add_by_hand(plex, ptw, "510")  # a person puts a title of their own on the list
    got = read(adapter, "plantowatch", "dropped")
    assert adapter.set_listed("plantowatch", [], [got["500"]]) == 1
    assert collections(plex) == {("2", PTW): ["200", "510"], ("2", "Simkl: Dropped"): ["500"]}
    assert adapter.set_listed("plantowatch", [], [got["500"]]) == 1  # off it already: nothing asked of Plex
    assert [(m, p.rsplit("/", 1)[-1]) for m, p in collection_writes(plex) if m == "DELETE"] == [("DELETE", "500")]
    after = read(adapter, "plantowatch", "dropped")
    assert [(k, sorted(after[k].listed)) for k in ("200", "500", "510")] == [
        ("200", ["plantowatch"]), ("500", ["dropped"]), ("510", ["plantowatch"])]


def test_a_collection_emptied_is_made_again_when_a_title_comes_back(plex) -> None:
    adapter = owners(plex, lists=("plantowatch",))
    got = read(adapter, "plantowatch")
    adapter.set_listed("plantowatch", [got["100"]], [])
    adapter.set_listed("plantowatch", [], [got["100"]])
    assert plex.collections == {}  # Plex keeps no empty regular collection
    assert adapter.set_listed("plantowatch", [got["100"]], []) == 1
    assert collections(plex) == {("1", PTW): ["100"]}


def test_what_plex_refuses_is_not_counted_done_and_is_one_line(plex, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    adapter = owners(plex, lists=("plantowatch",))
    got = read(adapter, "plantowatch")
    del plex.items["200"]  # deleted from Plex since the read: the collection cannot take it
    assert adapter.set_listed("plantowatch", [got["100"], got["200"], got["500"]], []) == 2
    assert collections(plex) == {("1", PTW): ["100"], ("2", PTW): ["500"]}
    (line,) = [r.getMessage() for r in caplog.records if "not put on" in r.getMessage()]
    assert f"Breaking Bad (2008) (plex item 200) not put on {PTW!r}" in line


def test_a_plex_that_goes_away_while_lists_are_written_ends_it_with_one_line(plex, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    adapter = owners(plex, lists=("plantowatch",))
    got = read(adapter, "plantowatch")
    (route,) = [r for r in plex.routes if r.pattern.pattern == r"/library/collections"]
    real = route.handler

    def going_away(req):
        reply = real(req)
        plex.stop()  # the first collection is made, then the server is gone
        return reply

    route.handler = going_away
    adapter.api.client()._session.headers["Connection"] = "close"
    assert adapter.set_listed("plantowatch", [got["100"], got["200"], got["500"]], []) == 1
    (line,) = [r.getMessage() for r in caplog.records if "not put on" in r.getMessage()]
    assert f"2 of 3 items not put on {PTW!r}" in line


def test_buckets_not_mirrored_are_neither_read_nor_written(plex) -> None:
    adapter = owners(plex, lists=("dropped",))
    got = read(adapter, "plantowatch", "dropped")
    assert adapter.set_listed("plantowatch", [got["100"]], []) == 0
    assert plex.collections == {} and collection_writes(plex) == []


# -- the Discover watchlist ------------------------------------------------------------------------


@pytest.fixture
def discover():
    standin = DiscoverStandIn()
    standin.add(MATRIX_PLEX, "movie", "The Matrix", 1999, ("imdb://tt0133093", "tmdb://603"))  # the library's, by guid
    standin.add("5eb6b5ffd6b1e4001ac6fb93", "show", "Breaking Bad", 2008, ("tvdb://81189", "imdb://tt0903747"))
    standin.add("5d776b9ffb0d55001f5a2b1c", "movie", "Dune: Part Two", 2024, ("imdb://tt15239678", "tmdb://693134"))
    standin.add(OFFICE_PLEX, "show", "The Office", 2005, ("tvdb://73244",), listed=False)
    standin.start()
    yield standin
    standin.stop()


def watching(plex: PlexStandIn, discover: DiscoverStandIn, **cfg: Any) -> Any:
    adapter = owners(plex, watchlist=True, discover_url=discover.url, **cfg)
    adapter._titles.discover.metadata_url = discover.url  # plex.tv's metadata provider: the same stand-in
    return adapter


def test_the_discover_watchlists_titles_come_back_listed_plan_to_watch(plex, discover) -> None:
    adapter = watching(plex, discover)
    got = read(adapter, "plantowatch")
    assert "plantowatch" in got["100"].listed  # the same plex:// guid as the library's Matrix
    assert "plantowatch" in got["200"].listed  # a legacy agent's show: by the ids plex.tv has for it
    assert not got["500"].listed
    dune = got["discover:5d776b9ffb0d55001f5a2b1c"]  # not in the library: a title of its own, for Simkl
    assert (dune.item.kind, dune.item.ids, dune.title, dune.year, dune.listed) == (
        Kind.MOVIE, Ids(imdb="tt15239678", tmdb=693134), "Dune: Part Two", 2024, frozenset({"plantowatch"}))
    (listing,) = [r for r in discover.requests if r.path == "/library/sections/watchlist/all"]
    assert (listing.query, listing.headers["x-plex-token"], listing.headers["x-plex-container-start"]) == (
        {"includeCollections": "1", "includeExternalMedia": "1"}, TOKEN, "0")
    assert listing.headers["x-plex-container-size"] == "100"  # plexapi's X_PLEX_CONTAINER_SIZE
    assert sorted(r.path for r in discover.requests if r.path.startswith("/library/metadata/")) == [
        "/library/metadata/5d776b9ffb0d55001f5a2b1c", "/library/metadata/5eb6b5ffd6b1e4001ac6fb93"]  # not the Matrix's


def test_a_long_watchlist_is_read_page_by_page(plex, discover) -> None:
    for n in range(5):
        discover.add(f"60000000000000000000000{n}", "movie", f"Film {n}", 2020, (f"tmdb://{900 + n}",))
    adapter = watching(plex, discover)
    adapter._titles.discover.page = 3
    got = read(adapter, "plantowatch")
    assert [r.headers["x-plex-container-start"] for r in discover.requests if r.path.endswith("/watchlist/all")] == [
        "0", "3", "6"]
    assert sum(1 for t in got.values() if "plantowatch" in t.listed) == 8  # the Matrix, Breaking Bad, Dune, 5 films


def test_the_watchlist_is_read_only_when_plan_to_watch_is_asked(plex, discover) -> None:
    got = read(watching(plex, discover), "dropped")
    assert not any(t.listed for t in got.values()) and discover.requests == []


def test_plan_to_watch_goes_on_the_discover_watchlist_by_its_plex_id(plex, discover) -> None:
    adapter = watching(plex, discover)
    got = read(adapter, "plantowatch")
    assert adapter.set_listed("plantowatch", [got["500"], got["100"]], []) == 2  # the Matrix is on it already
    assert [(r.method, r.path, r.query) for r in discover.requests if r.path.startswith("/actions/")] == [
        ("PUT", "/actions/addToWatchlist", {"ratingKey": OFFICE_PLEX})]
    assert OFFICE_PLEX in discover.watchlist and plex.collections == {}  # `lists` has no plantowatch: no collection
    dune = got["discover:5d776b9ffb0d55001f5a2b1c"]
    assert adapter.rate([(dune, 8, None)]) == 0  # not on the server: no rating of Plex's to set
    assert adapter.set_listed("plantowatch", [], [dune]) == 1
    assert "5d776b9ffb0d55001f5a2b1c" not in discover.watchlist
    assert "plantowatch" in read(adapter, "plantowatch")["500"].listed


def settled(adapter, *buckets: str) -> dict[str, Title]:
    """Read, then put Plan to Watch in order as the sync does every run that writes the server."""
    got = read(adapter, *buckets)
    adapter.set_listed("plantowatch", [], [])
    return got


def test_with_a_collection_too_plan_to_watch_is_on_both(plex, discover) -> None:
    adapter = watching(plex, discover, lists=("plantowatch",))
    got = read(adapter, "plantowatch")
    assert collections(plex) == {} and watchlist_writes(discover) == []  # a read writes nothing: a dry run reads
    assert adapter.set_listed("plantowatch", [], []) == 0  # nothing asked: the mirrors made one
    assert collections(plex) == {("1", PTW): ["100"], ("2", PTW): ["200"]}  # watchlisted: now collected too
    assert adapter.set_listed("plantowatch", [got["100"], got["500"]], []) == 2
    assert collections(plex) == {("1", PTW): ["100"], ("2", PTW): ["200", "500"]}
    assert OFFICE_PLEX in discover.watchlist
    again = read(adapter, "plantowatch")
    assert adapter.set_listed("plantowatch", [], [again["100"]]) == 1
    assert MATRIX_PLEX not in discover.watchlist and collections(plex) == {("2", PTW): ["200", "500"]}
    assert "plantowatch" not in read(adapter, "plantowatch")["100"].listed


def watchlist_writes(discover: DiscoverStandIn) -> list[tuple[str, str]]:
    return [(r.path, r.query["ratingKey"]) for r in discover.requests if r.path.startswith("/actions/")]


def test_what_one_of_plan_to_watchs_mirrors_holds_the_read_puts_on_the_other(plex, discover, caplog) -> None:
    """The watchlist and the collections are one Plan to Watch: a title the person put on one of
    them reads listed (for Simkl) and is on both after the read, once; what cannot be on both stays."""
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    plex.add("510", "show", "Parks and Recreation", "2", f"plex://show/{PARKS_PLEX}", ("tvdb://84912",), year=2009)
    discover.add(PARKS_PLEX, "show", "Parks and Recreation", 2009, ("tvdb://84912",), listed=False)
    collections_only = owners(plex, lists=("plantowatch",))
    got = read(collections_only, "plantowatch")
    # The Office, Parks (new agents') and Cowboy Bebop (HAMA's: no plex.tv id) on the collections only.
    assert collections_only.set_listed("plantowatch", [got["500"], got["510"], got["300"]], []) == 3
    adapter = watching(plex, discover, lists=("plantowatch",))
    got = settled(adapter, "plantowatch")
    assert {k for k, t in got.items() if "plantowatch" in t.listed} == {
        "100", "200", "300", "500", "510", "discover:5d776b9ffb0d55001f5a2b1c"}
    # The Matrix and Breaking Bad, watchlisted, on the collections; Dune, not in the library, on none.
    assert collections(plex) == {("2", PTW): ["500", "510", "200"], ("4", PTW): ["300"], ("1", PTW): ["100"]}
    assert watchlist_writes(discover) == [("/actions/addToWatchlist", OFFICE_PLEX),
                                          ("/actions/addToWatchlist", PARKS_PLEX)]  # not Bebop's: it has no id there
    assert discover.watchlist[-2:] == [OFFICE_PLEX, PARKS_PLEX]
    (line,) = [r.getMessage() for r in caplog.records if "as one" in r.getMessage()]
    assert line == (f"plex/home: Plan to Watch is the plex.tv watchlist and {PTW!r} as one: 2 watchlisted titles put "
                    "on the collection, 2 collected ones on the watchlist (The Matrix (1999), Breaking Bad (2008), "
                    "The Office and 1 more)")
    assert not any("plex.tv id" in r.getMessage() for r in caplog.records)  # Bebop's is no news every run
    seen_plex, seen_tv = len(collection_writes(plex)), len(watchlist_writes(discover))
    again = settled(adapter, "plantowatch")
    assert {k: t.listed for k, t in again.items()} == {k: t.listed for k, t in got.items()}
    assert (len(collection_writes(plex)), len(watchlist_writes(discover))) == (seen_plex, seen_tv)
    assert len([r for r in caplog.records if "as one" in r.getMessage()]) == 1


def test_a_title_watchlisted_after_a_read_reads_listed_and_joins_the_collection(plex, discover) -> None:
    adapter = watching(plex, discover, lists=("plantowatch",))
    assert "plantowatch" not in settled(adapter, "plantowatch")["500"].listed
    discover.watchlist.append(OFFICE_PLEX)  # the person watchlists The Office on plex.tv
    assert "plantowatch" in settled(adapter, "plantowatch")["500"].listed  # for Simkl's Plan to Watch
    assert collections(plex)[("2", PTW)] == ["200", "500"]


def test_a_title_taken_off_one_mirror_alone_comes_back_to_it(plex, discover) -> None:
    """Off one of the two, a title is still on the other, that is on the server's Plan to Watch: it
    leaves it when it leaves both, or when Simkl moves it."""
    adapter = watching(plex, discover, lists=("plantowatch",))
    settled(adapter, "plantowatch")
    discover.watchlist.remove(MATRIX_PLEX)  # taken off the watchlist on plex.tv, not off the collection
    assert "plantowatch" in settled(adapter, "plantowatch")["100"].listed
    assert MATRIX_PLEX in discover.watchlist


def test_a_film_two_libraries_hold_is_watchlisted_in_both_and_read_again_writes_nothing(plex, discover) -> None:
    plex.sections["5"] = ("movie", "Movies 4K")
    plex.add("110", "movie", "The Matrix", "5", f"plex://movie/{MATRIX_PLEX}", ("imdb://tt0133093", "tmdb://603"),
             year=1999)
    adapter = watching(plex, discover, lists=("plantowatch",))
    got = settled(adapter, "plantowatch")
    assert "plantowatch" in got["100"].listed and "plantowatch" in got["110"].listed
    assert collections(plex)[("1", PTW)] == ["100"] and collections(plex)[("5", PTW)] == ["110"]
    seen_plex, seen_tv = len(collection_writes(plex)), len(discover.requests)
    settled(adapter, "plantowatch")
    assert len(collection_writes(plex)) == seen_plex and watchlist_writes(discover) == []
    assert len(discover.requests) > seen_tv  # it was read again


def test_a_title_simkl_moved_out_that_the_watchlist_kept_is_not_put_back_on_the_collection(plex, discover,
                                                                                           caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    adapter = watching(plex, discover, lists=("plantowatch",))
    got = read(adapter, "plantowatch")
    (route,) = [r for r in discover.routes if r.pattern.pattern.startswith("/actions/")]
    real = route.handler
    route.handler = lambda req: (500, "<html><title>Internal Server Error</title></html>")  # plex.tv, this once
    assert adapter.set_listed("plantowatch", [], [got["100"]]) == 0  # off the collection, still watchlisted
    assert any("The Matrix (1999) not taken off the plex.tv watchlist" in r.getMessage() for r in caplog.records)
    route.handler = real
    seen = len(collection_writes(plex))
    again = settled(adapter, "plantowatch")
    assert "plantowatch" in again["100"].listed  # on the watchlist still: so it reads
    assert len(collection_writes(plex)) == seen and ("1", PTW) not in collections(plex)  # Simkl's move not undone
    assert adapter.set_listed("plantowatch", [], [again["100"]]) == 1  # asked again: done
    assert MATRIX_PLEX not in discover.watchlist and "plantowatch" not in read(adapter, "plantowatch")["100"].listed


def test_a_watchlist_that_cannot_be_read_fails_the_read_whole(plex, discover) -> None:
    adapter = watching(plex, discover)
    discover.stop()  # plex.tv unreachable: no part of the titles stands for all of them
    with pytest.raises(ERRORS):
        adapter.read_titles(frozenset({"plantowatch"}))
    assert len(read(adapter, "dropped")) == 5  # what does not need plex.tv is read as ever
