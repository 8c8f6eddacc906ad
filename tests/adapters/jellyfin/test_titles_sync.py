"""Ratings and Plan to Watch synced end to end as the daemon runs them: the bridge built from its
config (the real JellyfinAdapter for `user: alice`), the Jellyfin stand-in, the Simkl emulator, the
outbox and the sender. What the person sees: their own rating on Simkl and Simkl's on Jellyfin
(10.9 and later take a rating; 10.8 only a like), never another user's, and Simkl's Plan to Watch as
the collection "Simkl: Plan to Watch", what they put on it going back without demoting anything;
with a Plex server beside it (the Plex stand-in), what is rated or planned on one reaches the other.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from bridge.config import ConfigError
from bridge.times import iso
from tests.adapters.jellyfin.standin import ALICE, API_KEY, BOB, JellyfinStandIn
from tests.adapters.plex.standin import TOKEN as PLEX_TOKEN
from tests.adapters.plex.standin import PlexStandIn
from tests.conftest import TOKEN as SIMKL_TOKEN
from tests.conftest import config_for
from tests.sync.simkl_app import phone, ratings, simkl_posts, statuses

PLAN = "Simkl: Plan to Watch"
DAY = 86400.0
MATRIX, INCEPTION, BREAKING_BAD, OFFICE = "53992", "67890", "11121", "17041"  # Simkl ids
RATES = ("10.10.7", "10.11.11")  # the versions that take a rating (POST /UserItems/{id}/UserData)


@pytest.fixture
def jf(request):
    """Alice's and Bob's server: two movies and two shows, the Matrix rated 8 by alice."""
    with JellyfinStandIn(getattr(request, "param", RATES[-1])) as s:
        s.matrix = s.add_movie("The Matrix", {"Tmdb": "603", "Imdb": "tt0133093"}, year=1999)
        s.inception = s.add_movie("Inception", {"Imdb": "tt1375666"}, year=2010)
        s.bb = s.add_series("Breaking Bad", {"Tvdb": "81189", "Imdb": "tt0903747"})
        s.bb1 = s.add_episode(s.bb, 1, 1, {"Tvdb": "349238"})
        s.office = s.add_series("The Office", {"Tvdb": "73244"}, year=2005)
        s.office1 = s.add_episode(s.office, 1, 1)
        s.data(ALICE, s.matrix).update(Rating=8.0, Likes=True)
        yield s


def synced(bridge_for, jf: JellyfinStandIn, settings: str = "lists: [plantowatch]") -> Any:
    """A bridge whose one server is the stand-in for alice, as the config describes it (`ratings`
    is `newer` unless `settings` says otherwise)."""
    server = (f"{{name: home, url: '{jf.url}', api_key: {API_KEY}, user: alice, websocket: false, "
              f"{settings}}}")
    return bridge_for(f"jellyfin: [{server}]", adapters=None)


def sync(bridge: Any) -> list[Any]:
    reports = bridge.sync.run_once()
    bridge.flush()
    return reports


def jellyfin_writes(jf: JellyfinStandIn, seen: int = 0) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in jf.server.requests[seen:] if r.method != "GET"]


def members(jf: JellyfinStandIn, name: str = PLAN) -> list[str]:
    return [m for named, items in jf.boxsets.values() if named == name for m in items]


# -- ratings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("jf", RATES, indirect=True)
def test_the_users_rating_reaches_simkl_and_simkls_comes_back(emulator, jf, bridge_for) -> None:
    phone(emulator).add_ratings({"movies": [{"ids": {"imdb": "tt1375666"}, "rating": 7,
                                             "rated_at": iso(time.time() - 9 * DAY)}],
                                 "shows": [{"ids": {"tvdb": 73244}, "rating": 10}]})
    bridge = synced(bridge_for, jf, "")
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 8
    assert (jf.data(ALICE, jf.inception)["Rating"], jf.data(ALICE, jf.office)["Rating"]) == (7.0, 10.0)
    assert "Rating" not in jf.data(BOB, jf.inception)  # alice's ratings are hers, not everyone's
    seen_simkl, seen_jf = len(emulator.requests), len(jf.server.requests)
    sync(bridge)
    assert simkl_posts(emulator, seen_simkl) == [] and jellyfin_writes(jf, seen_jf) == []


def test_another_users_rating_never_reaches_simkl(emulator, jf, bridge_for) -> None:
    jf.data(BOB, jf.inception).update(Rating=3.0, Likes=False)
    jf.data(BOB, jf.bb).update(Rating=10.0, Likes=True)
    bridge = synced(bridge_for, jf, "")
    sync(bridge)
    jf.data(BOB, jf.office).update(Rating=2.0)  # bob rates again, on his own account
    sync(bridge)
    assert {k: r for k, (r, _) in ratings(emulator).items()} == {MATRIX: 8}  # alice's only


def test_a_rating_changed_on_jellyfin_is_sent_again_and_simkls_stale_one_never_comes_back(
        emulator, jf, bridge_for) -> None:
    bridge = synced(bridge_for, jf, "")
    sync(bridge)
    jf.data(ALICE, jf.matrix)["Rating"] = 4.0  # alice changes her mind on the TV
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 4
    seen = len(jf.server.requests)
    sync(bridge)
    assert jf.data(ALICE, jf.matrix)["Rating"] == 4.0 and jellyfin_writes(jf, seen) == []


@pytest.mark.parametrize("jf", ["10.8.13"], indirect=True)
def test_on_10_8_simkls_rating_never_becomes_a_like(emulator, jf, bridge_for) -> None:
    """10.8 takes only a like (10) or a dislike (1): a 7 written so would come back as a 10."""
    rated_at = time.time() - 9 * DAY
    phone(emulator).add_ratings({"movies": [{"ids": {"imdb": "tt1375666"}, "rating": 7, "rated_at": iso(rated_at)}]})
    bridge = synced(bridge_for, jf, "")
    sync(bridge)
    sync(bridge)
    assert "Rating" not in jf.data(ALICE, jf.inception) and "Likes" not in jf.data(ALICE, jf.inception)
    assert [w for w in jellyfin_writes(jf) if "Rating" in w[1]] == []
    assert ratings(emulator)[INCEPTION] == (7, int(rated_at)) and ratings(emulator)[MATRIX][0] == 8


def test_equal_ratings_are_never_re_sent_and_keep_their_date(emulator, jf, bridge_for) -> None:
    """8.0 on Jellyfin and 8 on Simkl are one rating: re-sending it would reset Simkl's rating date."""
    ten_years = time.time() - 3650 * DAY
    phone(emulator).add_ratings({"movies": [{"ids": {"tmdb": 603}, "rating": 8, "rated_at": iso(ten_years)}]})
    seen = len(emulator.requests)
    bridge = synced(bridge_for, jf, "")
    sync(bridge)
    sync(bridge)
    assert simkl_posts(emulator, seen) == [] and jellyfin_writes(jf) == []
    assert ratings(emulator) == {MATRIX: (8, int(ten_years))}


# -- Plan to Watch ---------------------------------------------------------------------------------


def test_simkls_plan_to_watch_is_a_collection_and_what_the_person_adds_goes_back(emulator, jf, bridge_for) -> None:
    simkl = phone(emulator)
    simkl.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}], "movies": [{"ids": {"tmdb": 157336}}]})
    simkl.add_history({"movies": [{"ids": {"tmdb": 603}, "watched_at": iso(time.time() - 30 * DAY)}]})
    bridge = synced(bridge_for, jf)
    sync(bridge)
    assert members(jf) == [jf.bb]  # the show itself; Interstellar, which Jellyfin lacks, is on nothing
    (collection,) = [b for b, (name, _) in jf.boxsets.items() if name == PLAN]
    jf.boxsets[collection][1].extend([jf.inception, jf.matrix])  # the person adds two films in Jellyfin
    seen = len(emulator.requests)
    sync(bridge)
    assert statuses(emulator) == {"Breaking Bad": "plantowatch", "Interstellar": "plantowatch",
                                  "Inception": "plantowatch", "The Matrix": "completed"}  # the watched one stays
    assert simkl_posts(emulator, seen) == ["/sync/add-to-list"]
    assert members(jf) == [jf.bb, jf.inception, jf.matrix]  # what the person put there stays
    seen_simkl, seen_jf = len(emulator.requests), len(jf.server.requests)
    sync(bridge)
    assert simkl_posts(emulator, seen_simkl) == [] and jellyfin_writes(jf, seen_jf) == []


def test_a_title_moved_on_simkl_out_of_plan_to_watch_leaves_the_collection(emulator, jf, bridge_for) -> None:
    simkl = phone(emulator)
    simkl.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}, {"ids": {"tvdb": 73244}}]})
    bridge = synced(bridge_for, jf)
    sync(bridge)
    assert members(jf) == [jf.bb, jf.office]
    simkl.add_to_list("dropped", {"shows": [{"ids": {"tvdb": 73244}}]})
    sync(bridge)
    assert members(jf) == [jf.bb]
    assert statuses(emulator) == {"Breaking Bad": "plantowatch", "The Office": "dropped",
                                  "The Matrix": "completed"}  # Simkl files a rated movie it did not have so


def test_a_revoked_token_changes_no_rating_and_no_list_on_jellyfin(emulator, jf, bridge_for) -> None:
    bridge = synced(bridge_for, jf)
    sync(bridge)
    simkl = phone(emulator)
    simkl.add_ratings({"movies": [{"ids": {"imdb": "tt1375666"}, "rating": 2}]})
    simkl.add_to_list("plantowatch", {"shows": [{"ids": {"tvdb": 81189}}]})
    simkl.remove_ratings({"movies": [{"ids": {"tmdb": 603}}]})
    emulator.revoke(SIMKL_TOKEN)
    seen = len(jf.server.requests)
    assert bridge.sync.run_once() == []
    assert jellyfin_writes(jf, seen) == [] and jf.boxsets == {}
    assert jf.data(ALICE, jf.matrix)["Rating"] == 8.0 and "Rating" not in jf.data(ALICE, jf.inception)


# -- two people on one server ----------------------------------------------------------------------


def test_two_people_mirroring_lists_on_one_server_is_refused_at_load(emulator, jf, tmp_path) -> None:
    # A collection is the whole server's: bob's Plan to Watch on it would read as alice's too and reach
    # her Simkl account. The config says so instead, naming the key.
    servers = ", ".join(f"{{name: home-{user}, url: '{jf.url}', api_key: {API_KEY}, user: {user}, websocket: false, "
                        "ratings: none, lists: [plantowatch]}" for user in ("alice", "bob"))
    with pytest.raises(ConfigError) as refused:
        config_for(emulator, tmp_path, f"jellyfin: [{servers}]")
    assert "jellyfin[1].lists: 'home-alice' already mirrors Simkl lists on this server" in str(refused.value)
    alone = servers.replace("lists: [plantowatch]}", "lists: []}", 1)  # alice's entry mirrors nothing: fine
    assert [s.user for s in config_for(emulator, tmp_path, f"jellyfin: [{alone}]").jellyfin] == ["alice", "bob"]


# -- two servers of one person -------------------------------------------------------------------


@pytest.fixture
def plex():
    standin = PlexStandIn()
    standin.add("100", "movie", "The Matrix", "1", "plex://movie/5d7768313c3c2a001fbcd1f0",
                ("imdb://tt0133093", "tmdb://603"), year=1999)
    standin.add("200", "show", "Breaking Bad", "2", "com.plexapp.agents.thetvdb://81189?lang=en", year=2008)
    standin.start()
    yield standin
    standin.stop()


def test_a_rating_and_a_plan_made_on_plex_reach_jellyfin_through_simkl(emulator, jf, plex, bridge_for) -> None:
    plex.items["100"].update(userRating=6.0, lastRatedAt=int(time.time() - DAY))  # 3 stars on Plex
    jf.data(ALICE, jf.matrix).pop("Rating")
    servers = (f"plex: [{{name: den, url: '{plex.url}', token: {PLEX_TOKEN}, alerts: false, resume_user: alice, "
               "lists: [plantowatch]}]\n"
               f"jellyfin: [{{name: home, url: '{jf.url}', api_key: {API_KEY}, user: alice, websocket: false, "
               "lists: [plantowatch]}]")
    bridge = bridge_for(servers, adapters=None)
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 6 and jf.data(ALICE, jf.matrix)["Rating"] == 6.0
    plex.items["100"].update(userRating=9.0, lastRatedAt=int(time.time()))  # changed on Plex
    uri = f"server://{plex.machine_id}/com.plexapp.plugins.library/library/metadata/200"
    requests.post(f"{plex.url}/library/collections", params={"uri": uri, "type": "2", "title": PLAN, "smart": "0",
                                                             "sectionId": "2"},
                  headers={"X-Plex-Token": PLEX_TOKEN}, timeout=5).raise_for_status()  # planned in Plex Web
    sync(bridge)
    assert ratings(emulator)[MATRIX][0] == 9 and statuses(emulator)["Breaking Bad"] == "plantowatch"
    assert jf.data(ALICE, jf.matrix)["Rating"] == 9.0 and members(jf) == [jf.bb]  # in the same run
    seen_simkl, seen_jf = len(emulator.requests), len(jf.server.requests)
    sync(bridge)
    assert simkl_posts(emulator, seen_simkl) == [] and jellyfin_writes(jf, seen_jf) == []
    assert plex.items["100"]["userRating"] == 9.0
