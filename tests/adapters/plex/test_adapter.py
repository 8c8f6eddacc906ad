"""The Plex adapter's live side: the real plexapi client and a websocket against a Plex stand-in,
a real Bridge and the Simkl emulator."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest

from bridge.backoff import Backoff
from tests.adapters.plex.helpers import (
    BENIHANA_MS,
    EPISODE_MS,
    MATRIX_MS,
    adapter_for,
    begin,
    office_season_3,
    playbacks,
    plex_metadata_reads,
    progress,
    settled,
)
from tests.adapters.plex.standin import PlexStandIn
from tests.conftest import PACE, eventually, watches


class Waits(threading.Event):
    """The Supervisor's stop flag, noting how long it was waited on each time."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return super().wait(timeout)


def test_a_movie_on_the_new_agent_played_through_is_marked_once(plex, running, emulator) -> None:
    bridge, adapter = running()
    begin(plex, adapter, "7", "100", offset=1_000)
    plex.alert("7", "playing", 3_000_000)
    plex.alert("7", "stopped", int(MATRIX_MS * 0.95))
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert watch["title"] == "The Matrix" and watch["type"] == "movie"
    (body,) = [r["body"] for r in emulator.requests if r["path"] == "/sync/history" and r["status"] < 300]
    assert body["movies"][0]["ids"] == {"imdb": "tt0133093", "tmdb": 603}
    eventually(lambda: settled(bridge), "the outbox to drain")
    assert len(watches(emulator)) == 1


def test_a_legacy_tvdb_episode_paused_saves_the_shows_position(plex, running, emulator) -> None:
    bridge, adapter = running()
    begin(plex, adapter, "8", "202", offset=10_000)
    plex.alert("8", "paused", EPISODE_MS // 2)
    plex.alert("8", "paused", EPISODE_MS // 2)  # Plex repeats paused frames
    (playback,) = eventually(lambda: playbacks(emulator), "the saved playback")
    assert playback["show"]["ids"]["tvdb"] == 81189
    assert (playback["episode"]["season"], playback["episode"]["number"]) == (1, 2)
    assert playback["progress"] == pytest.approx(50, abs=0.5)
    # The client paces POSTs from when it sent the last one, the emulator from when it arrived: a
    # second POST right behind the first can be refused (429) and then waits seconds for a retry.
    time.sleep(3 * PACE)
    plex.alert("8", "stopped", int(EPISODE_MS * 0.9))
    (watch,) = eventually(lambda: watches(emulator), "the episode's history entry")
    assert (watch["title"], watch["season"], watch["number"]) == ("Breaking Bad", 1, 2)


def test_a_hama_anime_episode_is_sent_with_anidb_numbering(plex, running, emulator) -> None:
    _, adapter = running()
    begin(plex, adapter, "9", "305", offset=0)
    plex.alert("9", "stopped", 1_400_000)
    eventually(lambda: watches(emulator), "the anime history entry")
    (body,) = [r["body"] for r in emulator.requests if r["path"] == "/sync/history" and r["status"] < 300]
    assert "anidb" in json.dumps(body) and '"anidb": 23' in json.dumps(body)


def test_a_user_not_in_users_sends_nothing_and_is_logged_once(plex, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO)
    bridge, adapter = running()
    begin(plex, adapter, "10", "100", user="carol", user_id=7)
    plex.alert("10", "paused", 100_000)
    plex.alert("10", "stopped", MATRIX_MS)
    eventually(lambda: any("'carol' maps to no Simkl account" in r.getMessage() for r in caplog.records), "the log line")
    time.sleep(0.3)
    assert len([r for r in caplog.records if "carol" in r.getMessage()]) == 1
    assert bridge.outbox.counts() == {} and watches(emulator) == []


@pytest.mark.parametrize("excluded", [("Home Videos",), ("home videos",), (3,)])
def test_an_excluded_library_sends_nothing(plex, running, emulator, caplog, excluded) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    bridge, adapter = running(exclude_libraries=excluded)
    begin(plex, adapter, "11", "400")
    plex.alert("11", "paused", 600_000)
    plex.alert("11", "stopped", 3_500_000)
    eventually(lambda: "11" not in adapter._skipped and any("excluded library" in r.getMessage() for r in caplog.records),
               "the session to end")
    assert len([r for r in caplog.records if "excluded library" in r.getMessage()]) == 1
    assert bridge.outbox.counts() == {} and plex_metadata_reads(plex, "400") == 1


def test_metadata_is_read_once_per_session_not_per_alert(plex, running) -> None:
    _, adapter = running()
    events = []
    adapter._sink = events.append
    begin(plex, adapter, "12", "202")
    for offset in range(10_000, 100_000, 10_000):
        plex.alert("12", "playing", offset)
    plex.alert("12", "stopped", 100_000)
    eventually(lambda: events and events[-1].state.value == "stopped", "the stop")
    # once per session; the legacy GUID names the show, so the show is not read at all
    assert plex_metadata_reads(plex, "202") == 1 and plex_metadata_reads(plex, "200") == 0
    assert [e.position for e in events][-2:] == [90.0, 100.0]


def test_a_server_restart_mid_play_reconnects_and_the_stop_lands(plex, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    _, adapter = running()
    begin(plex, adapter, "13", "100", offset=60_000)
    plex.restart()
    plex.wait_connected()
    progress(plex, adapter, "13", 600_000)  # the player carries on and reports in
    plex.alert("13", "stopped", int(MATRIX_MS * 0.97))
    (watch,) = eventually(lambda: watches(emulator), "the history entry after the restart")
    assert watch["title"] == "The Matrix"
    assert any("disconnected" in r.getMessage() for r in caplog.records)


def test_a_play_that_ended_while_the_server_was_down_is_closed_at_its_last_position(plex, running, emulator) -> None:
    _, adapter = running()
    begin(plex, adapter, "14", "100", offset=1_000)
    plex.alert("14", "paused", MATRIX_MS // 2)
    eventually(lambda: playbacks(emulator), "the pause")
    progress(plex, adapter, "14", MATRIX_MS // 2 + 10_000)
    plex.stop()
    del plex.sessions["14"]  # the client gave up while the server was away
    time.sleep(0.3)
    plex.start()
    eventually(lambda: playbacks(emulator) and playbacks(emulator)[0]["progress"] > 50.1, "the closing pause")
    assert watches(emulator) == []


def test_a_player_error_keeps_its_position_as_a_resume_point(plex, running, emulator) -> None:
    """Plex reports a failed player as state `error` and keeps the session (Tautulli's ActivityHandler
    handles it as a state change): where it stood is saved, and the play goes on from there."""
    _, adapter = running()
    begin(plex, adapter, "18", "100", offset=1_000)
    plex.alert("18", "error", int(MATRIX_MS * 0.4))
    (playback,) = eventually(lambda: playbacks(emulator), "the resume point at the error")
    assert playback["progress"] == pytest.approx(40, abs=0.5)
    progress(plex, adapter, "18", int(MATRIX_MS * 0.5))  # the player recovers
    plex.alert("18", "stopped", int(MATRIX_MS * 0.95))
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert watch["title"] == "The Matrix"


def test_without_the_socket_the_sessions_list_is_polled(plex, bridge_for, emulator) -> None:
    plex.ws_routes["/:/websockets/notifications"] = lambda conn: conn.close()  # alerts refused
    # One long backoff after the first refusal: the Supervisor then only polls and waits.
    adapter = adapter_for(plex, backoff=Backoff(3600.0, 3600.0))
    waits = Waits()
    adapter.supervisor.stopping = waits
    bridge_for("engine: {send_start: false}", adapters=[adapter]).start(reconcile=False)
    begin(plex, adapter, "16", "100", offset=5_000, alert=False)  # found by polling
    plex.sessions["16"].offset = int(MATRIX_MS * 0.9)
    eventually(lambda: adapter.plays["16"].event.position == MATRIX_MS * 0.9 / 1000, "a poll to see the play at 90%")
    del plex.sessions["16"]
    eventually(lambda: watches(emulator), "the stop found by polling")
    polls = sum(1 for r in plex.requests if r.path == "/status/sessions")
    # No busy loop: between two polls the Supervisor waited the whole poll interval.
    assert polls >= 3 and polls <= len(waits.timeouts) + 1 and set(waits.timeouts) == {adapter.supervisor.poll_interval}


def test_a_stop_reported_at_offset_zero_keeps_the_last_known_position(plex, running, emulator) -> None:
    # Some Plex clients end a session with a `stopped` alert whose viewOffset is 0.
    _, adapter = running()
    begin(plex, adapter, "31", "100", offset=1_000)
    progress(plex, adapter, "31", int(MATRIX_MS * 0.95))
    plex.alert("31", "stopped", 0)
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert watch["title"] == "The Matrix"


def test_a_session_buffering_when_the_socket_comes_back_is_not_ended(plex, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    _, adapter = running()
    begin(plex, adapter, "32", "100", offset=1_000)
    progress(plex, adapter, "32", MATRIX_MS // 2)
    plex.sessions["32"].state = "buffering"  # how /status/sessions lists a player waiting for data
    plex.listed_while_connected.clear()
    plex.restart()
    assert plex.listed_while_connected.wait(10), "the catch-up read on reconnecting"
    progress(plex, adapter, "32", int(MATRIX_MS * 0.6))
    plex.alert("32", "stopped", int(MATRIX_MS * 0.95))
    eventually(lambda: watches(emulator), "the history entry")
    assert playbacks(emulator) == []  # never closed halfway
    assert not any("ended unreported" in r.getMessage() for r in caplog.records)


def test_a_long_pause_is_not_closed_by_the_silence_timeout(plex, running, emulator) -> None:
    """Plex repeats a paused session's alert: the repeats tell the core the play is still there, so
    a pause past the threshold that outlasts its silence timeout is not marked as watched."""
    bridge, adapter = running()
    now = [time.time()]
    adapter.clock = lambda: now[0]
    begin(plex, adapter, "33", "100", offset=1_000)
    plex.alert("33", "paused", int(MATRIX_MS * 0.85))
    eventually(lambda: playbacks(emulator), "the pause")
    now[0] += bridge.engine.session_timeout - 60
    plex.alert("33", "paused", int(MATRIX_MS * 0.85))
    eventually(lambda: adapter.plays["33"].event.at == now[0], "the repeated paused alert", timeout=2)
    bridge.tick(now[0] + 120)
    time.sleep(0.3)
    assert watches(emulator) == []


def test_autoplay_of_the_next_episode_in_one_session_marks_the_first_and_follows_the_next(plex, running,
                                                                                         emulator) -> None:
    _, adapter = running()
    begin(plex, adapter, "34", "202", offset=0)
    progress(plex, adapter, "34", int(EPISODE_MS * 0.97))
    plex.sessions["34"].rating_key = "203"  # same session, the next item of the play queue
    plex.alert("34", "playing", 5_000)
    (watch,) = eventually(lambda: watches(emulator), "the first episode's history entry")
    assert (watch["season"], watch["number"]) == (1, 2)
    eventually(lambda: "34" in adapter.plays and adapter.plays["34"].rating_key == "203", "the next episode")
    time.sleep(3 * PACE)
    plex.alert("34", "stopped", int(EPISODE_MS * 0.9))
    eventually(lambda: len(watches(emulator)) == 2, "the second episode's history entry")
    assert sorted((w["season"], w["number"]) for w in watches(emulator)) == [(1, 2), (1, 3)]


def test_two_users_playing_the_same_movie_at_once_are_two_plays(plex, running, emulator) -> None:
    bridge, adapter = running()
    begin(plex, adapter, "35", "100", offset=0)
    begin(plex, adapter, "36", "100", offset=0, user="bob", user_id=2)
    plex.alert("36", "paused", MATRIX_MS // 2)
    plex.alert("35", "stopped", int(MATRIX_MS * 0.95))
    (watch,) = eventually(lambda: watches(emulator), "alice's history entry")
    assert watch["title"] == "The Matrix" and playbacks(emulator) == []
    # bob is not logged in: his pause waits in the outbox, apart from alice's mark
    eventually(lambda: bridge.outbox.counts().get("bob", {}).get("pending") == 1, "bob's pause")
    assert "36" in adapter.plays and "35" not in adapter.plays


def test_an_unmatched_item_is_skipped_with_one_log_line(plex, running, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    bridge, adapter = running()
    begin(plex, adapter, "37", "600")
    plex.alert("37", "paused", 600_000)
    plex.alert("37", "playing", 610_000)
    plex.alert("37", "stopped", 3_500_000)
    eventually(lambda: "37" not in adapter._skipped, "the session to end")
    (line,) = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert "local://600" in line and "carries no usable id" in line
    assert bridge.outbox.counts() == {}


def test_stop_ends_the_adapters_threads(plex, running) -> None:
    bridge, adapter = running()
    begin(plex, adapter, "38", "100")
    adapter.stop()
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("adapter-plex/", "plex/"))]


def test_a_session_listed_late_is_begun_then_forgotten(plex, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    _, adapter = running()
    plex.play("39", "100", alert=False)
    listed = plex.sessions.pop("39")
    plex.broadcast({"NotificationContainer": {"type": "playing", "PlaySessionStateNotification": [
        {"sessionKey": "39", "ratingKey": "100", "viewOffset": 0, "state": "playing"}]}})
    eventually(lambda: any("its user is unknown" in r.getMessage() for r in caplog.records), "the waiting line")
    plex.sessions["39"] = listed
    progress(plex, adapter, "39", 60_000)
    plex.alert("39", "stopped", int(MATRIX_MS * 0.95))
    eventually(lambda: watches(emulator), "the history entry")
    assert not [what for what in adapter._told if "39" in what]  # nothing kept per ended session


def test_two_servers_keep_their_sessions_and_exclusions_apart(plex, bridge_for, emulator) -> None:
    cabin = PlexStandIn(machine_id="f" * 40)
    cabin.items, cabin.section_of = plex.items, plex.section_of
    cabin.start()
    try:
        home_adapter, cabin_adapter = adapter_for(plex), adapter_for(cabin, name="cabin", exclude_libraries=())
        bridge = bridge_for("engine: {send_start: false}", adapters=[home_adapter, cabin_adapter])
        bridge.start(reconcile=False)
        plex.wait_connected()
        cabin.wait_connected()
        # The same session key on both servers, and the library only home excludes.
        begin(plex, home_adapter, "1", "400")
        begin(cabin, cabin_adapter, "1", "400")
        plex.alert("1", "stopped", 3_500_000)
        cabin.alert("1", "stopped", 3_500_000)
        eventually(lambda: [r for r in emulator.requests if r["path"] == "/sync/history"], "the cabin's mark")
        eventually(lambda: settled(bridge), "the outbox to drain")
    finally:
        cabin.stop()
    (body,) = [r["body"] for r in emulator.requests if r["path"] == "/sync/history"]
    assert body["movies"][0]["ids"] == {"tmdb": 105}  # once: home's play of that library sent nothing


def test_a_show_matched_anew_in_plex_is_read_again(plex, running) -> None:
    _, adapter = running()
    events = []
    adapter._sink = events.append
    now = [time.time()]
    adapter.clock = lambda: now[0]
    begin(plex, adapter, "40", "503")
    plex.alert("40", "stopped", 1_300_000)
    eventually(lambda: events and events[-1].state.value == "stopped", "the first play's stop")
    plex.items["500"]["Guid"] = ["tvdb://79126"]  # the user fixes the show's match in Plex
    now[0] += 3600
    begin(plex, adapter, "41", "503")
    eventually(lambda: events[-1].session == "41", "the second play")
    assert events[-1].ids.tvdb == 79126


def test_a_stop_lost_while_connected_is_found_when_the_next_session_begins(plex, running, emulator) -> None:
    _, adapter = running()
    begin(plex, adapter, "42", "100", offset=1_000)
    progress(plex, adapter, "42", int(MATRIX_MS * 0.95))
    del plex.sessions["42"]  # the client vanished; Plex never said `stopped`
    begin(plex, adapter, "43", "202")
    (watch,) = eventually(lambda: watches(emulator), "the lost play's history entry")
    assert watch["title"] == "The Matrix" and "42" not in adapter.plays


def marked(emulator) -> list[tuple[int, int]]:
    return sorted((w["season"], w["number"]) for w in watches(emulator))


def test_a_multi_episode_file_played_to_the_end_marks_every_episode_in_it(plex, running, emulator) -> None:
    office_season_3(plex)
    bridge, adapter = running()
    begin(plex, adapter, "50", "540", offset=0)
    for offset in (600_000, 1_800_000):
        progress(plex, adapter, "50", offset)
    plex.alert("50", "stopped", int(BENIHANA_MS * 0.97))
    eventually(lambda: len(watches(emulator)) == 2, "both episodes of the file in the history")
    assert marked(emulator) == [(3, 10), (3, 11)]
    eventually(lambda: settled(bridge), "the outbox to drain")
    assert marked(emulator) == [(3, 10), (3, 11)]
    assert sum(1 for r in plex.requests if r.path == "/library/metadata/530/children") == 1  # once per session


def test_an_episode_in_a_file_of_its_own_stays_one_episode(plex, running, emulator) -> None:
    office_season_3(plex)
    bridge, adapter = running()
    begin(plex, adapter, "51", "542", offset=0)
    plex.alert("51", "stopped", 1_300_000)
    eventually(lambda: watches(emulator), "the history entry")
    eventually(lambda: settled(bridge), "the outbox to drain")
    assert marked(emulator) == [(3, 12)]


def test_a_season_that_cannot_be_read_still_marks_the_played_episode(plex, running, emulator, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="bridge.adapters.plex")
    office_season_3(plex)
    plex.failing.add("/library/metadata/530/children")
    bridge, adapter = running()
    begin(plex, adapter, "52", "541", offset=0)
    plex.alert("52", "stopped", int(BENIHANA_MS * 0.97))
    eventually(lambda: watches(emulator), "the history entry")
    eventually(lambda: settled(bridge), "the outbox to drain")
    assert marked(emulator) == [(3, 11)]
    (line,) = [r.getMessage() for r in caplog.records if "season 530" in r.getMessage()]
    assert "500" in line and "one episode" in line
