"""Jellyfin session snapshots -> player actions, and the watched signal: the pure decisions, then
the same decisions at their edges through a real Bridge (autoplay, shared items, silent positions)."""

from __future__ import annotations

import time
from dataclasses import replace

from bridge.adapters.jellyfin.sessions import Playing, diff, with_known_position
from bridge.events import Ids, Kind, PlayEvent, State
from tests.adapters.jellyfin.helpers import (  # noqa: F401 - fixtures
    every_version,
    jellyfin,
    lists_handled,
    minutes,
    running,
    seen,
    sent,
    settle,
    until_handled,
)
from tests.adapters.jellyfin.standin import ALICE, BOB
from tests.conftest import eventually, watches

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


# -- through a bridge --------------------------------------------------------------------------


@every_version
def test_autoplay_marks_the_first_episode_by_its_played_flag_and_leaves_the_next_alone(jellyfin, running,
                                                                                      emulator) -> None:
    bridge, adapter = running()
    e3 = jellyfin.add_episode(jellyfin.bb, 1, 3, {"Tvdb": "349240"}, minutes=47)
    jellyfin.play("s1", ALICE, jellyfin.bb_s1e2, minutes(30))
    jellyfin.progress("s1", minutes(46))
    seen(adapter, "s1", minutes(46))
    # The player moves on to episode 3 in the same session; episode 2's Played flag is read at its end.
    jellyfin.play("s1", ALICE, e3, 5)
    seen(adapter, "s1", 5)
    jellyfin.progress("s1", 40)
    jellyfin.progress("s1", 80)
    seen(adapter, "s1", 80)
    eventually(lambda: watches(emulator), "episode 2's history entry")
    settle(bridge)
    assert [w["number"] for w in watches(emulator)] == [2]
    # The flag neither restarts nor pauses episode 3.
    assert [s["episode"]["number"] for s in sent(emulator, "/scrobble/start")].count(3) == 1
    assert sent(emulator, "/scrobble/pause") == []


def test_two_people_playing_the_same_film_are_two_viewings(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(10))
    jellyfin.play("s2", BOB, jellyfin.matrix, minutes(50))
    jellyfin.progress("s1", minutes(131))
    jellyfin.stop("s1")  # alice's Played flag must not touch bob's viewing
    jellyfin.pause("s2", minutes(68))
    (watch,) = eventually(lambda: watches(emulator), "alice's history entry")
    assert watch["title"] == "The Matrix"
    jellyfin.stop("s2")
    # bob is not logged in to Simkl: his pause waits in the outbox (his start was replaced by it).
    # alice's stop (and her Played flag read at it) came first: handled once bob's pause is
    eventually(lambda: bridge.outbox.due("bob", time.time() + 1, kind="pause"), "bob's pause to be queued")
    eventually(lambda: bridge.outbox.pending("alice") == 0, "alice's writes to be sent")
    assert len(sent(emulator, "/sync/history")) == 1
    assert bridge.outbox.due("bob", time.time() + 1, kind="history") == []


def test_a_session_that_stops_reporting_its_position_is_closed_at_the_last_one(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.progress("s1", minutes(125))  # 92%
    with jellyfin._lock:  # some clients report a PlayState without PositionTicks
        del jellyfin.sessions["s1"]["PlayState"]["PositionTicks"]
    jellyfin.push()
    jellyfin.stop("s1")  # a stop without a position: Jellyfin counts it played (OnPlaybackStopped), we from 92%
    (watch,) = eventually(lambda: watches(emulator), "the mark from the last known position")
    assert watch["title"] == "The Matrix"


def test_a_session_first_seen_without_a_position_writes_no_pause_at_zero(jellyfin, running, emulator) -> None:
    bridge, adapter = running()
    handled = lists_handled(adapter)
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(61), paused=True, push=False)
    with jellyfin._lock:
        del jellyfin.sessions["s1"]["PlayState"]["PositionTicks"]
    jellyfin.push()
    until_handled(handled, lambda listed: any(s.get("Id") == "s1" and "PositionTicks" not in s["PlayState"]
                                              for s in listed), "the report without a position to be read")
    jellyfin.resume("s1", minutes(61.2))  # the client's first report with a position
    eventually(lambda: sent(emulator, "/scrobble/start"), "the start, once the position is known")
    settle(bridge)
    assert sent(emulator, "/scrobble/pause") == []
    assert [round(s["progress"]) for s in sent(emulator, "/scrobble/start")] == [45]
