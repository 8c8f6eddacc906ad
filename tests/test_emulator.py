"""The emulator as Simkl's stand-in: it must refuse what Simkl refuses and behave as Simkl behaves.

Driven with plain `requests` (not our client), from simkl-api.md.
"""

from __future__ import annotations

import threading

import pytest
import requests

from bridge.simkl.emulator import DEFAULT_CLIENT_ID, Emulator
from tests.conftest import PACE, TOKEN

Q = {"client_id": DEFAULT_CLIENT_ID, "app-name": "test", "app-version": "1.0"}
H = {"User-Agent": "test/1.0", "Authorization": f"Bearer {TOKEN}"}
MATRIX = {"title": "The Matrix", "year": 1999, "ids": {"tmdb": 603}}


def call(emu: Emulator, method: str, path: str, body=None, params=None, headers=None, raw=None):
    import time

    time.sleep(PACE * 1.5)  # stay inside the POST limit unless a test means to break it
    return requests.request(method, emu.url + path, params={**Q, **(params or {})}, headers={**H, **(headers or {})},
                            json=body if raw is None else None, data=raw, timeout=10)


def watches(emu: Emulator) -> list[dict]:
    return emu.state()["users"]["alice"]["watches"]


@pytest.mark.parametrize("change", [{"client_id": None}, {"client_id": "nope"}])
def test_unknown_client_id_is_412(emulator, change) -> None:
    params = {k: v for k, v in {**Q, **change}.items() if v is not None}
    r = requests.get(emulator.url + "/sync/activities", params=params, headers=H, timeout=5)
    assert r.status_code == 412 and r.json()["error"] == "client_id_failed"


def test_client_id_may_come_as_header(emulator) -> None:
    params = {k: v for k, v in Q.items() if k != "client_id"}
    r = requests.get(emulator.url + "/sync/activities", params=params, headers={**H, "simkl-api-key": DEFAULT_CLIENT_ID}, timeout=5)
    assert r.status_code == 200


@pytest.mark.parametrize("missing", ["app-name", "app-version"])
def test_missing_app_params_are_refused(emulator, missing) -> None:
    params = {k: v for k, v in Q.items() if k != missing}
    r = requests.get(emulator.url + "/sync/activities", params=params, headers=H, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "empty_field" and missing in r.json()["message"]


def test_token_is_required_and_revocation_is_401(emulator) -> None:
    assert call(emulator, "GET", "/sync/playback", headers={"Authorization": ""}).status_code == 401
    assert call(emulator, "GET", "/sync/playback").status_code == 200
    emulator.revoke(TOKEN)
    r = call(emulator, "GET", "/sync/playback")
    assert r.status_code == 401 and r.json()["error"] == "user_token_failed"


def test_post_needs_json(emulator) -> None:
    r = call(emulator, "POST", "/sync/history", raw=b"movies=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json()["error"] == "wrong_parameter"
    r = call(emulator, "POST", "/sync/history", raw=b"{bad", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_pin_flow(emulator) -> None:
    start = requests.get(emulator.url + "/oauth/pin", params=Q, headers={"User-Agent": "t/1"}, timeout=5).json()
    assert start["result"] == "OK" and start["device_code"] == "DEVICE_CODE" and start["verification_url"]
    code = start["user_code"]
    poll = lambda: requests.get(f"{emulator.url}/oauth/pin/{code}", params=Q, headers={"User-Agent": "t/1"}, timeout=5).json()  # noqa: E731
    assert poll() == {"result": "KO", "message": "Authorization pending"}
    assert poll() == {"result": "KO", "message": "Slow down"}  # polled faster than the interval
    emulator.approve_pin(code, "fresh-token")
    import time

    time.sleep(0.06)
    assert poll() == {"result": "OK", "access_token": "fresh-token"}
    time.sleep(0.06)
    again = poll()  # consumed: a fresh step-1 shape
    assert "device_code" in again and again["user_code"] != code


def test_history_identical_resend_is_a_no_op_and_rewatch_needs_two_days(emulator) -> None:
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


def test_not_found_echoes_unmodified_items_and_has_no_anime_bucket(emulator) -> None:
    unknown_movie = {"title": "Nope", "ids": {"tmdb": 999999999}}
    unknown_anime = {"ids": {"anidb": 999999}, "episodes": [{"number": 1}]}
    r = call(emulator, "POST", "/sync/history", {"movies": [MATRIX, unknown_movie], "anime": [unknown_anime]}).json()
    assert r["added"]["movies"] == 1
    assert r["not_found"] == {"movies": [unknown_movie], "shows": [unknown_anime], "episodes": []}


def test_episodes_by_season_and_shorthand(emulator) -> None:
    body = {"shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 2}, {"number": 3}, {"number": 99}]}]},
                      {"ids": {"imdb": "tt0386676"}, "episodes": [{"number": 4}]}]}
    r = call(emulator, "POST", "/sync/history", body).json()
    assert r["added"]["episodes"] == 3 and r["added"]["shows"] == 2
    assert sorted((w["title"], w["label"]) for w in watches(emulator)) == [
        ("Breaking Bad", "S01E02"), ("Breaking Bad", "S01E03"), ("The Office", "S01E04")]


def test_anime_tvdb_seasons_map_onto_anidb_cours(emulator) -> None:
    body = {"shows": [{"ids": {"tvdb": 267440}, "use_tvdb_anime_seasons": True, "seasons": [{"number": 2, "episodes": [{"number": 4}]}]}]}
    call(emulator, "POST", "/sync/history", body)
    (w,) = watches(emulator)
    assert (w["title"], w["season"], w["number"], w["tvdb"]) == ("Shingeki no Kyojin Season 2", 1, 4, [2, 4])
    r = call(emulator, "POST", "/scrobble/pause", {"progress": 10, "show": {"ids": {"tmdb": 1429}}, "episode": {"season": 2, "number": 5}}).json()
    assert "anime" in r and r["episode"] == {"season": 1, "number": 5, "tvdb_season": 2, "tvdb_number": 5}


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


def test_concurrent_scrobbles_of_one_user_collide(emulator) -> None:
    emulator.scrobble_hold = 0.3
    emulator.post_interval = 0
    results = []

    def scrobble():
        results.append(requests.post(emulator.url + "/scrobble/start", params=Q, headers=H, json={"progress": 1, "movie": MATRIX}, timeout=5))

    threads = [threading.Thread(target=scrobble) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [201, 400]
    assert any(r.json().get("error") == "RATE_LIMIT" for r in results)


def test_post_rate_limit_answers_429_with_retry_after(emulator) -> None:
    emulator.post_interval = 1.0
    assert call(emulator, "POST", "/sync/history", {"movies": [MATRIX]}).status_code == 201
    r = requests.post(emulator.url + "/sync/history", params=Q, headers=H, json={"movies": [MATRIX]}, timeout=5)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_playback_list_filters_and_delete_codes(emulator) -> None:
    pid = call(emulator, "POST", "/scrobble/pause", {"progress": 20, "show": {"ids": {"tvdb": 81189}}, "episode": {"season": 1, "number": 5}}).json()["id"]
    call(emulator, "POST", "/scrobble/pause", {"progress": 70, "movie": MATRIX})
    (ep,) = call(emulator, "GET", "/sync/playback/episodes").json()
    assert ep["type"] == "episode" and ep["episode"]["number"] == 5 and ep["show"]["ids"]["tvdb"] == 81189
    assert ep["paused_at"].endswith("Z") and "." in ep["paused_at"]
    assert [p["type"] for p in call(emulator, "GET", "/sync/playback").json()] == ["movie", "episode"]  # newest first
    assert call(emulator, "GET", "/sync/playback", params={"limit": "0"}).status_code == 400
    # watched after the pause: hidden by default, shown with hide_watched=false
    call(emulator, "POST", "/sync/history", {"movies": [dict(MATRIX, watched_at="2099-01-01T00:00:00Z")]})
    assert [p["type"] for p in call(emulator, "GET", "/sync/playback").json()] == ["episode"]
    assert len(call(emulator, "GET", "/sync/playback", params={"hide_watched": "false"}).json()) == 2
    assert call(emulator, "DELETE", f"/sync/playback/{pid}").status_code == 204
    assert call(emulator, "DELETE", f"/sync/playback/{pid}").json()["error"] == "empty"
    assert call(emulator, "DELETE", "/sync/playback/abc").json()["error"] == "url_failed"


def test_legacy_spellings_can_be_emitted() -> None:
    with Emulator(post_interval=0, legacy_spelling=True) as emu:
        emu.start()
        emu.add_token(TOKEN, "alice")
        call(emu, "POST", "/scrobble/pause", {"progress": 20, "anime": {"ids": {"anidb": 23}}, "episode": {"season": 1, "number": 3}})
        (pb,) = call(emu, "GET", "/sync/playback").json()
        assert "anime" in pb and pb["episode"]["episode"] == 3 and "number" not in pb["episode"]


def test_activities_and_all_items(emulator) -> None:
    assert call(emulator, "GET", "/sync/all-items").json() is None
    before = call(emulator, "GET", "/sync/activities").json()
    assert before["movies"]["completed"] is None and "watching" not in before["movies"]
    call(emulator, "POST", "/sync/history", {"movies": [MATRIX]})
    after = call(emulator, "GET", "/sync/activities").json()
    assert after["movies"]["completed"] is not None and after["all"] == after["movies"]["completed"]
    items = call(emulator, "GET", "/sync/all-items/movies").json()
    assert items["movies"][0]["movie"]["title"] == "The Matrix" and items["movies"][0]["status"] == "completed"


def test_faults(emulator) -> None:
    emulator.fault("503", count=2)
    assert [call(emulator, "GET", "/sync/activities").status_code for _ in range(3)] == [503, 503, 200]
    emulator.fault("429", retry_after=7)
    r = call(emulator, "GET", "/sync/activities")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    emulator.fault("drop")
    with pytest.raises(requests.ConnectionError):
        call(emulator, "GET", "/sync/activities")
    emulator.fault("down")
    for _ in range(3):
        with pytest.raises(requests.ConnectionError):
            call(emulator, "GET", "/sync/activities")
    emulator.recover()
    assert call(emulator, "GET", "/sync/activities").status_code == 200


def test_admin_api_over_http(emulator) -> None:
    assert requests.post(emulator.url + "/_emulator/token", json={"token": "t2", "user": "bob"}, timeout=5).json() == {"ok": True}
    r = requests.get(emulator.url + "/sync/activities", params=Q, headers={"User-Agent": "t/1", "Authorization": "Bearer t2"}, timeout=5)
    assert r.status_code == 200
    assert requests.post(emulator.url + "/_emulator/fault", json={"kind": "bogus"}, timeout=5).status_code == 400
    assert "bob" in requests.get(emulator.url + "/_emulator/state", timeout=5).json()["users"]


def test_unknown_route_and_garbage_never_kill_it(emulator) -> None:
    assert call(emulator, "GET", "/nope").json()["error"] == "url_failed"
    for body in ([1, 2], "x", {"movies": "x"}, {"shows": [None, 5, {"seasons": "x"}]}):
        assert call(emulator, "POST", "/sync/history", body).status_code in (201, 400)
    assert call(emulator, "GET", "/sync/activities").status_code == 200


def test_top_level_episodes_resolve_by_their_own_ids(emulator) -> None:
    by_tvdb = {"ids": {"tvdb": 349232}, "watched_at": "2026-01-02T03:04:05Z"}
    by_imdb_url = {"ids": {"imdb": "https://www.imdb.com/title/tt0959621/"}, "watched_at": "2026-01-02T03:04:05Z"}
    unknown = {"ids": {"tvdb": 1}}
    r = call(emulator, "POST", "/sync/history", {"episodes": [by_tvdb, by_imdb_url, unknown]}).json()
    assert r["added"]["episodes"] == 2
    assert r["not_found"]["episodes"] == [unknown]
    watches = emulator.state()["users"]["alice"]["watches"]
    assert sorted((w["title"], w["season"], w["number"]) for w in watches) == [("Breaking Bad", 1, 1), ("Breaking Bad", 1, 2)]
