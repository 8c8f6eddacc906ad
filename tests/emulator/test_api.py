"""Endpoint semantics (bridge/emulator/api.py): history repeats, episodes, scrobble rules, playback spellings."""

from __future__ import annotations

import pytest

from bridge.emulator import Emulator
from tests.conftest import TOKEN
from tests.emulator.helpers import MATRIX, call, watches


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
