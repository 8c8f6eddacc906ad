"""Ratings and Plan to Watch synced end to end as the daemon runs them: the bridge built from its
config (the real PlexAdapter), the Plex stand-in (and the Discover stand-in for the plex.tv
watchlist), the Simkl emulator, the outbox and the sender. What the person sees: Plex's stars on
Simkl and back without a 5-star/10-point mix-up, a collection "Simkl: Plan to Watch" that holds
Simkl's plan, what they put on it (or on their watchlist) on Simkl's Plan to Watch, and nothing
demoted, re-sent or written when nothing changed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from bridge.times import iso
from tests.adapters.plex.discover_standin import DiscoverStandIn
from tests.adapters.plex.standin import MACHINE_ID, TOKEN, PlexStandIn
from tests.conftest import TOKEN as SIMKL_TOKEN
from tests.sync.simkl_app import phone, ratings, simkl_posts, statuses

PTW = "Simkl: Plan to Watch"
DAY = 86400.0
MATRIX, OFFICE, BREAKING_BAD, BEBOP = "53992", "17041", "11121", "37089"  # Simkl ids
MATRIX_PLEX = "5d7768313c3c2a001fbcd1f0"  # plex://movie/<this>: the fixture's Matrix (ratingKey 100)
OFFICE_PLEX = "5d9c086c46115600200aa2fe"  # plex://show/<this>: the fixture's The Office (ratingKey 500)
INTERSTELLAR_PLEX = "5d776b2b96b655001fe0d4a1"  # a watchlisted film the library does not have


def synced(bridge_for, plex: PlexStandIn, settings: str = "lists: [plantowatch]",
           sync_settings: str = "{enabled: false}") -> Any:
    """A bridge whose one server is the stand-in, as the config describes it (alice its owner;
    `ratings` is `newer` unless `settings` says otherwise)."""
    server = (f"{{name: home, url: '{plex.url}', token: {TOKEN}, alerts: false, webhooks: true, "
              f"exclude_libraries: [Home Videos], resume_user: alice, {settings}}}")
    return bridge_for(f"sync: {sync_settings}\nplex: [{server}]", adapters=None)


def sync(bridge: Any) -> list[Any]:
    """One sync run, and what it queued sent."""
    reports = bridge.sync.run_once()
    bridge.flush()
    return reports


def plex_writes(plex: PlexStandIn, seen: int = 0) -> list[tuple[str, str, dict[str, str]]]:
    return [(r.method, r.path, dict(r.query)) for r in plex.requests[seen:] if r.method != "GET"]


def collections(plex: PlexStandIn) -> dict[tuple[str, str], list[str]]:
    return {(c["section"], c["title"]): list(c["items"]) for c in plex.collections.values()}


def collect_by_hand(plex: PlexStandIn, section: str, type_: str, key: str, title: str = PTW) -> str:
    """A person makes a collection in Plex Web, or puts a title on one (plexapi's collection requests)."""
    uri = f"server://{MACHINE_ID}/com.plexapp.plugins.library/library/metadata/{key}"
    existing = [k for k, c in plex.collections.items() if c["title"] == title and c["section"] == section]
    if existing:
        reply = requests.put(f"{plex.url}/library/collections/{existing[0]}/items", params={"uri": uri},
                             headers={"X-Plex-Token": TOKEN}, timeout=5)
    else:
        reply = requests.post(f"{plex.url}/library/collections", params={
            "uri": uri, "type": type_, "title": title, "smart": "0", "sectionId": section},
            headers={"X-Plex-Token": TOKEN}, timeout=5)
    assert reply.status_code == 200, reply.text
    (key_,) = [k for k, c in plex.collections.items() if c["title"] == title and c["section"] == section]
    return key_


def report_lines(bridge: Any) -> list[str]:
    return (bridge.config.state_dir / "sync-unmatched.txt").read_text().splitlines()


# -- ratings ---------------------------------------------------------------------------------------


def test_a_half_star_rating_reaches_simkl_as_7_and_simkls_9_comes_back_as_four_and_a_half_stars(
        emulator, plex, bridge_for) -> None:
    now = time.time()
    plex.items["100"].update(userRating=7.0, lastRatedAt=int(now - 100 * DAY))  # 3.5 stars on the Matrix
    phone(emulator).add_ratings({"shows": [{"ids": {"tvdb": 73244}, "rating": 9, "rated_at": iso(now - 9 * DAY)}]})
    bridge = synced(bridge_for, plex)
    sync(bridge)
    # Plex's 0-10 is Simkl's 1-10: 3.5 stars is a 7 (not a 3 or 4, nor a 14), with Plex's date.
    assert ratings(emulator)[MATRIX] == (7, int(now - 100 * DAY))
    assert ratings(emulator)[OFFICE][0] == 9
    # Simkl's 9 is 4.5 stars on Plex (userRating 9.0), not 9 stars clamped to 5, nor 1.8.
    assert [q["rating"] for m, p, q in plex_writes(plex) if p == "/:/rate"] == ["9"]
    assert plex.items["500"]["userRating"] == 9.0 and plex.items["100"]["userRating"] == 7.0


def test_a_re_run_with_nothing_changed_sends_nothing_and_writes_nothing_on_plex(emulator, plex, bridge_for) -> None:
    now = time.time()
    plex.items["100"].update(userRating=7.0, lastRatedAt=int(now - 100 * DAY))
    simkl = phone(emulator)
    simkl.add_ratings({"shows": [{"ids": {"tvdb": 73244}, "rating": 9, "rated_at": iso(now - 9 * DAY)}]})
    simkl.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}]})
    bridge = synced(bridge_for, plex)
    sync(bridge)
    assert collections(plex) == {("2", PTW): ["200"]} and ratings(emulator)[MATRIX][0] == 7  # the first sync did it
    seen_simkl, seen_plex = len(emulator.requests), len(plex.requests)
    sync(bridge)
    sync(bridge)
    assert simkl_posts(emulator, seen_simkl) == [] and plex_writes(plex, seen_plex) == []
    assert bridge.outbox.pending() == 0


def test_equal_ratings_are_never_re_sent_and_keep_their_date(emulator, plex, bridge_for) -> None:
    """8.0 on Plex and 8 on Simkl are one rating: re-sending it would reset Simkl's rating date."""
    now = time.time()
    plex.items["100"].update(userRating=8.0, lastRatedAt=int(now - DAY))
    plex.items["500"].update(userRating=6.0, lastRatedAt=int(now - 2 * DAY))
    ten_years = now - 3650 * DAY
    phone(emulator).add_ratings({"movies": [{"ids": {"tmdb": 603}, "rating": 8, "rated_at": iso(ten_years)}],
                                 "shows": [{"ids": {"tvdb": 73244}, "rating": 6, "rated_at": iso(ten_years)}]})
    seen = len(emulator.requests)
    bridge = synced(bridge_for, plex)
    sync(bridge)
    sync(bridge)
    assert simkl_posts(emulator, seen) == [] and plex_writes(plex) == []
    assert ratings(emulator) == {MATRIX: (8, int(ten_years)), OFFICE: (6, int(ten_years))}


# -- Plan to Watch ---------------------------------------------------------------------------------


def test_simkls_plan_to_watch_is_a_collection_holding_the_titles_plex_has(emulator, plex, bridge_for) -> None:
    phone(emulator).add_to_list("plantowatch", {"movies": [{"ids": {"tmdb": 603}}, {"ids": {"tmdb": 157336}}],
                                                "shows": [{"ids": {"tvdb": 73244}}]})
    bridge = synced(bridge_for, plex)
    sync(bridge)
    # One collection per library section; Interstellar, which Plex does not have, is on none.
    assert collections(plex) == {("1", PTW): ["100"], ("2", PTW): ["500"]}
    assert statuses(emulator) == {"The Matrix": "plantowatch", "Interstellar": "plantowatch", "The Office": "plantowatch"}


def test_a_title_put_on_the_collection_goes_to_plan_to_watch_and_one_completed_on_simkl_stays_completed(
        emulator, plex, bridge_for) -> None:
    simkl = phone(emulator)
    simkl.add_history({"movies": [{"ids": {"tmdb": 603}, "watched_at": iso(time.time() - 30 * DAY)}]})
    simkl.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 73244}}]})
    bridge = synced(bridge_for, plex)
    sync(bridge)
    assert collections(plex) == {("2", PTW): ["500"]}
    collect_by_hand(plex, "2", "2", "200")  # Breaking Bad, on the bridge's collection
    collect_by_hand(plex, "1", "1", "100")  # the Matrix, watched on Simkl, on a collection of that name
    seen = len(emulator.requests)
    sync(bridge)
    assert statuses(emulator) == {"The Matrix": "completed", "The Office": "plantowatch", "Breaking Bad": "plantowatch"}
    assert simkl_posts(emulator, seen) == ["/sync/add-to-list"]  # Breaking Bad's alone
    assert "The Matrix\t100\tput on the server's Plan to Watch, but completed on Simkl: not demoted" in [
        line.split("\t", 3)[3] for line in report_lines(bridge)]
    assert collections(plex) == {("1", PTW): ["100"], ("2", PTW): ["500", "200"]}  # the person's place stays


@pytest.fixture
def discover():
    standin = DiscoverStandIn()
    standin.add(OFFICE_PLEX, "show", "The Office", 2005, ("tvdb://73244",))  # the library's, by its plex:// guid
    standin.add(INTERSTELLAR_PLEX, "movie", "Interstellar", 2014, ("imdb://tt0816692", "tmdb://157336"))
    standin.add(MATRIX_PLEX, "movie", "The Matrix", 1999, ("imdb://tt0133093", "tmdb://603"))
    standin.start()
    yield standin
    standin.stop()


def watching(bridge_for, plex: PlexStandIn, discover: DiscoverStandIn, lists: str = "") -> Any:
    bridge = synced(bridge_for, plex, f"watchlist: true, discover_url: '{discover.url}', {lists}")
    (adapter,) = bridge.adapters
    adapter._titles.discover.metadata_url = discover.url  # plex.tv's metadata provider: the stand-in too
    return bridge


def test_the_discover_watchlist_alone_goes_to_simkls_plan_to_watch(emulator, plex, discover, bridge_for) -> None:
    bridge = watching(bridge_for, plex, discover)
    sync(bridge)
    assert statuses(emulator) == {"The Matrix": "plantowatch", "The Office": "plantowatch", "Interstellar": "plantowatch"}


def test_the_discover_watchlist_goes_to_simkls_plan_to_watch_and_a_completed_title_stays_completed(
        emulator, plex, discover, bridge_for) -> None:
    phone(emulator).add_history({"movies": [{"ids": {"tmdb": 603}, "watched_at": iso(time.time() - 30 * DAY)}]})
    bridge = watching(bridge_for, plex, discover, "lists: [plantowatch]")
    sync(bridge)
    # The Office (in the library) and Interstellar (not): Plan to Watch; the watched Matrix is not demoted.
    assert statuses(emulator) == {"The Matrix": "completed", "The Office": "plantowatch", "Interstellar": "plantowatch"}
    seen_simkl, seen_tv = len(emulator.requests), len(discover.requests)
    sync(bridge)
    assert simkl_posts(emulator, seen_simkl) == []
    assert [r.path for r in discover.requests[seen_tv:] if r.method != "GET"] == []
    assert discover.watchlist == [OFFICE_PLEX, INTERSTELLAR_PLEX, MATRIX_PLEX]


def test_simkls_plan_to_watch_reaches_the_watchlist_and_the_collection_both(emulator, plex, discover,
                                                                             bridge_for) -> None:
    discover.watchlist.clear()
    phone(emulator).add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 73244}}]})
    bridge = watching(bridge_for, plex, discover, "lists: [plantowatch]")
    sync(bridge)
    assert discover.watchlist == [OFFICE_PLEX] and collections(plex) == {("2", PTW): ["500"]}


def test_a_title_moved_on_simkl_out_of_plan_to_watch_leaves_the_watchlist_and_the_collection(
        emulator, plex, discover, bridge_for) -> None:
    discover.watchlist.clear()
    phone(emulator).add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 73244}}]})
    bridge = watching(bridge_for, plex, discover, "lists: [plantowatch]")
    sync(bridge)
    assert discover.watchlist == [OFFICE_PLEX] and collections(plex) == {("2", PTW): ["500"]}
    phone(emulator).add_to_list("watching", {"shows": [{"ids": {"tvdb": 73244}}]})  # started on the phone
    sync(bridge)
    assert discover.watchlist == [] and plex.collections == {}


def test_a_watchlisted_title_on_simkls_plan_to_watch_is_on_the_collection_too(emulator, plex, discover,
                                                                              bridge_for) -> None:
    discover.watchlist[:] = [OFFICE_PLEX]  # the person watchlisted The Office on plex.tv
    bridge = watching(bridge_for, plex, discover, "lists: [plantowatch]")
    sync(bridge)
    assert statuses(emulator) == {"The Office": "plantowatch"}
    sync(bridge)
    assert collections(plex) == {("2", PTW): ["500"]}  # Simkl's Plan to Watch, as the collection shows it


def test_a_dry_run_completes_neither_mirror_and_the_next_run_does(emulator, plex, discover, bridge_for) -> None:
    from bridge.sync.service import Request

    discover.watchlist[:] = [OFFICE_PLEX]  # watchlisted on plex.tv, on no collection
    bridge = watching(bridge_for, plex, discover, "lists: [plantowatch]")
    seen = len(discover.requests)
    bridge.sync.run_once(Request(dry_run=True))
    assert plex.collections == {} and [r for r in discover.requests[seen:] if r.path.startswith("/actions/")] == []
    sync(bridge)
    assert collections(plex) == {("2", PTW): ["500"]}  # the run that writes the server makes the two one


# -- a revoked token -------------------------------------------------------------------------------


def test_a_revoked_token_changes_no_rating_and_no_list_on_plex(emulator, plex, bridge_for) -> None:
    plex.items["100"].update(userRating=7.0, lastRatedAt=int(time.time() - DAY))
    bridge = synced(bridge_for, plex)
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 7
    simkl = phone(emulator)  # then, elsewhere: a new rating, a new plan, the Matrix's rating cleared
    simkl.add_ratings({"shows": [{"ids": {"tvdb": 73244}, "rating": 3}]})
    simkl.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}]})
    simkl.remove_ratings({"movies": [{"ids": {"tmdb": 603}}]})
    emulator.revoke(SIMKL_TOKEN)
    seen = len(plex.requests)
    assert bridge.sync.run_once() == []
    assert plex_writes(plex, seen) == [] and plex.items["100"]["userRating"] == 7.0
    assert "userRating" not in plex.items["500"] and plex.collections == {}
    assert bridge.outbox.pending() == 0


# -- a sync Plex misses ----------------------------------------------------------------------------


def rated_and_planned_on_the_phone(emulator) -> None:
    simkl = phone(emulator)
    simkl.add_ratings({"shows": [{"ids": {"tvdb": 73244}, "rating": 9}]})
    simkl.add_to_list("plantowatch", {"movies": [{"ids": {"tmdb": 603}}]})


def test_simkls_rating_and_plan_reach_plex_after_a_sync_plex_missed(emulator, plex, bridge_for) -> None:
    bridge = synced(bridge_for, plex)
    sync(bridge)
    rated_and_planned_on_the_phone(emulator)
    plex.failing.add("/library/sections")  # Plex restarting during the next sync: its library is not read
    (report,) = sync(bridge)
    assert "plex/home" in report.failed and "userRating" not in plex.items["500"]
    plex.failing.clear()
    sync(bridge)
    assert plex.items["500"].get("userRating") == 9.0 and collections(plex) == {("1", PTW): ["100"]}


def test_a_rating_and_a_plan_plex_refused_once_are_written_at_the_next_sync(emulator, plex, bridge_for) -> None:
    bridge = synced(bridge_for, plex)
    sync(bridge)
    rated_and_planned_on_the_phone(emulator)
    plex.failing.update({"/:/rate", "/library/collections"})  # Plex answers 500 to the writes, this once
    sync(bridge)
    assert "userRating" not in plex.items["500"] and plex.collections == {}
    plex.failing.clear()
    sync(bridge)
    assert plex.items["500"].get("userRating") == 9.0 and collections(plex) == {("1", PTW): ["100"]}


@pytest.mark.parametrize("direction", ["to-simkl", "from-simkl"])
def test_a_one_direction_run_keeps_the_other_directions_changes_for_the_next_run(emulator, plex, bridge_for,
                                                                                  direction) -> None:
    from bridge.sync.service import Request

    bridge = synced(bridge_for, plex)
    sync(bridge)
    rated_and_planned_on_the_phone(emulator)  # for Plex
    plex.items["200"].update(userRating=4.0, lastRatedAt=int(time.time()))  # for Simkl
    bridge.sync.run_once(Request(direction=direction))
    bridge.flush()
    if direction == "to-simkl":
        assert "userRating" not in plex.items["500"] and plex.collections == {}  # as asked: nothing on Plex
    else:
        assert BREAKING_BAD not in ratings(emulator)  # as asked: nothing on Simkl
    sync(bridge)
    assert plex.items["500"].get("userRating") == 9.0 and collections(plex) == {("1", PTW): ["100"]}
    assert ratings(emulator).get(BREAKING_BAD, (None,))[0] == 4


# -- removals, anime, a dry run ---------------------------------------------------------------------


def test_a_cleared_rating_is_cleared_on_the_other_side_only_with_rating_removal(emulator, plex, bridge_for) -> None:
    plex.items["100"].update(userRating=7.0, lastRatedAt=int(time.time() - DAY))
    phone(emulator).add_ratings({"shows": [{"ids": {"tvdb": 73244}, "rating": 9}]})
    kept = synced(bridge_for, plex, "lists: []")
    sync(kept)
    assert set(ratings(emulator)) == {MATRIX, OFFICE} and plex.items["500"]["userRating"] == 9.0
    plex.items["100"].pop("userRating")  # cleared on Plex
    phone(emulator).remove_ratings({"shows": [{"ids": {"tvdb": 73244}}]})  # and The Office's on Simkl
    sync(kept)
    assert set(ratings(emulator)) == {MATRIX} and plex.items["500"]["userRating"] == 9.0  # without: both stay


def test_with_rating_removal_a_rating_cleared_on_plex_leaves_simkl_and_one_cleared_on_simkl_leaves_plex(
        emulator, plex, bridge_for) -> None:
    plex.items["100"].update(userRating=7.0, lastRatedAt=int(time.time() - DAY))
    phone(emulator).add_ratings({"shows": [{"ids": {"tvdb": 73244}, "rating": 9}]})
    bridge = synced(bridge_for, plex, "lists: []", "{enabled: false, rating_removal: true}")
    sync(bridge)
    assert set(ratings(emulator)) == {MATRIX, OFFICE} and plex.items["500"]["userRating"] == 9.0
    plex.items["100"].pop("userRating")  # cleared on Plex
    sync(bridge)
    phone(emulator).remove_ratings({"shows": [{"ids": {"tvdb": 73244}}]})  # cleared on Simkl
    sync(bridge)
    assert ratings(emulator) == {} and "userRating" not in plex.items["500"]
    assert [q["rating"] for _, p, q in plex_writes(plex) if p == "/:/rate"] == ["9", "-1"]


def test_an_anime_is_rated_both_ways(emulator, plex, bridge_for) -> None:
    """Cowboy Bebop: an AniDB show on Plex (HAMA), an anime on Simkl."""
    phone(emulator).add_ratings({"anime": [{"ids": {"anidb": 23}, "rating": 10}]})
    plex.items["200"].update(userRating=5.0, lastRatedAt=int(time.time() - DAY))  # Breaking Bad: 2.5 stars
    bridge = synced(bridge_for, plex, "lists: []")
    sync(bridge)
    assert plex.items["300"]["userRating"] == 10.0 and ratings(emulator)[BREAKING_BAD][0] == 5
    plex.items["300"]["userRating"] = 6.0  # 3 stars, on Plex
    sync(bridge)
    assert ratings(emulator)[BEBOP][0] == 6


def test_a_movie_watched_elsewhere_leaves_the_plan_to_watch_collection(emulator, plex, bridge_for) -> None:
    simkl = phone(emulator)
    simkl.add_to_list("plantowatch", {"movies": [{"ids": {"tmdb": 603}}], "shows": [{"ids": {"tvdb": 73244}}]})
    bridge = synced(bridge_for, plex)
    sync(bridge)
    assert collections(plex) == {("1", PTW): ["100"], ("2", PTW): ["500"]}
    simkl.add_history({"movies": [{"ids": {"tmdb": 603}, "watched_at": iso(time.time() - 60)}]})  # on the phone
    sync(bridge)
    assert collections(plex) == {("2", PTW): ["500"]} and statuses(emulator)["The Matrix"] == "completed"


def test_a_title_taken_off_the_collection_stays_on_simkls_plan_or_is_dropped_as_configured(
        emulator, plex, bridge_for) -> None:
    phone(emulator).add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 73244}}, {"ids": {"tvdb": 81189}}]})
    bridge = synced(bridge_for, plex, "ratings: none, lists: [plantowatch]", "{enabled: false, list_removal: dropped}")
    sync(bridge)
    (collection,) = plex.collections
    requests.delete(f"{plex.url}/library/collections/{collection}/items/500", headers={"X-Plex-Token": TOKEN},
                    timeout=5).raise_for_status()  # the person takes The Office off in Plex Web
    sync(bridge)
    sync(bridge)
    assert statuses(emulator) == {"The Office": "dropped", "Breaking Bad": "plantowatch"}
    assert collections(plex) == {("2", PTW): ["200"]}  # and it does not come back


def test_a_dry_run_writes_nothing_anywhere_and_the_next_run_does_it_all(emulator, plex, bridge_for) -> None:
    from bridge.sync.service import Request

    plex.items["100"].update(userRating=7.0, lastRatedAt=int(time.time() - DAY))
    rated_and_planned_on_the_phone(emulator)
    bridge = synced(bridge_for, plex)
    seen = len(emulator.requests)
    (report,) = bridge.sync.run_once(Request(dry_run=True))
    bridge.flush()
    assert simkl_posts(emulator, seen) == [] and plex_writes(plex) == [] and bridge.outbox.pending() == 0
    planned = sorted((a.step.value, a.title.title) for a in report.titles["plex/home"].actions)
    assert planned == [("put on the server's list", "The Matrix"), ("rate on Simkl", "The Matrix"),
                       ("rate on the server", "The Office")]
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 7 and plex.items["500"]["userRating"] == 9.0
    assert collections(plex) == {("1", PTW): ["100"]}


def test_list_moves_refused_as_mass_removal_are_made_by_the_run_with_the_raised_limit(emulator, plex,
                                                                                      bridge_for) -> None:
    simkl = phone(emulator)
    simkl.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}, {"ids": {"tvdb": 73244}}]})
    lists_only = "ratings: none, lists: [plantowatch]"
    sync(synced(bridge_for, plex, lists_only))
    assert collections(plex) == {("2", PTW): ["200", "500"]}
    phone(emulator).add_to_list("watching", {"shows": [{"ids": {"tvdb": 81189}}, {"ids": {"tvdb": 73244}}]})
    (report,) = sync(synced(bridge_for, plex, lists_only))
    assert report.titles["plex/home"].refused  # 2 of 5 titles: more than 10 % of this small library
    assert collections(plex) == {("2", PTW): ["200", "500"]}
    sync(synced(bridge_for, plex, lists_only, "{enabled: false, unwatch_limit: 1.0}"))
    assert collections(plex) == {}  # as the refusal said: raised for one run, it is done


# -- the rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize("plex_later", [True, False])
def test_rated_on_both_sides_since_the_last_sync_the_later_rating_wins(emulator, plex, bridge_for, plex_later) -> None:
    bridge = synced(bridge_for, plex, "lists: []")
    sync(bridge)
    now = time.time()
    plex.items["100"].update(userRating=9.0, lastRatedAt=int(now - (3600 if plex_later else 7200)))
    phone(emulator).add_ratings({"movies": [{"ids": {"tmdb": 603}, "rating": 4,
                                             "rated_at": iso(now - (7200 if plex_later else 3600))}]})
    sync(bridge)
    winner = 9 if plex_later else 4
    assert ratings(emulator)[MATRIX][0] == winner and plex.items["100"]["userRating"] == float(winner)


@pytest.mark.parametrize("rule", ["server", "simkl"])
def test_a_one_way_rule_writes_only_its_way(emulator, plex, bridge_for, rule) -> None:
    plex.items["100"].update(userRating=7.0, lastRatedAt=int(time.time() - DAY))
    phone(emulator).add_ratings({"shows": [{"ids": {"tvdb": 73244}, "rating": 9}]})
    bridge = synced(bridge_for, plex, f"ratings: {rule}")
    sync(bridge)
    assert (MATRIX in ratings(emulator)) == (rule == "server")
    assert ("userRating" in plex.items["500"]) == (rule == "simkl")


def test_an_excluded_librarys_ratings_are_neither_sent_nor_written(emulator, plex, bridge_for) -> None:
    plex.items["400"].update(userRating=8.0, lastRatedAt=int(time.time() - DAY))  # Home Videos: tmdb 105
    phone(emulator).add_ratings({"movies": [{"ids": {"tmdb": 105}, "rating": 3, "rated_at": iso(time.time() - DAY)}]})
    bridge = synced(bridge_for, plex)
    sync(bridge)
    assert {k: r for k, (r, _) in ratings(emulator).items()} == {"36400": 3}  # Simkl's own, not Plex's 8
    assert plex.items["400"]["userRating"] == 8.0 and plex_writes(plex) == []
