"""Simkl's paths (bridge/emulator/routes.py): the PIN flow, path parameters, and what no route takes."""

from __future__ import annotations

import time

import requests

from tests.emulator.helpers import MATRIX, Q, call


def test_pin_flow(emulator) -> None:
    start = requests.get(emulator.url + "/oauth/pin", params=Q, headers={"User-Agent": "t/1"}, timeout=5).json()
    assert start["result"] == "OK" and start["device_code"] == "DEVICE_CODE" and start["verification_url"]
    code = start["user_code"]
    poll = lambda: requests.get(f"{emulator.url}/oauth/pin/{code}", params=Q, headers={"User-Agent": "t/1"}, timeout=5).json()  # noqa: E731
    assert poll() == {"result": "KO", "message": "Authorization pending"}
    assert poll() == {"result": "KO", "message": "Slow down"}  # polled faster than the interval
    emulator.approve_pin(code, "fresh-token")
    time.sleep(0.06)
    assert poll() == {"result": "OK", "access_token": "fresh-token"}
    time.sleep(0.06)
    again = poll()  # consumed: a fresh step-1 shape
    assert "device_code" in again and again["user_code"] != code


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


def test_activities_and_all_items(emulator) -> None:
    assert call(emulator, "GET", "/sync/all-items").json() is None
    before = call(emulator, "GET", "/sync/activities").json()
    assert before["movies"]["completed"] is None and "watching" not in before["movies"]
    call(emulator, "POST", "/sync/history", {"movies": [MATRIX]})
    after = call(emulator, "GET", "/sync/activities").json()
    assert after["movies"]["completed"] is not None and after["all"] == after["movies"]["completed"]
    items = call(emulator, "GET", "/sync/all-items/movies").json()
    assert items["movies"][0]["movie"]["title"] == "The Matrix" and items["movies"][0]["status"] == "completed"


def test_unknown_route_and_garbage_never_kill_it(emulator) -> None:
    assert call(emulator, "GET", "/nope").json()["error"] == "url_failed"
    for body in ([1, 2], "x", {"movies": "x"}, {"shows": [None, 5, {"seasons": "x"}]}):
        assert call(emulator, "POST", "/sync/history", body).status_code in (201, 400)
    assert call(emulator, "GET", "/sync/activities").status_code == 200
