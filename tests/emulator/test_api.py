"""Endpoint semantics (bridge/emulator/api.py): history repeats, episodes, scrobble rules, playback spellings."""

from __future__ import annotations

import pytest

from bridge.emulator import Emulator
from tests.conftest import TOKEN, make_client
from tests.emulator.helpers import MATRIX, call, watches


def test_history_identical_resend_is_a_no_op_and_rewatch_needs_two_days(emulator) -> None:
    emulator.add_token(TOKEN, "alice", plan="pro")  # rewatches are Simkl Pro/VIP only
    body = {"movies": [dict(MATRIX, watched_at="2024-01-01T20:00:00Z")]}
    first = call(emulator, "POST", "/sync/history", body, {"allow_rewatch": "yes"})
    assert first.status_code == 201 and first.json()["added"]["movies"] == 1
    again = call(emulator, "POST", "/sync/history", body, {"allow_rewatch": "yes"}).json()
    assert again["added"]["movies"] == 0
    next_day = {"movies": [dict(MATRIX, watched_at="2024-01-02T20:00:00Z")]}
    assert call(emulator, "POST", "/sync/history", next_day, {"allow_rewatch": "yes"}).json()["added"]["movies"] == 0
    later = {"movies": [dict(MATRIX, watched_at="2024-01-05T20:00:00Z")]}
    assert call(emulator, "POST", "/sync/history", later).json()["added"]["movies"] == 0  # no allow_rewatch
    assert call(emulator, "POST", "/sync/history", later, {"allow_rewatch": "yes"}).json()["added"]["movies"] == 1
    assert [w["watched_at"] for w in watches(emulator)] == ["2024-01-01T20:00:00Z", "2024-01-05T20:00:00Z"]


def test_episodes_by_season_and_shorthand(emulator) -> None:
    body = {"shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 2}, {"number": 3}, {"number": 99}]}]},
                      {"ids": {"imdb": "tt0386676"}, "episodes": [{"number": 4}]}]}
    r = call(emulator, "POST", "/sync/history", body).json()
    assert r["added"]["episodes"] == 3 and r["added"]["shows"] == 2
    assert sorted((w["title"], w["label"]) for w in watches(emulator)) == [
        ("Breaking Bad", "S01E02"), ("Breaking Bad", "S01E03"), ("The Office", "S01E04")]


def test_scrobble_rules(emulator) -> None:
    start = call(emulator, "POST", "/scrobble/start", {"progress": 1, "movie": MATRIX})
    assert start.status_code == 201 and start.json()["id"] == 0 and start.json()["action"] == "start"
    assert start.json()["movie"]["ids"]["tmdb"] == "603" and isinstance(start.json()["movie"]["ids"]["simkl"], int)
    pause = call(emulator, "POST", "/scrobble/pause", {"progress": 45.5, "movie": MATRIX}).json()
    assert pause["action"] == "pause" and pause["progress"] == 45.5 and pause["id"] > 0
    low_stop = call(emulator, "POST", "/scrobble/stop", {"progress": 50, "movie": MATRIX}).json()
    assert low_stop["action"] == "pause"
    assert len(call(emulator, "GET", "/sync/playback").json()) == 1  # one playback per item
    stop = call(emulator, "POST", "/scrobble/stop", {"progress": 95, "movie": MATRIX}).json()
    assert stop["action"] == "scrobble" and len(watches(emulator)) == 1
    dup = call(emulator, "POST", "/scrobble/stop", {"progress": 99, "movie": MATRIX})
    assert dup.status_code == 409 and set(dup.json()) == {"watched_at", "expires_at"}
    assert call(emulator, "GET", "/sync/playback").json() == []


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"movie": MATRIX}, 400, "empty_field"),
    ({"progress": 101, "movie": MATRIX}, 400, "wrong_parameter"),
    ({"progress": 33.333, "movie": MATRIX}, 400, "wrong_parameter"),
    ({"progress": 10}, 400, "empty_field"),
    ({"progress": 10, "movie": {"ids": {"tmdb": 424242424}}}, 404, "id_err"),
    ({"progress": 10, "show": {"ids": {"tvdb": 81189}}}, 400, "empty_field"),
])
def test_scrobble_refusals(emulator, body, status, error) -> None:
    r = call(emulator, "POST", "/scrobble/pause", body)
    assert (r.status_code, r.json()["error"]) == (status, error)


def test_legacy_spellings_can_be_emitted() -> None:
    with Emulator(post_interval=0, legacy_spelling=True) as emu:
        emu.start()
        emu.add_token(TOKEN, "alice")
        call(emu, "POST", "/scrobble/pause", {"progress": 20, "anime": {"ids": {"anidb": 23}}, "episode": {"season": 1, "number": 3}})
        (pb,) = call(emu, "GET", "/sync/playback").json()
        assert "anime" in pb and pb["episode"]["episode"] == 3 and "number" not in pb["episode"]


def test_rewatch_sessions_follow_the_rewatches_guide(emulator) -> None:
    """api.simkl.org/guides/rewatches: a silent no-op for free users; for Pro/VIP a write on a
    completed item opens a session whose rewatch_id comes back in added.statuses[].response, and a
    write naming it joins that session instead of opening another."""
    first = {"movies": [dict(MATRIX, watched_at="2024-01-01T20:00:00Z")]}
    later = {"movies": [dict(MATRIX, watched_at="2024-01-05T20:00:00Z")]}
    call(emulator, "POST", "/sync/history", first)
    free = call(emulator, "POST", "/sync/history", later, {"allow_rewatch": "yes"}).json()
    assert free["added"]["movies"] == 0 and "rewatch_id" not in free["added"]["statuses"][0]["response"]
    emulator.add_token(TOKEN, "alice", plan="vip")
    opened = call(emulator, "POST", "/sync/history", later, {"allow_rewatch": "yes"}).json()
    response = opened["added"]["statuses"][0]["response"]
    assert opened["added"]["movies"] == 1 and isinstance(response["rewatch_id"], int)
    assert response["rewatch_status"] == "completed"
    again = {"movies": [dict(MATRIX, watched_at="2024-01-09T20:00:00Z", rewatch_id=response["rewatch_id"])]}
    joined = call(emulator, "POST", "/sync/history", again, {"allow_rewatch": "yes"}).json()
    assert joined["added"]["statuses"][0]["response"]["rewatch_id"] == response["rewatch_id"]
    assert {w["rewatch_id"] for w in watches(emulator)} == {None, response["rewatch_id"]}


def test_statuses_echo_the_item_as_the_2026_reference_does(emulator) -> None:
    """api.simkl.org/api-reference/simkl/add-to-history: the request echoed without its seasons,
    with `type` and `rating` (null unless sent)."""
    show = {"title": "Breaking Bad", "ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 1}]}]}
    rated = dict(MATRIX, rating=9)
    statuses = call(emulator, "POST", "/sync/history", {"movies": [rated], "shows": [show]}).json()["added"]["statuses"]
    assert statuses == [
        {"request": {**rated, "type": "movie"}, "response": {"status": "completed", "simkl_type": "movie", "anime_type": None}},
        {"request": {"title": "Breaking Bad", "ids": {"tvdb": 81189}, "type": "show", "rating": None},
         "response": {"status": "watching", "simkl_type": "tv", "anime_type": None}},
    ]


def test_catalog_ids_are_the_current_docs(emulator) -> None:
    # api.simkl.org/api-reference/simkl/scrobble-stop: The Matrix is 53992; the blueprint's 53536
    # is Terminator 3.
    start = call(emulator, "POST", "/scrobble/start", {"progress": 1, "movie": MATRIX}).json()
    assert start["movie"]["ids"]["simkl"] == 53992
    t3 = call(emulator, "POST", "/scrobble/start", {"progress": 1, "movie": {"ids": {"simkl": 53536}}}).json()
    assert t3["movie"]["title"] == "Terminator 3: Rise of the Machines"


def test_a_stop_without_progress_is_answered_with_simkls_own(emulator) -> None:
    """The 2026 scrobble-stop page: a stop naming only the item is answered (201, `pause` below
    80%) with the progress Simkl extrapolated from the session's start and the runtime."""
    now = [1_700_000_000.0]
    emulator.clock = lambda: now[0]
    call(emulator, "POST", "/scrobble/start", {"progress": 10, "movie": MATRIX})
    now[0] += 136 * 60 * 0.2  # a fifth of its 136 minutes later
    stop = call(emulator, "POST", "/scrobble/stop", {"movie": MATRIX})
    assert stop.status_code == 201 and stop.json()["action"] == "pause" and stop.json()["progress"] == 30
    (pb,) = call(emulator, "GET", "/sync/playback").json()
    assert pb["progress"] == 30


def test_anime_scrobbles_take_tv_ids_and_tv_numbering(emulator) -> None:
    # The blueprint's own example: `anime` + a TMDB id + TMDB S2E4 is the second cour's E4.
    r = call(emulator, "POST", "/scrobble/pause", {"progress": 42.2, "anime": {"ids": {"tmdb": 1429}},
                                                   "episode": {"season": 2, "number": 4}}).json()
    assert r["anime"]["title"] == "Shingeki no Kyojin Season 2"
    assert r["episode"] == {"season": 1, "number": 4, "tvdb_season": 2, "tvdb_number": 4}
    # By an id of one AniDB entry, the numbering is that entry's own.
    anidb = call(emulator, "POST", "/scrobble/pause", {"progress": 10, "anime": {"ids": {"anidb": 10944}},
                                                       "episode": {"season": 1, "number": 4}}).json()
    assert anidb["anime"]["title"] == "Shingeki no Kyojin Season 2" and "tvdb_season" not in anidb["episode"]


def test_a_library_delta_is_what_changed_since_not_what_was_watched_since(emulator) -> None:
    """date_from selects what Simkl changed after it: a watch dated last year, sent now, is in it."""
    now = [1_700_000_000.0]
    emulator.clock = lambda: now[0]
    call(emulator, "POST", "/sync/history", {"movies": [dict(MATRIX, watched_at="2020-01-01T00:00:00Z")]})
    since = call(emulator, "GET", "/sync/all-items", params={"date_from": "2023-11-14T00:00:00Z"}).json()
    assert [m["movie"]["title"] for m in since["movies"]] == ["The Matrix"]
    now[0] += 86400
    assert call(emulator, "GET", "/sync/all-items", params={"date_from": "2023-11-15T00:00:00Z"}).json() is None


def test_add_to_list_reads_to_per_item_or_at_the_top(emulator) -> None:
    """add-to-list takes `to` on each item (the add-to-list page) or once at the top (the seed page's
    examples); an item's own wins. A movie sent to watching becomes completed, its watch recorded."""
    top_only = call(emulator, "POST", "/sync/add-to-list", {"to": "plantowatch", "movies": [{"ids": {"tmdb": 27205}}]})
    assert top_only.status_code == 201
    assert top_only.json()["added"]["movies"] == [{"ids": {"tmdb": 27205}, "to": "plantowatch"}]
    show = {"ids": {"tvdb": 81189}, "to": "hold"}
    r = call(emulator, "POST", "/sync/add-to-list", {"to": "dropped", "movies": [dict(MATRIX, to="watching")], "shows": [show],
                                                     "anime": [{"ids": {"anidb": 1}}]})
    assert r.status_code == 201
    assert r.json()["added"] == {"movies": [dict(MATRIX, to="completed")], "shows": [{**show, "type": "show"}]}
    assert r.json()["not_found"] == {"movies": [], "shows": [{"ids": {"anidb": 1}}]}
    assert emulator.state()["users"]["alice"]["lists"] == {"67890": "plantowatch", "53992": "completed", "11121": "hold"}
    assert [w["title"] for w in watches(emulator)] == ["The Matrix"]


def test_a_tvdb_numbered_anime_episode_is_removed_as_it_was_added(emulator) -> None:
    # The remove page: the same shapes as a history write, `use_tvdb_anime_seasons` included. TVDB's
    # season 2 of Attack on Titan is AniDB's second cour: a removal read in AniDB numbering would
    # take nothing off (or the first cour's episode 3).
    client = make_client(emulator)
    show = {"ids": {"tvdb": 267440}, "use_tvdb_anime_seasons": True,
            "seasons": [{"number": 2, "episodes": [{"number": 3}]}]}
    first_cour = {"ids": {"anidb": 9541}, "episodes": [{"number": 3, "watched_at": "2024-01-01T00:00:00Z"}]}
    client.add_history({"anime": [{**show, "seasons": [{"number": 2, "episodes": [{"number": 3, "watched_at":
                                                                                   "2024-01-02T00:00:00Z"}]}]}, first_cour]})
    before = {(w["simkl"], w["season"], w["number"]) for w in emulator.state()["users"]["alice"]["watches"]}
    assert (595891, 1, 3) in before and (39687, 1, 3) in before
    reply = client.remove_history({"shows": [show]})
    after = {(w["simkl"], w["season"], w["number"]) for w in emulator.state()["users"]["alice"]["watches"]}
    assert after == {(39687, 1, 3)} and reply["deleted"]["episodes"] == 1
