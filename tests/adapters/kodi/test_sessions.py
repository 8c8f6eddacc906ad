"""The play in progress (pure): where it is now, when its position is due, how it stops, and
whether what Kodi plays after a reconnection is the same viewing."""

from __future__ import annotations

from bridge.adapters.kodi.sessions import Play, identity, playerid, reported_position
from bridge.events import Ids, Kind, PlayEvent, State

MATRIX = PlayEvent(source="kodi", server="lr", user="alice", session="lr-1", kind=Kind.MOVIE, ids=Ids(tmdb=603),
                   state=State.PLAYING, position=600.0, duration=8160.0, at=1000.0)


def play(playing: bool = True, **kw) -> Play:
    return Play(MATRIX, ("movie", 1), playerid=1, read_at=1000.0, playing=playing, beat_at=1000.0, **kw)


def test_a_playing_film_moves_on_with_the_clock_and_a_paused_one_does_not() -> None:
    assert play().position(1030.0) == 630.0
    assert play(playing=False).position(1030.0) == 600.0


def test_the_extrapolated_position_never_passes_the_end() -> None:
    assert play().position(1000.0 + 9000) == 8160.0


def test_a_read_position_replaces_the_guess_and_restarts_the_heartbeat() -> None:
    read = play().read(1040.0, 650.0, playing=False)
    assert (read.event.position, read.event.state, read.event.at) == (650.0, State.PAUSED, 1040.0)
    assert read.position(1100.0) == 650.0  # paused: no time passes
    assert read.heartbeat_in(30.0, 1040.0) == 30.0
    assert read.event.session == MATRIX.session


def test_the_heartbeat_is_due_a_heartbeat_after_the_last_read_and_never_overdue() -> None:
    assert play().heartbeat_in(30.0, 1010.0) == 20.0
    assert play().heartbeat_in(30.0, 1030.0) == 0.0
    assert play().heartbeat_in(30.0, 1300.0) == 0.0


def test_a_stop_at_the_end_is_the_whole_length_and_otherwise_where_the_play_got_to() -> None:
    assert play().stopped(1010.0, end=True).position == 8160.0
    stop = play().stopped(1010.0, end=False)
    assert (stop.state, stop.position, stop.at) == (State.STOPPED, 610.0, 1010.0)


def test_after_a_reconnection_only_the_same_library_item_carries_the_viewing_on() -> None:
    assert play().is_item({"id": 1, "type": "movie", "file": "/m/The.Matrix.mp4"})
    assert not play().is_item({"id": 2, "type": "movie"})
    assert not play().is_item({"id": 1, "type": "episode"})


def test_only_a_play_picked_up_on_connecting_takes_its_late_start_for_itself() -> None:
    item = {"id": 1, "type": "movie"}
    assert play(resynced=True).started_again(item)
    assert not play(resynced=False).started_again(item)  # a real new start of the same film
    assert not play(resynced=True).started_again({"id": 2, "type": "movie"})


def test_what_kodi_says_about_its_player_is_read_defensively() -> None:
    assert identity({"type": "movie", "id": True}) == ("movie", -1)
    assert identity({}) == ("None", -1)
    assert playerid({"playerid": 2}) == 2
    assert playerid({"playerid": -1}) == playerid({"playerid": "2"}) == playerid({}) == 1
    assert reported_position({"time": {"minutes": 1}}, known=99.0) == 60.0
    assert reported_position({"time": {"hours": 0, "minutes": 0, "seconds": 0, "milliseconds": 0}}, known=99.0) == 0.0
    assert reported_position({}, known=99.0) == 99.0
