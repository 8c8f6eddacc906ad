"""Ratings and buckets as Simkl keeps them (bridge/emulator/ratings.py, lists.py, history.py):
api.simkl.org's add-ratings, remove-ratings, get-user-ratings and add-to-list pages and the
list-statuses seed page, over real HTTP."""

from __future__ import annotations

import pytest

from bridge.emulator.store import stamp
from tests.emulator.helpers import MATRIX, call, watches

T = 1_767_225_600.0  # 2026-01-01T00:00:00Z
INCEPTION = {"ids": {"tmdb": 27205}}
BREAKING_BAD = {"title": "Breaking Bad", "ids": {"tvdb": 81189}}
BEBOP = {"ids": {"mal": 1}}
UPCOMING = {"type": "movie", "title": "Not Out Yet", "year": 2026, "release_date": "2026-06-01", "ids": {"tmdb": 990001}}
ONE_EPISODE = {"type": "show", "title": "One Night Only", "year": 2020, "seasons": {"1": 1}, "ids": {"tvdb": 990002}}


@pytest.fixture
def now(emulator) -> list[float]:
    clock = [T]
    emulator.clock = lambda: clock[0]
    return clock


def alice(emulator) -> dict:
    return emulator.state()["users"]["alice"]


def test_a_rating_is_stored_with_its_date_and_answered_as_the_docs_show(emulator, now) -> None:
    movie = dict(MATRIX, rating=8, rated_at="2014-09-01T09:10:11Z")
    r = call(emulator, "POST", "/sync/ratings", {"movies": [movie], "shows": [dict(BREAKING_BAD, rating=9)],
                                                 "anime": [dict(BEBOP, rating=10)]})
    assert r.status_code == 201
    assert r.json() == {
        "added": {"movies": 1, "shows": 2, "statuses": [  # anime counted in shows: no added.anime
            {"request": {**movie, "rated_at": "2014-09-01T09:10:11.000Z"}, "response": {"status": "completed"}},
            {"request": dict(BREAKING_BAD, rating=9), "response": {"status": "watching"}},
            {"request": dict(BEBOP, rating=10), "response": {"status": "watching"}}]},
        "not_found": {"movies": [], "shows": []}}
    assert alice(emulator)["ratings"] == {"53992": {"rating": 8, "rated_at": "2014-09-01T09:10:11Z"},
                                          "11121": {"rating": 9, "rated_at": stamp(T)},  # no rated_at: now
                                          "37089": {"rating": 10, "rated_at": stamp(T)}}


@pytest.mark.parametrize("rating", [0, 11, -3, 7.5, 8.0, "8", None, True])
def test_a_rating_that_is_not_an_integer_from_1_to_10_is_silently_ignored(emulator, rating) -> None:
    r = call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=rating)], "shows": [dict(BREAKING_BAD, rating=rating)]})
    assert r.status_code == 201
    assert r.json() == {"added": {"movies": 0, "shows": 0, "statuses": []}, "not_found": {"movies": [], "shows": []}}
    state = alice(emulator)
    assert (state["ratings"], state["lists"]) == ({}, {})  # not stored, not filed
    assert state["activities"]["movies"]["rated_at"] is None and state["activities"]["all"] is None


def test_rerating_overwrites_the_value_and_its_date_even_when_equal(emulator, now) -> None:
    call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=7, rated_at="2020-05-05T05:05:05Z")]})
    now[0] += 3600
    again = call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=7)]}).json()
    assert again["added"]["movies"] == 1
    assert alice(emulator)["ratings"]["53992"] == {"rating": 7, "rated_at": stamp(T + 3600)}  # the old date is gone
    call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=4, rated_at="2021-01-01T00:00:00Z")]})
    assert alice(emulator)["ratings"]["53992"] == {"rating": 4, "rated_at": "2021-01-01T00:00:00Z"}


def test_rating_an_unlisted_item_files_it_by_the_add_ratings_table(emulator, now) -> None:
    emulator.add_catalog(UPCOMING)
    emulator.add_catalog(ONE_EPISODE)
    body = {"movies": [dict(MATRIX, rating=8), {"ids": {"tmdb": 990001}, "rating": 6}],
            "shows": [dict(BREAKING_BAD, rating=9), {"ids": {"tvdb": 990002}, "rating": 5}], "anime": [dict(BEBOP, rating=10)]}
    statuses = call(emulator, "POST", "/sync/ratings", body).json()["added"]["statuses"]
    assert [s["response"]["status"] for s in statuses] == ["completed", "plantowatch", "watching", "completed", "watching"]
    state = alice(emulator)
    assert sorted(state["lists"].values()) == ["completed", "completed", "plantowatch", "watching", "watching"]
    assert state["watches"] == []  # filed, not watched
    acts = state["activities"]
    assert {k: acts["movies"][k] for k in ("rated_at", "completed", "plantowatch", "dropped")} == {
        "rated_at": stamp(T), "completed": stamp(T), "plantowatch": stamp(T), "dropped": None}
    assert (acts["tv_shows"]["watching"], acts["tv_shows"]["completed"], acts["tv_shows"]["rated_at"]) == (stamp(T),) * 3
    assert (acts["anime"]["watching"], acts["anime"]["rated_at"], acts["anime"]["completed"]) == (stamp(T), stamp(T), None)


def test_the_release_date_decides_by_simkls_clock(emulator, now) -> None:
    emulator.add_catalog(UPCOMING)
    now[0] = 1_780_000_000.0  # 2026-05-28: still upcoming
    status = lambda: call(emulator, "POST", "/sync/ratings", {"movies": [{"ids": {"tmdb": 990001}, "rating": 6}]}).json()  # noqa: E731
    assert status()["added"]["statuses"][0]["response"]["status"] == "plantowatch"
    call(emulator, "POST", "/sync/history/remove", {"movies": [{"ids": {"tmdb": 990001}}]})
    now[0] = 1_781_000_000.0  # 2026-06-09: out
    assert status()["added"]["statuses"][0]["response"]["status"] == "completed"


def test_rating_a_listed_item_keeps_its_bucket_and_moves_only_rated_at(emulator, now) -> None:
    call(emulator, "POST", "/sync/add-to-list", {"shows": [dict(BREAKING_BAD, to="hold")]})
    now[0] += 60
    r = call(emulator, "POST", "/sync/ratings", {"shows": [dict(BREAKING_BAD, rating=3)]}).json()
    assert r["added"]["statuses"][0]["response"] == {"status": "hold"}
    acts = alice(emulator)["activities"]["tv_shows"]
    assert (acts["hold"], acts["rated_at"], acts["watching"]) == (stamp(T), stamp(T + 60), None)
    assert alice(emulator)["lists"] == {"11121": "hold"}


def test_unmatched_items_come_back_unmodified_and_anime_ones_under_shows(emulator) -> None:
    movie, anime, show = {"ids": {"tmdb": 424242}, "rating": 5}, {"ids": {"anidb": 999999}, "rating": 5}, {"title": "Nope", "rating": 2}
    r = call(emulator, "POST", "/sync/ratings", {"movies": [movie], "shows": [show], "anime": [anime]}).json()
    assert r == {"added": {"movies": 0, "shows": 0, "statuses": []}, "not_found": {"movies": [movie], "shows": [show, anime]}}


def test_removing_ratings_keeps_the_bucket_and_counts_every_matched_item(emulator, now) -> None:
    call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=8)], "anime": [dict(BEBOP, rating=9)]})
    now[0] += 60
    unknown = {"ids": {"tmdb": 424242}}
    r = call(emulator, "POST", "/sync/ratings/remove", {"movies": [MATRIX, INCEPTION, unknown], "anime": [BEBOP]})
    assert r.status_code == 201
    assert r.json() == {"deleted": {"movies": 2, "shows": 1}, "not_found": {"movies": [unknown], "shows": []}}
    state = alice(emulator)
    assert state["ratings"] == {} and state["lists"] == {"53992": "completed", "37089": "watching"}
    assert (state["activities"]["movies"]["rated_at"], state["activities"]["anime"]["rated_at"]) == (stamp(T + 60),) * 2
    now[0] += 60  # nothing left to clear: nothing moves
    call(emulator, "POST", "/sync/ratings/remove", {"movies": [MATRIX]})
    assert alice(emulator)["activities"]["movies"]["rated_at"] == stamp(T + 60)


def test_the_ratings_read_answers_rated_items_of_one_type_with_the_ratings_asked(emulator, now) -> None:
    call(emulator, "POST", "/sync/history", {"movies": [dict(MATRIX, watched_at="2025-12-24T20:00:00Z")],
                                             "shows": [{"ids": {"tvdb": 17041}}]})  # The Office: watched, unrated
    call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=9, rated_at="2025-12-25T10:00:00Z"),
                                                        dict(INCEPTION, rating=6)],
                                             "shows": [dict(BREAKING_BAD, rating=9)], "anime": [dict(BEBOP, rating=10)]})
    nines = call(emulator, "GET", "/sync/ratings/movies/9")
    assert nines.status_code == 200
    assert nines.json() == {"movies": [{
        "added_to_watchlist_at": stamp(T, True), "last_watched_at": "2025-12-24T20:00:00.000Z",
        "user_rated_at": "2025-12-25T10:00:00.000Z", "user_rating": 9, "status": "completed",
        "movie": {"title": "The Matrix", "year": 1999,
                  "ids": {"simkl": 53992, "slug": "the-matrix", "imdb": "tt0133093", "tmdb": "603", "tvdb": "169"}}}]}
    every = call(emulator, "GET", "/sync/ratings/movies/1,2,3,4,5,6,7,8,9,10").json()
    assert [(m["movie"]["title"], m["user_rating"]) for m in every["movies"]] == [("The Matrix", 9), ("Inception", 6)]
    (show,) = call(emulator, "GET", "/sync/ratings/shows/8,9,10").json()["shows"]
    assert (show["show"]["title"], show["user_rating"], show["status"], show["last_watched_at"]) == ("Breaking Bad", 9, "watching", None)
    (anime,) = call(emulator, "GET", "/sync/ratings/anime/10").json()["anime"]
    assert anime["show"]["ids"]["mal"] == "1" and anime["user_rating"] == 10  # anime wrapped as `show`, ids as strings
    assert call(emulator, "GET", "/sync/ratings/shows/1").json() is None
    call(emulator, "POST", "/sync/history", {"shows": [dict(BREAKING_BAD, episodes=[{"number": 2}])]})
    (full,) = call(emulator, "GET", "/sync/ratings/shows/9", params={"extended": "full"}).json()["shows"]
    assert full["seasons"] == [{"number": 1, "episodes": [{"number": 2}]}] and full["watched_episodes_count"] == 1
    assert call(emulator, "POST", "/sync/ratings/movies/6").json()["movies"][0]["movie"]["title"] == "Inception"  # the blueprint's verb


def test_a_back_dated_rating_is_in_the_next_delta(emulator, now) -> None:
    """date_from is what changed since by Simkl's clock: a rating dated 2014, sent now, is in the
    delta a client asks for after activities' rated_at moved."""
    call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=8, rated_at="2014-01-01T00:00:00Z")]})
    since = call(emulator, "GET", "/sync/ratings/movies/8", params={"date_from": stamp(T - 1)}).json()
    assert since["movies"][0]["user_rated_at"] == "2014-01-01T00:00:00.000Z"
    assert call(emulator, "GET", "/sync/ratings/movies/8", params={"date_from": stamp(T + 1)}).json() is None
    now[0] += 100
    call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=8, rated_at="2014-01-01T00:00:00Z")]})
    assert call(emulator, "GET", "/sync/ratings/movies/8", params={"date_from": stamp(T + 1)}).json() is not None


@pytest.mark.parametrize("path", ["/sync/ratings", "/sync/ratings/remove"])
@pytest.mark.parametrize(("body", "error"), [({}, "empty_field"), ([1], "wrong_parameter"), ({"movies": "x"}, "wrong_parameter")])
def test_a_ratings_write_without_items_is_refused(emulator, path, body, error) -> None:
    r = call(emulator, "POST", path, body)
    assert (r.status_code, r.json()["error"]) == (400, error)
    assert alice(emulator)["ratings"] == {}


@pytest.mark.parametrize(("path", "status", "error"), [
    ("/sync/ratings/films/8", 404, "url_failed"), ("/sync/ratings/movies/0", 400, "wrong_parameter"),
    ("/sync/ratings/movies/abc", 400, "wrong_parameter"), ("/sync/ratings/movies/8,11", 400, "wrong_parameter"),
    ("/sync/ratings/movies/8,", 400, "wrong_parameter")])
def test_a_ratings_read_of_an_unknown_type_or_rating_is_refused(emulator, path, status, error) -> None:
    r = call(emulator, "GET", path)
    assert (r.status_code, r.json()["error"]) == (status, error)


def test_all_items_carry_ratings_and_list_rated_and_planned_entries(emulator, now) -> None:
    emulator.add_catalog(UPCOMING)
    call(emulator, "POST", "/sync/history", {"movies": [MATRIX]})
    call(emulator, "POST", "/sync/add-to-list", {"movies": [dict(INCEPTION, to="plantowatch")]})
    call(emulator, "POST", "/sync/ratings", {"movies": [{"ids": {"tmdb": 990001}, "rating": 7}]})
    movies = {m["movie"]["title"]: m for m in call(emulator, "GET", "/sync/all-items/movies").json()["movies"]}
    assert {t: (m["status"], m["user_rating"], m["user_rated_at"], m["last_watched_at"]) for t, m in movies.items()} == {
        "The Matrix": ("completed", None, None, stamp(T)), "Inception": ("plantowatch", None, None, None),
        "Not Out Yet": ("plantowatch", 7, stamp(T), None)}
    assert {m["added_to_watchlist_at"] for m in movies.values()} == {stamp(T)}
    planned = call(emulator, "GET", "/sync/all-items/movies/plantowatch").json()["movies"]
    assert sorted(m["movie"]["title"] for m in planned) == ["Inception", "Not Out Yet"]


def test_all_items_date_from_shows_an_entry_whose_rating_or_bucket_changed(emulator, now) -> None:
    call(emulator, "POST", "/sync/history", {"movies": [MATRIX], "shows": [BREAKING_BAD]})
    delta = lambda: call(emulator, "GET", "/sync/all-items", params={"date_from": stamp(now[0])}).json()  # noqa: E731
    now[0] += 100
    assert delta() is None
    call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=6)]})
    assert [m["user_rating"] for m in delta()["movies"]] == [6]
    now[0] += 100
    call(emulator, "POST", "/sync/ratings/remove", {"movies": [MATRIX]})
    assert [(m["movie"]["title"], m["user_rating"]) for m in delta()["movies"]] == [("The Matrix", None)]
    now[0] += 100
    call(emulator, "POST", "/sync/add-to-list", {"shows": [dict(BREAKING_BAD, to="dropped")]})
    assert [(s["show"]["title"], s["status"]) for s in delta()["shows"]] == [("Breaking Bad", "dropped")]


def test_a_movie_sent_to_hold_is_refused_and_nothing_changes(emulator) -> None:
    """The seed page: a movie sent to hold "has no defined behavior". Refused whole, in Simkl's error shape."""
    call(emulator, "POST", "/sync/add-to-list", {"movies": [dict(MATRIX, to="plantowatch")]})
    before = alice(emulator)
    for body in ({"movies": [dict(MATRIX, to="hold")], "shows": [dict(BREAKING_BAD, to="watching")]},
                 {"to": "hold", "movies": [MATRIX]}):
        r = call(emulator, "POST", "/sync/add-to-list", body)
        assert r.status_code == 400
        assert set(r.json()) == {"error", "code", "message"} and (r.json()["error"], r.json()["code"]) == ("wrong_parameter", 400)
    after = alice(emulator)
    assert after["lists"] == {"53992": "plantowatch"} and after["activities"] == before["activities"]


def test_a_show_may_go_on_hold_and_a_movie_to_watching_is_completed_and_watched(emulator, now) -> None:
    r = call(emulator, "POST", "/sync/add-to-list", {"to": "hold", "shows": [BREAKING_BAD], "movies": [dict(MATRIX, to="watching")]})
    assert r.json()["added"] == {"movies": [dict(MATRIX, to="completed")], "shows": [{**BREAKING_BAD, "to": "hold", "type": "show"}]}
    state = alice(emulator)
    assert state["lists"] == {"53992": "completed", "11121": "hold"}
    assert [(w["title"], w["watched_at"]) for w in watches(emulator)] == [("The Matrix", stamp(T))]
    assert "watching" not in state["activities"]["movies"] and state["activities"]["movies"]["completed"] == stamp(T)


def test_add_to_list_with_no_to_anywhere_is_empty_field(emulator) -> None:
    r = call(emulator, "POST", "/sync/add-to-list", {"movies": [MATRIX], "shows": [dict(BREAKING_BAD, to="dropped")]})
    assert (r.status_code, r.json()["error"]) == (400, "empty_field")
    assert alice(emulator)["lists"] == {}


def test_moving_an_entry_moves_the_stamps_of_the_bucket_it_left_and_the_one_it_entered(emulator, now) -> None:
    call(emulator, "POST", "/sync/history", {"shows": [dict(BREAKING_BAD, episodes=[{"number": 1}])]})  # watching
    call(emulator, "POST", "/sync/add-to-list", {"movies": [dict(INCEPTION, to="plantowatch")]})
    now[0] += 60
    call(emulator, "POST", "/sync/add-to-list", {"shows": [dict(BREAKING_BAD, to="dropped")], "movies": [dict(INCEPTION, to="completed")]})
    acts = alice(emulator)["activities"]
    assert (acts["tv_shows"]["watching"], acts["tv_shows"]["dropped"], acts["tv_shows"]["hold"]) == (stamp(T + 60), stamp(T + 60), None)
    assert (acts["movies"]["plantowatch"], acts["movies"]["completed"]) == (stamp(T + 60),) * 2


def test_removing_a_whole_movie_from_history_wipes_its_rating(emulator, now) -> None:
    """The seed page: removing also clears the rating; removed_from_list and rated_at both move."""
    call(emulator, "POST", "/sync/history", {"movies": [MATRIX]})
    call(emulator, "POST", "/sync/ratings", {"movies": [dict(MATRIX, rating=9)]})
    now[0] += 60
    r = call(emulator, "POST", "/sync/history/remove", {"movies": [MATRIX]}).json()
    assert r["deleted"]["movies"] == 1
    state = alice(emulator)
    assert (state["ratings"], state["lists"], state["watches"]) == ({}, {}, [])
    assert (state["activities"]["movies"]["removed_from_list"], state["activities"]["movies"]["rated_at"]) == (stamp(T + 60),) * 2
    assert call(emulator, "GET", "/sync/ratings/movies/9").json() is None
    assert call(emulator, "GET", "/sync/all-items").json() is None


def test_removing_an_unwatched_planned_show_takes_it_off_the_list(emulator, now) -> None:
    call(emulator, "POST", "/sync/add-to-list", {"shows": [dict(BREAKING_BAD, to="plantowatch")]})
    now[0] += 60
    r = call(emulator, "POST", "/sync/history/remove", {"shows": [BREAKING_BAD]}).json()
    assert r["deleted"] == {"movies": 0, "shows": 1, "episodes": 0}
    state = alice(emulator)
    assert state["lists"] == {} and state["activities"]["tv_shows"]["removed_from_list"] == stamp(T + 60)
    assert state["activities"]["tv_shows"]["rated_at"] is None  # no rating went with it


def test_removing_some_episodes_keeps_the_show_and_its_rating(emulator) -> None:
    call(emulator, "POST", "/sync/history", {"shows": [dict(BREAKING_BAD, episodes=[{"number": 1}, {"number": 2}, {"number": 3}])]})
    call(emulator, "POST", "/sync/ratings", {"shows": [dict(BREAKING_BAD, rating=9)]})
    call(emulator, "POST", "/sync/history/remove", {"shows": [dict(BREAKING_BAD, episodes=[{"number": 2}])]})  # season 1 shorthand
    call(emulator, "POST", "/sync/history/remove", {"shows": [dict(BREAKING_BAD, seasons=[{"number": 1, "episodes": [{"number": 3}]}])]})
    assert [w["label"] for w in watches(emulator)] == ["S01E01"]
    assert alice(emulator)["ratings"]["11121"]["rating"] == 9


def test_a_planned_movie_once_watched_is_completed_and_a_planned_show_watching(emulator, now) -> None:
    """add-to-history's statuses[].response.status is the bucket the write left it in: a watch
    takes a planned entry out of plantowatch, and both stamps move."""
    call(emulator, "POST", "/sync/add-to-list", {"to": "plantowatch", "movies": [MATRIX], "shows": [BREAKING_BAD]})
    now[0] += 60
    call(emulator, "POST", "/sync/history", {"movies": [MATRIX], "shows": [dict(BREAKING_BAD, episodes=[{"number": 1}])]})
    state = alice(emulator)
    assert state["lists"] == {"53992": "completed", "11121": "watching"}
    assert (state["activities"]["movies"]["plantowatch"], state["activities"]["tv_shows"]["plantowatch"]) == (stamp(T + 60),) * 2
    assert call(emulator, "GET", "/sync/all-items/movies/plantowatch").json() is None
