"""Ratings and Plan to Watch synced end to end on a real Kodi 20 (Debian's package, headless, as
tests/adapters/kodi/real.py runs it): the bridge built and started from its config, the Simkl
emulator, the outbox and the sender. What the person sees in Kodi: the `userrating` they set on
Simkl and Simkl's rating as Kodi's, and Simkl's Plan to Watch as the tag "Simkl: Plan to Watch"
under Movies/TV shows > Tags, beside their own tags; a tag they put on goes to Simkl's Plan to Watch.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from bridge.adapters.kodi import KodiAdapter
from bridge.times import iso
from tests.adapters.kodi.real import eventually, kodi, real_kodi  # noqa: F401 - fixtures
from tests.conftest import TOKEN as SIMKL_TOKEN
from tests.sync.simkl_app import phone, ratings, simkl_posts, statuses

PLAN = "Simkl: Plan to Watch"
DAY = 86400.0
MATRIX, SHOW = "53992", "11121"  # Simkl ids of the real Kodi's movie (tmdb 603) and show (tvdb 81189)


@pytest.fixture
def library(kodi):
    """The real Kodi's one movie and one show, unrated and untagged before and after the test."""
    (movieid,) = [m["movieid"] for m in kodi.rpc("VideoLibrary.GetMovies")["movies"]]
    (tvshowid,) = [s["tvshowid"] for s in kodi.rpc("VideoLibrary.GetTVShows")["tvshows"]]

    def reset() -> None:
        kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "userrating": 0, "tag": []})
        kodi.rpc("VideoLibrary.SetTVShowDetails", {"tvshowid": tvshowid, "userrating": 0, "tag": []})

    reset()
    yield movieid, tvshowid
    reset()


@pytest.fixture
def synced(kodi, bridge_for):
    """A started bridge built from its config, whose one server is the real Kodi (alice's)."""
    def make(settings: str = "lists: [plantowatch]") -> Any:
        host = (f"{{name: lr, port: {kodi.tcp_port}, http_port: {kodi.http_port}, user: alice, "
                f"{settings}}}")
        bridge = bridge_for(f"kodi: [{host}]", adapters=None)
        (adapter,) = bridge.adapters
        assert isinstance(adapter, KodiAdapter)
        bridge.start(reconcile=False)
        eventually(adapter.supervisor.connected.is_set, "the adapter to connect")
        return bridge
    return make


def sync(bridge: Any) -> list[Any]:
    """One sync run, and what it queued delivered by the bridge's own sender."""
    reports = bridge.sync.run_once()
    eventually(lambda: bridge.outbox.pending() == 0, "the sender to deliver what the sync queued")
    return reports


def movie(kodi, movieid: int) -> dict[str, Any]:
    """The movie's rating and tags as Kodi shows them (tags in any order: Kodi keeps no order)."""
    found = kodi.rpc("VideoLibrary.GetMovieDetails", {"movieid": movieid, "properties": ["userrating", "tag"]})
    return {"userrating": found["moviedetails"]["userrating"], "tag": sorted(found["moviedetails"]["tag"])}


def show(kodi, tvshowid: int) -> dict[str, Any]:
    found = kodi.rpc("VideoLibrary.GetTVShowDetails", {"tvshowid": tvshowid, "properties": ["userrating", "tag"]})
    return {"userrating": found["tvshowdetails"]["userrating"], "tag": sorted(found["tvshowdetails"]["tag"])}


@real_kodi
def test_a_userrating_set_in_kodi_reaches_simkl_and_simkls_rating_becomes_kodis(kodi, library, synced,
                                                                                emulator) -> None:
    movieid, tvshowid = library
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "userrating": 6})  # rated in Kodi's dialog
    phone(emulator).add_ratings({"shows": [{"ids": {"tvdb": 81189}, "rating": 9, "rated_at": iso(time.time() - DAY)}]})
    bridge = synced("")
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 6
    assert show(kodi, tvshowid)["userrating"] == 9 and movie(kodi, movieid)["userrating"] == 6
    seen = len(emulator.requests)
    sync(bridge)  # nothing changed: nothing sent, Kodi as it was
    assert simkl_posts(emulator, seen) == []
    assert (movie(kodi, movieid)["userrating"], show(kodi, tvshowid)["userrating"]) == (6, 9)
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "userrating": 3})  # changed on Kodi
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 3 and movie(kodi, movieid)["userrating"] == 3


@real_kodi
def test_simkls_plan_to_watch_is_a_kodi_tag_beside_the_persons_own_and_a_tag_put_on_in_kodi_goes_back(
        kodi, library, synced, emulator) -> None:
    movieid, tvshowid = library
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "tag": ["Family night"]})  # the person's own
    kodi.rpc("VideoLibrary.SetTVShowDetails", {"tvshowid": tvshowid, "tag": ["Sunday"]})
    phone(emulator).add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}]})
    bridge = synced()
    sync(bridge)
    assert show(kodi, tvshowid)["tag"] == sorted(["Sunday", PLAN]) and movie(kodi, movieid)["tag"] == ["Family night"]
    # Kodi's TV shows > Tags > "Simkl: Plan to Watch" lists the show itself.
    assert [s["tvshowid"] for s in kodi.rpc("VideoLibrary.GetTVShows", {"filter": {"tag": PLAN}})["tvshows"]] == [
        tvshowid]
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "tag": ["Family night", PLAN]})  # tagged on Kodi
    sync(bridge)
    assert statuses(emulator) == {"The Matrix": "plantowatch", "Breaking Bad": "plantowatch"}
    assert movie(kodi, movieid)["tag"] == sorted(["Family night", PLAN])
    assert show(kodi, tvshowid)["tag"] == sorted(["Sunday", PLAN])
    seen = len(emulator.requests)
    sync(bridge)
    assert simkl_posts(emulator, seen) == []


@real_kodi
def test_a_tag_put_on_in_kodi_never_demotes_what_simkl_has_completed(kodi, library, synced, emulator) -> None:
    movieid, _ = library
    phone(emulator).add_history({"movies": [{"ids": {"tmdb": 603}, "watched_at": iso(time.time() - 30 * DAY)}]})
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "tag": [PLAN]})
    bridge = synced()
    sync(bridge)
    assert statuses(emulator) == {"The Matrix": "completed"} and movie(kodi, movieid)["tag"] == [PLAN]


@real_kodi
def test_equal_ratings_are_never_re_sent_and_keep_their_date(kodi, library, synced, emulator) -> None:
    movieid, tvshowid = library
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "userrating": 8})
    ten_years = time.time() - 3650 * DAY
    phone(emulator).add_ratings({"movies": [{"ids": {"tmdb": 603}, "rating": 8, "rated_at": iso(ten_years)}]})
    seen = len(emulator.requests)
    bridge = synced("")
    sync(bridge)
    sync(bridge)
    assert simkl_posts(emulator, seen) == [] and ratings(emulator) == {MATRIX: (8, int(ten_years))}
    assert (movie(kodi, movieid)["userrating"], show(kodi, tvshowid)["userrating"]) == (8, 0)


@real_kodi
def test_a_revoked_token_changes_no_rating_and_no_tag_in_kodi(kodi, library, synced, emulator) -> None:
    movieid, tvshowid = library
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "userrating": 7, "tag": ["Family night"]})
    bridge = synced()
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 7
    simkl = phone(emulator)  # then, elsewhere: the show rated and planned, the Matrix's rating cleared
    simkl.add_ratings({"shows": [{"ids": {"tvdb": 81189}, "rating": 2}]})
    simkl.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}], "movies": [{"ids": {"tmdb": 603}}]})
    simkl.remove_ratings({"movies": [{"ids": {"tmdb": 603}}]})
    emulator.revoke(SIMKL_TOKEN)
    assert bridge.sync.run_once() == []
    assert movie(kodi, movieid) == {"userrating": 7, "tag": ["Family night"]}
    assert show(kodi, tvshowid) == {"userrating": 0, "tag": []}


@real_kodi
def test_rated_on_kodi_and_on_simkl_since_the_last_sync_neither_is_overwritten_and_the_report_says_so(
        kodi, library, synced, emulator) -> None:
    """Kodi keeps no rating date: which of the two is newer cannot be told."""
    movieid, _ = library
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "userrating": 6})
    bridge = synced("")
    sync(bridge)
    kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movieid, "userrating": 3})
    phone(emulator).add_ratings({"movies": [{"ids": {"tmdb": 603}, "rating": 8}]})
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 8 and movie(kodi, movieid)["userrating"] == 3
    report = (bridge.config.state_dir / "sync-unmatched.txt").read_text()
    assert report == (f"alice\tkodi/lr\tmovie\tThe Matrix\tmovie:{movieid}\trated 3 here and 8 on Simkl, and the "
                      "dates cannot tell which is newer: neither is overwritten\n")
