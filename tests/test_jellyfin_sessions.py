"""The pure Jellyfin decisions: session snapshots -> player actions, the watched signal, resume points."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.adapters.jellyfin_resume import find_by_ids, find_episode, numbers_agree, resume_ticks
from bridge.adapters.jellyfin_map import norm_id
from bridge.adapters.jellyfin_sessions import Playing, diff, newly_played, parse_date, with_known_position
from bridge.events import Ids, Kind, PlayEvent, Resume, State

MATRIX = PlayEvent(source="jellyfin", server="home", user="alice", session="s1", kind=Kind.MOVIE, ids=Ids(tmdb=603),
                   state=State.PLAYING, position=600.0, duration=8160.0, at=100.0)
INCEPTION = replace(MATRIX, ids=Ids(tmdb=27205), duration=8880.0, position=10.0)


def playing(event: PlayEvent = MATRIX, item: str = "m1", **changes) -> Playing:
    return Playing(item, "u1", replace(event, **changes))


def states(events: list[PlayEvent]) -> list[tuple[str, str, float]]:
    return [(e.state.value, e.ids.key(), e.position) for e in events]


def test_a_new_session_is_a_play_and_a_paused_one_a_pause() -> None:
    assert states(diff({}, {"s1": playing()}, 101.0)) == [("playing", "tmdb:603", 600.0)]
    assert states(diff({}, {"s1": playing(state=State.PAUSED)}, 101.0)) == [("paused", "tmdb:603", 600.0)]


def test_pause_and_resume_are_state_changes_of_the_same_item() -> None:
    before = {"s1": playing()}
    paused = {"s1": playing(state=State.PAUSED, position=700.0)}
    assert states(diff(before, paused, 110.0)) == [("paused", "tmdb:603", 700.0)]
    assert states(diff(paused, {"s1": playing(position=700.0)}, 120.0)) == [("playing", "tmdb:603", 700.0)]


def test_a_vanished_session_stops_at_its_last_known_position_at_detection_time() -> None:
    (stop,) = diff({"s1": playing(position=7000.0)}, {}, 500.0)
    assert (stop.state, stop.position, stop.duration, stop.at) == (State.STOPPED, 7000.0, 8160.0, 500.0)


def test_an_item_change_stops_the_old_item_before_playing_the_new_one() -> None:
    events = diff({"s1": playing(position=8000.0)}, {"s1": playing(INCEPTION, item="m2")}, 200.0)
    assert states(events) == [("stopped", "tmdb:603", 8000.0), ("playing", "tmdb:27205", 10.0)]


def test_progress_is_passed_on_and_an_unchanged_snapshot_says_nothing() -> None:
    assert states(diff({"s1": playing()}, {"s1": playing(position=660.0)}, 110.0)) == [("playing", "tmdb:603", 660.0)]
    assert diff({"s1": playing()}, {"s1": playing()}, 110.0) == []


def test_sessions_are_independent() -> None:
    before = {"s1": playing(), "s2": playing(INCEPTION, item="m2")}
    after = {"s2": playing(INCEPTION, item="m2", state=State.PAUSED)}
    assert states(diff(before, after, 300.0)) == [("stopped", "tmdb:603", 600.0), ("paused", "tmdb:27205", 10.0)]


def test_a_play_without_a_position_keeps_the_last_one_or_waits_for_one() -> None:
    unknown = playing(position=0.0, duration=0.0, state=State.PAUSED)
    assert with_known_position(None, unknown) is None  # not a pause at 0%
    kept = with_known_position(playing(position=700.0), unknown)
    assert kept is not None and (kept.event.state, kept.event.position, kept.event.duration) == (State.PAUSED, 700.0, 8160.0)
    assert with_known_position(playing(INCEPTION, item="m2"), unknown) is None  # another item's position is no use
    assert with_known_position(None, playing()) == playing()


def test_ids_are_compared_without_dashes_or_case() -> None:
    assert norm_id("6F1E4E2C-8A53-4B3B-9E5F-0C0D5E2A1B7C") == "6f1e4e2c8a534b3b9e5f0c0d5e2a1b7c"


@pytest.mark.parametrize("text,expected", [
    ("2024-05-01T20:15:03.1234567Z", 1714594503.123456),
    ("2024-05-01T20:15:03Z", 1714594503.0),
    ("2024-05-01T20:15:03", 1714594503.0),
    ("2024-05-01T22:15:03+02:00", 1714594503.0),
    ("yesterday", None), (None, None), (17, None),
])
def test_jellyfin_dates(text, expected) -> None:
    assert parse_date(text) == (pytest.approx(expected) if expected else None)


NOW = 1714594503.0


@pytest.mark.parametrize("was,entry,playing,expected", [
    (False, {"Played": True}, False, True),  # seen unplayed, now played
    (None, {"Played": True}, True, True),  # the item a session plays (Jellyfin cleared Played at its start)
    (True, {"Played": True, "LastPlayedDate": "2024-05-01T20:15:03Z"}, True, False),  # already played: a repeat save
    (None, {"Played": False}, True, False),
    (None, {"Played": True, "LastPlayedDate": "2024-05-01T20:14:00Z"}, False, True),  # ticked "played" just now
    (None, {"Played": True, "LastPlayedDate": "2023-01-01T00:00:00Z"}, False, False),  # a rating on an old watch
    (None, {"Played": True}, False, False),
    (None, {"Played": "true"}, True, False),
])
def test_the_watched_signal_is_a_change_to_played(was, entry, playing, expected) -> None:
    assert newly_played(was, entry, playing, NOW, 300.0) is expected


MOVIES = [{"Id": "a", "ProviderIds": {"Imdb": "tt1375666"}},
          {"Id": "b", "ProviderIds": {"Tmdb": "603", "Imdb": "tt0133093"}}]


def test_items_are_found_by_any_shared_provider_id() -> None:
    assert find_by_ids(MOVIES, Ids(tmdb=603))["Id"] == "b"
    assert find_by_ids(MOVIES, Ids(imdb="tt1375666", tmdb=27205))["Id"] == "a"
    assert find_by_ids(MOVIES, Ids(tmdb=105)) is None


def test_episodes_are_found_by_number_including_multi_episode_files() -> None:
    episodes = [{"Id": "e1", "ParentIndexNumber": 1, "IndexNumber": 1},
                {"Id": "e2", "ParentIndexNumber": 1, "IndexNumber": 2, "IndexNumberEnd": 3}]
    assert find_episode(episodes, 1, 3)["Id"] == "e2"
    assert find_episode(episodes, 2, 1) is None


def resume(progress: float = 40.0, paused_at: float = NOW) -> Resume:
    return Resume(account="alice", kind=Kind.MOVIE, ids=Ids(tmdb=603), progress=progress, paused_at=paused_at)


def test_a_resume_point_is_set_only_when_simkl_is_newer() -> None:
    item = {"RunTimeTicks": 81_600_000_000, "UserData": {"LastPlayedDate": "2024-05-01T20:00:00Z"}}
    assert resume_ticks(item, resume(40.0)) == 32_640_000_000
    assert resume_ticks(item, resume(paused_at=NOW - 3600)) is None  # Jellyfin played it later
    assert resume_ticks({"RunTimeTicks": 1000}, resume(50.0)) == 500  # never played there
    assert resume_ticks({"UserData": {}}, resume()) is None  # length unknown


def test_anime_resume_points_go_only_to_series_numbered_like_simkl() -> None:
    anime = Resume(account="alice", kind=Kind.EPISODE, ids=Ids(tvdb=267440, anidb=10944), progress=50.0,
                   paused_at=NOW, season=1, episode=3)
    assert numbers_agree({"ProviderIds": {"AniDB": "10944"}}, anime)
    assert not numbers_agree({"ProviderIds": {"AniDB": "9541", "Tvdb": "267440"}}, anime)
    assert numbers_agree({"ProviderIds": {"Tvdb": "81189"}}, replace(anime, ids=Ids(tvdb=81189)))
