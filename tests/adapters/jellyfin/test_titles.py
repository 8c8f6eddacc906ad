"""Jellyfin's titles for the ratings and lists sync: the configured user's movies and shows with
their ratings, read page by page from the stand-in (which answers as 10.8, 10.10 and 10.11 do, see
standin.py), ratings written back on each version's route, and Simkl's buckets mirrored as
collections named "Simkl: <Bucket>"."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bridge.adapters.jellyfin.api import JellyfinError
from bridge.item import Ids, Kind, Numbering
from bridge.library import Title
from bridge.outbox import Outbox
from bridge.sender import Sender
from bridge.sync.baseline import Baseline
from bridge.sync.plan import Options
from bridge.sync.runner import sync_account
from bridge.sync.titles_plan import TitleOptions
from bridge.times import iso
from tests.adapters.jellyfin.helpers import adapter_for
from tests.adapters.jellyfin.standin import ALICE, BOB, VERSIONS, JellyfinStandIn
from tests.adapters.jellyfin.test_library import DAY, T, gone_at, on_route
from tests.conftest import make_client

every_version = pytest.mark.parametrize("jf", VERSIONS, indirect=True)
PLAN = "Simkl: Plan to Watch"
PHONE = "phone-token-0123456789abcdef"


@pytest.fixture
def jf(request):
    """Alice's server: Movies, Shows, Anime and Kids libraries, some of it rated by her."""
    with JellyfinStandIn(getattr(request, "param", VERSIONS[-1])) as s:
        s.matrix = s.add_movie("The Matrix", {"Tmdb": "603", "Imdb": "tt0133093"}, year=1999)
        s.inception = s.add_movie("Inception", {"Imdb": "tt1375666"}, year=2010)
        s.holiday = s.add_movie("Holiday 2019", {})
        s.frozen = s.add_movie("Frozen", {"Tmdb": "109445"}, library="Kids")
        s.bb = s.add_series("Breaking Bad", {"Tvdb": "81189", "Tmdb": "1396", "Imdb": "tt0903747"})
        s.bb1 = s.add_episode(s.bb, 1, 1, {"Tvdb": "349238"})
        s.bebop = s.add_series("Cowboy Bebop", {"AniDB": "23"}, year=1998, library="Anime")
        s.bebop1 = s.add_episode(s.bebop, 1, 1)
        s.data(ALICE, s.matrix).update(Rating=8.0, Likes=True)
        s.data(ALICE, s.bb).update(Rating=9.0, Likes=True)
        s.data(BOB, s.inception).update(Rating=3.0, Likes=False)  # bob's, not alice's
        yield s


def holder(jf: JellyfinStandIn, page: int = 2, **settings: Any):
    adapter = adapter_for(jf, user=settings.pop("user", "alice"), **settings)
    adapter.page = page
    return adapter


def by_ref(titles: list[Title]) -> dict[str, Title]:
    return {t.ref: t for t in titles}


def sent(jf: JellyfinStandIn, *paths: str) -> list[tuple[str, str, dict[str, str], Any]]:
    return [(r.method, r.path, r.query, json.loads(r.body) if r.body else None) for r in jf.server.requests
            if any(p in r.path for p in paths)]


def members(jf: JellyfinStandIn, name: str = PLAN) -> list[str]:
    (found,) = [items for named, items in jf.boxsets.values() if named == name]
    return list(found)


# -- reading ---------------------------------------------------------------------------------------


@every_version
def test_movies_and_shows_are_read_with_the_users_ratings_but_the_excluded_library(jf) -> None:
    titles = by_ref(holder(jf, exclude_libraries=["kids"]).read_titles(frozenset()))
    assert sorted(titles) == sorted([jf.matrix, jf.inception, jf.holiday, jf.bb, jf.bebop])
    matrix, bb, bebop = titles[jf.matrix], titles[jf.bb], titles[jf.bebop]
    assert (matrix.item.kind, matrix.item.ids, matrix.title, matrix.year) == (Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093"),
                                                                              "The Matrix", 1999)
    assert (bb.item.kind, bb.item.ids, bb.item.numbering, bb.title, bb.year) == (
        Kind.SHOW, Ids(tvdb=81189, tmdb=1396, imdb="tt0903747"), Numbering.TV, "Breaking Bad", 2008)
    assert (bebop.item.kind, bebop.item.ids, bebop.item.numbering) == (Kind.SHOW, Ids(anidb=23), Numbering.ANIDB)
    assert (matrix.rating, bb.rating, matrix.rated_at, matrix.listed) == (8, 9, None, frozenset())
    # Bob's 3 is his: alice has not rated Inception.
    assert titles[jf.inception].rating is None and bebop.rating is None
    assert not titles[jf.holiday].item.ids  # for the matching report
    listings = [r.query for r in jf.server.requests if r.path == "/Items" and r.query.get("userId") == ALICE]
    assert [(q["IncludeItemTypes"], q["StartIndex"]) for q in listings] == [("Movie,Series", str(n)) for n in (0, 2, 4)]
    assert all(q["CollapseBoxSetItems"] == "false" and "ProviderIds" in q["Fields"] for q in listings)


def test_without_a_configured_user_there_are_no_titles(jf) -> None:
    everyone = holder(jf, user=None)
    assert everyone.titles() is None  # whose ratings would they be?
    with pytest.raises(JellyfinError, match="no `user:` is configured"):
        everyone.read_titles(frozenset())
    alice = holder(jf)
    assert alice.titles() is alice


# -- ratings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("jf", ["10.10.7", "10.11.11"], indirect=True)
def test_every_rating_written_reads_back_the_same(jf) -> None:
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    inception, matrix = titles[jf.inception], titles[jf.matrix]
    for rating in range(1, 11):
        assert adapter.rate([(inception, rating, 1.7e9)]) == 1
        assert by_ref(adapter.read_titles(frozenset()))[jf.inception].rating == rating
    assert jf.data(ALICE, jf.inception)["Rating"] == 10.0 and jf.data(BOB, jf.inception)["Rating"] == 3.0
    assert adapter.rate([(matrix, None, None)]) == 1  # cleared
    assert "Rating" not in jf.data(ALICE, jf.matrix) and by_ref(adapter.read_titles(frozenset()))[jf.matrix].rating is None
    writes = sent(jf, "/UserData", "/Rating")
    assert writes[0] == ("POST", f"/UserItems/{jf.inception}/UserData", {"userId": ALICE}, {"Rating": 1})
    assert writes[-1][:3] == ("DELETE", f"/UserItems/{jf.matrix}/Rating", {"userId": ALICE})


@pytest.mark.parametrize("jf", ["10.8.13"], indirect=True)
def test_on_10_8_ratings_are_cleared_but_never_set_as_a_like(jf, caplog) -> None:
    """10.8 takes a value only as a like (10) or a dislike (1): a 7 written so would come back a 10."""
    caplog.set_level(logging.WARNING, logger="bridge.adapters.jellyfin")
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    assert titles[jf.matrix].rating == 8  # read on every version
    assert adapter.rate([(titles[jf.inception], 7, None), (titles[jf.matrix], None, None)]) == 1
    assert "Rating" not in jf.data(ALICE, jf.inception) and "Rating" not in jf.data(ALICE, jf.matrix)
    assert [(m, p) for m, p, _, _ in sent(jf, "/UserData", "/Rating")] == [
        ("DELETE", f"/Users/{ALICE}/Items/{jf.matrix}/Rating")]
    (line,) = [r.getMessage() for r in caplog.records]
    assert "takes a rating only as a like or a dislike (10 or 1): 1 ratings not written" in line


def test_a_refused_rating_is_one_line_and_the_rest_carry_on(jf, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.jellyfin")
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    stray = Title(titles[jf.inception].item, "Inception (old plan)", ref="movie:2")
    gone = Title(titles[jf.bebop].item, "Cowboy Bebop", ref="c" * 32)
    assert adapter.rate([(stray, 7, None), (gone, 7, None), (titles[jf.inception], 6, None)]) == 1
    assert jf.data(ALICE, jf.inception)["Rating"] == 6.0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "'movie:2' names no Jellyfin item" in lines[0]
    assert "Cowboy Bebop: rating not written: POST /UserItems/" in lines[1] and "HTTP 404" in lines[1]


def test_a_server_that_goes_away_mid_run_ends_it_with_one_line(jf, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.jellyfin")
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    calls: list[str] = []
    on_route(jf, "POST", r"/UserItems/(\w+)/UserData", gone_at(jf, calls, 2))
    changes = [(titles[r], 5, None) for r in (jf.inception, jf.bebop, jf.holiday)]
    assert adapter.rate(changes) == 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert "2 of 3 ratings not written" in line and "POST /UserItems/" in line
    assert len(calls) == 2  # nothing asked of a server that is gone


# -- lists -----------------------------------------------------------------------------------------


@every_version
def test_the_list_is_made_once_and_holds_exactly_what_was_added(jf) -> None:
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    assert adapter.set_listed("plantowatch", [titles[jf.inception], titles[jf.bb]], []) == 2
    assert members(jf) == [jf.inception, jf.bb]  # the show itself, not its episodes
    assert adapter.set_listed("plantowatch", [titles[jf.inception], titles[jf.bebop]], []) == 1
    assert members(jf) == [jf.inception, jf.bb, jf.bebop]
    assert [q for m, p, q, _ in sent(jf, "/Collections") if p == "/Collections"] == [{"name": PLAN}]
    read = by_ref(adapter.read_titles(frozenset({"plantowatch", "watching"})))
    assert {r for r, t in read.items() if t.listed} == {jf.inception, jf.bb, jf.bebop}
    assert read[jf.bb].listed == frozenset({"plantowatch"}) and read[jf.matrix].listed == frozenset()


def test_what_the_person_adds_is_listed_too_and_grouping_hides_nothing(jf) -> None:
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    adapter.set_listed("completed", [titles[jf.matrix]], [])
    jf.boxsets[next(b for b, (n, _) in jf.boxsets.items() if n == "Simkl: Completed")][1].append(jf.bb)
    jf.add_boxset("Simkl favourites", [jf.inception])  # not a mirror: another name
    jf.group_into_collections = True
    read = by_ref(adapter.read_titles(frozenset({"completed", "plantowatch"})))
    assert {r for r, t in read.items() if t.listed} == {jf.matrix, jf.bb}
    assert read[jf.bb].listed == frozenset({"completed"}) and jf.matrix in read


def test_removal_takes_off_only_the_given_title(jf) -> None:
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    adapter.set_listed("plantowatch", [titles[r] for r in (jf.inception, jf.bb, jf.bebop)], [])
    assert adapter.set_listed("plantowatch", [], [titles[jf.bb]]) == 1
    assert members(jf) == [jf.inception, jf.bebop]
    (removal,) = [q for m, _, q, _ in sent(jf, "/Collections/") if m == "DELETE"]
    assert removal == {"ids": jf.bb}
    # Not on it, or no such list: nothing is asked, and no list is made to take nothing off.
    assert adapter.set_listed("plantowatch", [], [titles[jf.matrix]]) == 0
    assert adapter.set_listed("dropped", [], [titles[jf.inception]]) == 0
    assert len([1 for m, *_ in sent(jf, "/Collections") if m != "GET"]) == 3 and len(jf.boxsets) == 1


def test_an_item_gone_from_the_server_is_one_line_and_the_rest_are_listed(jf, caplog) -> None:
    """Jellyfin refuses a whole addition for one unknown id: the chunk is tried one by one."""
    caplog.set_level(logging.WARNING, logger="bridge.adapters.jellyfin")
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    gone = Title(titles[jf.bebop].item, "Cowboy Bebop", ref="c" * 32)
    assert adapter.set_listed("plantowatch", [gone, titles[jf.inception], titles[jf.bb]], []) == 2
    assert members(jf) == [jf.inception, jf.bb]
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"Cowboy Bebop not put on {PLAN!r}: POST /Collections/" in line and "HTTP 400" in line


def test_a_server_that_goes_away_while_lists_change_ends_it_with_one_line(jf, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.jellyfin")
    adapter = holder(jf)
    titles = by_ref(adapter.read_titles(frozenset()))
    adapter.set_listed("plantowatch", [titles[jf.bb]], [])

    def going_away(handler):
        def answer(req):
            if req.method == "DELETE":
                jf.server.stop()
                raise ConnectionError("the server went away")
            return handler(req)
        return answer

    for method in ("POST", "DELETE"):
        on_route(jf, method, r"/Collections/([\w-]+)/Items", going_away)
    assert adapter.set_listed("plantowatch", [titles[jf.inception]], [titles[jf.bb]]) == 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"1 changes to {PLAN!r} not made" in line and "DELETE /Collections/" in line


# -- with Simkl ------------------------------------------------------------------------------------


def test_a_sync_sends_jellyfins_ratings_and_brings_simkls_ratings_and_plan_to_watch_back(jf, emulator,
                                                                                        tmp_path) -> None:
    emulator.add_token(PHONE, "alice")
    phone = make_client(emulator, token=PHONE)  # the person's other app
    phone.add_ratings({"movies": [{"ids": {"imdb": "tt1375666"}, "rating": 7, "rated_at": iso(T - 9 * DAY)}]})
    phone.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}]})
    jf.data(ALICE, jf.bb).pop("Rating")  # Breaking Bad is only planned
    simkl, adapter = make_client(emulator), holder(jf, exclude_libraries=["Kids"])
    box, base = Outbox(tmp_path / "outbox.sqlite"), Baseline(tmp_path / "sync.sqlite")
    options = TitleOptions(ratings="newer", lists=frozenset({"plantowatch"}))
    sender = Sender(box, lambda account: simkl)

    def sync(now: float) -> None:
        sync_account("alice", simkl, base, box, [(adapter, Options())], now=now, titles={adapter.name: (adapter, options)})
        sender.flush_once(now=now + 1)

    sync(T)
    rated = emulator.state()["users"]["alice"]["ratings"]
    assert sorted(r["rating"] for r in rated.values()) == [7, 8]  # Jellyfin's Matrix went to Simkl
    assert jf.data(ALICE, jf.inception)["Rating"] == 7.0  # Simkl's Inception came to Jellyfin
    assert members(jf) == [jf.bb]  # and Simkl's plan, the show itself, as a collection
    writes = len(sent(jf, "/UserData", "/Rating", "/Collections"))
    seen = len(emulator.requests)
    sync(T + 3600)
    assert [r for r in emulator.requests[seen:] if r["method"] == "POST"] == []
    assert len(sent(jf, "/UserData", "/Rating", "/Collections")) == writes and members(jf) == [jf.bb]


def test_nothing_asked_of_a_list_asks_nothing_of_the_server(jf) -> None:
    # The sync calls set_listed for every mirrored bucket each run it writes the server.
    adapter = holder(jf)
    seen = len(jf.server.requests)
    assert adapter.set_listed("plantowatch", [], []) == 0 and len(jf.server.requests) == seen
