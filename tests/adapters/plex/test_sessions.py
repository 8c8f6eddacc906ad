"""What Plex's session reports mean for the followed plays: the pure decisions of sessions.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from bridge.adapters.plex.sessions import Live, Play, Step, ended, gone, read_sessions, step, stopped
from bridge.events import Ids, Kind, PlayEvent, State

MATRIX = PlayEvent("plex", "home", "alice", "7", Kind.MOVIE, Ids(tmdb=603), State.PLAYING, position=600.0,
                   duration=8160.0, at=100.0)
PLAY = Play(MATRIX, "100")


def test_a_report_of_the_same_item_carries_the_play_on() -> None:
    assert step(PLAY, None, "100", State.PAUSED, 900.0, 200.0) == Step(
        event=replace(MATRIX, state=State.PAUSED, position=900.0, at=200.0))


def test_a_repeated_paused_report_is_passed_on_with_its_new_time() -> None:
    paused = Play(replace(MATRIX, state=State.PAUSED), "100")
    result = step(paused, None, "100", State.PAUSED, 600.0, 500.0)
    assert result.event is not None and result.event.at == 500.0 and result.event.position == 600.0


def test_a_stop_at_offset_zero_keeps_the_last_known_position() -> None:
    result = step(PLAY, None, "100", State.STOPPED, 0.0, 200.0)
    assert result.event is not None and (result.event.state, result.event.position) == (State.STOPPED, 600.0)


def test_another_item_in_the_same_session_stops_the_play_and_begins_the_next() -> None:
    result = step(PLAY, None, "101", State.PLAYING, 5.0, 200.0)
    assert result == Step(close=stopped(PLAY, 200.0), begin=True)
    assert result.close is not None and (result.close.state, result.close.position) == (State.STOPPED, 600.0)


def test_a_new_session_is_begun_unless_its_item_was_skipped() -> None:
    assert step(None, None, "100", State.PLAYING, 0.0, 1.0) == Step(begin=True)
    assert step(None, "100", "100", State.PAUSED, 0.0, 1.0) == Step()
    assert step(None, "100", "101", State.PLAYING, 0.0, 1.0) == Step(begin=True)  # skipped, then something else


def test_a_stop_of_a_session_never_begun_forgets_it() -> None:
    assert step(None, "100", "100", State.STOPPED, 10.0, 1.0) == Step(forget=True)


def test_a_list_ends_the_plays_it_no_longer_holds_or_that_play_another_item() -> None:
    plays = {"7": PLAY, "8": Play(MATRIX, "100"), "9": Play(MATRIX, "100")}
    listed = {"7": Live("100", "alice", State.PLAYING, 700.0), "9": Live("555", "alice", State.PLAYING, 1.0)}
    assert ended(plays, listed) == ["8", "9"]
    assert gone({"7": "100", "3": "400"}, listed) == ["3"]


SESSIONS = """<MediaContainer size="4">
  <Video sessionKey="7" ratingKey="100" viewOffset="61500"><User id="1" title="alice"/><Player state="playing"/></Video>
  <Video sessionKey="8" ratingKey="202" viewOffset="soon"><User id="2"/><Player state="buffering"/></Video>
  <Video sessionKey="9" ratingKey="300"><Player state="playing"/></Video>
  <Video sessionKey="10" ratingKey="305"><User title="bob"/><Player state="transcoding-only"/></Video>
</MediaContainer>"""


def test_a_sessions_list_reads_users_states_and_positions() -> None:
    assert read_sessions(ET.fromstring(SESSIONS)) == {
        "7": Live("100", "alice", State.PLAYING, 61.5),
        "8": Live("202", "2", State.PLAYING, 0.0),  # buffering goes on; an unreadable offset is unknown
    }  # 9 has no owner (a transcoder job), 10 a state Plex does not play in
    assert read_sessions(None) == {}
