"""The Kodi adapter: first against a scripted stand-in for what real Kodi cannot be made to do
(a video player that is not player 1, garbage replies, a second host that is down), then against a
real Kodi (Debian's package, headless on Xvfb) and the Simkl emulator.

One real Kodi serves the module (starting one costs a few seconds); each test runs its own bridge.
"""

from __future__ import annotations

import logging
import time

from bridge.events import PlayEvent, State
from tests.adapters.kodi.real import eventually, free_port, kodi, kodi_bridge, playbacks, real_kodi  # noqa: F401 - fixtures
from tests.adapters.kodi.standin import MOVIE, ScriptedKodi, kodi_time, scripted  # noqa: F401 - fixtures
from tests.conftest import watches


def test_pause_and_resume_are_read_from_the_player_that_is_playing(scripted) -> None:
    kodi, _, events = scripted(playerid=2)
    kodi.notify("Player.OnAVStart", item={"id": 1, "type": "movie"}, player={"playerid": 2, "speed": 1})
    (started,) = eventually(lambda: events[:], "the start")
    assert (started.state, started.position, started.ids.tmdb) == (State.PLAYING, 600.0, 603)
    kodi.position, kodi.speed = 1200.0, 0
    kodi.notify("Player.OnPause", item={"id": 1, "type": "movie"}, player={"playerid": 2, "speed": 0})
    eventually(lambda: len(events) == 2, "the pause")
    assert (events[1].state, events[1].position) == (State.PAUSED, 1200.0)
    kodi.notify("Player.OnStop", end=False, item={"id": 1, "type": "movie"})
    eventually(lambda: len(events) == 3, "the stop")
    assert (events[2].state, events[2].position) == (State.STOPPED, 1200.0)  # paused: no time passed


def test_while_a_film_simply_plays_its_position_is_read_every_heartbeat(scripted) -> None:
    kodi, _, events = scripted(heartbeat=0.2)
    kodi.start()
    eventually(lambda: events[:], "the start")
    kodi.position = 900.0
    (beat, *_) = eventually(lambda: [e for e in events[1:] if e.position == 900.0], "a heartbeat read")
    assert beat.state is State.PLAYING and beat.session == events[0].session
    # Kodi no longer answers: nothing made up, and the play still ends properly.
    unanswered = []
    kodi.library["Player.GetProperties"] = lambda p: unanswered.append(p)
    # A heartbeat already in flight when the library changed may still add its event: two calls
    # answered with None mean the one in flight is done. Then three more heartbeats add nothing.
    eventually(lambda: len(unanswered) >= 2, "two heartbeats answered with nothing")
    seen, asked = len(events), len(unanswered)
    eventually(lambda: len(unanswered) >= asked + 3, "three more heartbeats")
    assert len(events) == seen
    kodi.notify("Player.OnStop", end=True, item={"id": 1, "type": "movie"})
    eventually(lambda: events[-1].state is State.STOPPED, "the stop")


def test_a_seek_back_to_the_start_is_where_the_viewing_stops(scripted) -> None:
    kodi, _, events = scripted()
    kodi.position = 7500.0  # 92%
    kodi.notify("Player.OnAVStart", item={"id": 1, "type": "movie"}, player={"playerid": 1, "speed": 1})
    kodi.notify("Player.OnSeek", item={"id": 1, "type": "movie"},
                player={"playerid": 1, "speed": 1, "time": kodi_time(0), "seekoffset": kodi_time(7500)})
    kodi.notify("Player.OnStop", end=False, item={"id": 1, "type": "movie"})
    eventually(lambda: len(events) == 3, "start, seek and stop")
    assert events[1].position == 0
    assert events[2].state is State.STOPPED and events[2].progress < 1


def test_a_play_found_on_connecting_is_not_started_twice_by_its_late_onavstart(scripted) -> None:
    # Kodi was starting a movie as the adapter connected: GetActivePlayers already shows it, and
    # its OnAVStart arrives right after.
    kodi, _, events = scripted(playing=True)
    eventually(lambda: events[:], "the play")
    kodi.notify("Player.OnStop", end=True, item={"id": 1, "type": "movie"})
    eventually(lambda: len(events) >= 2, "the stop")
    time.sleep(0.1)
    assert [e.state for e in events] == [State.PLAYING, State.STOPPED]
    assert events[1].progress == 100.0


def test_a_dropped_link_is_reconnected_and_the_play_carries_on(scripted) -> None:
    kodi, adapter, events = scripted()
    kodi.start()
    eventually(lambda: events[:], "the start")
    kodi.fake.drop()
    eventually(lambda: kodi.fake.connections == 2 and adapter.supervisor.connected.is_set(), "the adapter to reconnect")
    kodi.position = 660.0
    eventually(lambda: len(events) == 2, "the position read after reconnecting")
    # The same play, still going: no stop in between, and the same session.
    assert [e.state for e in events] == [State.PLAYING, State.PLAYING]
    assert events[1].session == events[0].session and events[1].position in (600.0, 660.0)
    kodi.notify("Player.OnStop", end=True, item={"id": 1, "type": "movie"})
    eventually(lambda: len(events) == 3, "the stop")
    assert (events[2].state, events[2].progress, events[2].session) == (State.STOPPED, 100.0, events[0].session)


def test_a_garbage_reply_is_one_log_line_and_the_next_play_still_works(scripted, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.kodi")
    kodi, _, events = scripted(item="not an item")
    kodi.notify("Player.OnAVStart", item={"type": "movie"}, player={"playerid": 1, "speed": 1})
    line = eventually(lambda: [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()], "the log line")
    assert len(line) == 1 and "not a library movie or episode" in line[0]
    kodi.notify("Player.OnPause", item={"type": "movie"}, player={"playerid": 1, "speed": 0})
    kodi.item = MOVIE
    kodi.notify("Player.OnAVStart", item={"id": 1, "type": "movie"}, player={"playerid": 1, "speed": 1})
    (event,) = eventually(lambda: events[:], "the next play")
    assert event.ids.tmdb == 603


def test_each_configured_kodi_is_its_own_adapter_and_one_down_does_not_hold_up_another(bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters")
    kodi = ScriptedKodi()
    down_port = free_port()  # nothing listens there
    bridge = bridge_for(f"kodi: [{{name: lr, port: {kodi.fake.port}, http_port: null, user: alice}},"
                        f" {{name: den, port: {down_port}, http_port: null, user: bob}}]", adapters=None)
    assert [a.name for a in bridge.adapters] == ["kodi/lr", "kodi/den"]
    events: list[PlayEvent] = []
    for adapter in bridge.adapters:
        adapter.start(events.append)
    kodi.notify("Player.OnAVStart", item={"id": 1, "type": "movie"}, player={"playerid": 1, "speed": 1})
    (event,) = eventually(lambda: events[:], "the living-room play")
    assert (event.server, event.user) == ("lr", "alice")
    eventually(lambda: any("kodi/den: disconnected" in r.getMessage() for r in caplog.records), "the down host's log line")
    kodi.fake.close()



# -- a real Kodi ----------------------------------------------------------------------------------


@real_kodi
def test_a_movie_played_to_the_end_is_marked_once_with_its_tmdb_id(kodi, kodi_bridge, emulator) -> None:
    bridge, _ = kodi_bridge()
    kodi.play(kodi.movie)
    kodi.seek(90)
    kodi.wait_stopped()
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert watch["title"] == "The Matrix" and watch["type"] == "movie"
    (post,) = [r["body"] for r in emulator.requests if r["method"] == "POST" and r["path"] == "/sync/history"]
    assert post["movies"][0]["ids"] == {"tmdb": 603, "imdb": "tt0133093"}
    eventually(lambda: bridge.outbox.pending() == 0, "the outbox to record the watch sent")
    assert len(watches(emulator)) == 1 and bridge.outbox.pending() == 0


@real_kodi
def test_a_paused_episode_is_saved_with_the_show_ids_and_kodis_progress(kodi, kodi_bridge, emulator) -> None:
    kodi_bridge()
    kodi.play(kodi.episode)
    kodi.seek(40)
    time.sleep(0.5)
    kodi.set_playing(False)
    eventually(lambda: kodi.position()["speed"] == 0, "Kodi to pause")
    kodi_percent = kodi.position()["percentage"]
    (playback,) = eventually(lambda: playbacks(emulator), "the saved playback")
    assert playback["type"] == "episode"
    assert (playback["episode"]["season"], playback["episode"]["number"]) == (1, 2)
    assert abs(playback["progress"] - kodi_percent) <= 2
    # Sent by the show's ids (from the show's .nfo), not the episode's own.
    (pause,) = [r["body"] for r in emulator.requests if r["path"] == "/scrobble/pause"]
    assert pause["show"]["ids"] == {"tvdb": 81189, "tmdb": 1396, "imdb": "tt0903747"}
    kodi.stop()
    time.sleep(1)
    assert watches(emulator) == []  # stopped at 40%: not watched


@real_kodi
def test_a_stop_below_the_threshold_is_not_history(kodi, kodi_bridge, emulator) -> None:
    bridge, _ = kodi_bridge()
    kodi.play(kodi.movie)
    kodi.seek(50)
    time.sleep(0.5)
    kodi.stop()
    (playback,) = eventually(lambda: playbacks(emulator), "the resume point")
    assert 45 <= playback["progress"] < 80  # where it was stopped; the upper bound allows a slow machine
    eventually(lambda: bridge.outbox.pending() == 0, "the outbox to drain")
    assert watches(emulator) == []


@real_kodi
def test_a_loose_file_is_not_sent_and_logged_once(kodi, kodi_bridge, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.kodi")
    bridge, _ = kodi_bridge()
    kodi.play(kodi.loose)
    kodi.set_playing(False)
    time.sleep(0.3)
    kodi.set_playing(True)
    kodi.seek(95)
    kodi.wait_stopped()
    kodi.play(kodi.loose)  # the same file again: still one line
    kodi.stop()
    time.sleep(0.5)
    lines = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert len(lines) == 1 and "direct.mp4" in lines[0]
    assert bridge.outbox.counts() == {}
    assert watches(emulator) == [] and playbacks(emulator) == []


@real_kodi
def test_kodi_killed_mid_play_is_reconnected(kodi, kodi_bridge, emulator, caplog) -> None:
    """Runs last in the module: it restarts the shared Kodi."""
    caplog.set_level(logging.INFO, logger="bridge.adapters.kodi")
    bridge, adapter = kodi_bridge()
    kodi.play(kodi.movie)
    kodi.seek(30)
    # The session the bridge closes when Kodi dies must know the seek: it is where the resume point goes.
    eventually(lambda: any(s.event.progress >= 25 for s in bridge.engine.sessions.values()), "the bridge to see the seek to 30%")
    kodi.kill()
    eventually(lambda: not adapter.supervisor.connected.is_set(), "the adapter to see the drop")
    kodi.start()
    # Bounded by Kodi's start (up to 60 s on a slow machine) plus one backoff step (at most 30 s).
    eventually(adapter.supervisor.connected.is_set, "the adapter to reconnect", timeout=120)
    # The interrupted viewing is closed where it was when Kodi died: a resume point, not a watch.
    (playback,) = eventually(lambda: playbacks(emulator), "the interrupted play's resume point")
    assert 25 <= playback["progress"] < 80  # where it was when Kodi died; slack for a slow machine
    # And the new connection carries plays again.
    kodi.play(kodi.movie)
    kodi.seek(92)
    kodi.wait_stopped()
    (watch,) = eventually(lambda: watches(emulator), "the history entry after the restart")
    assert watch["title"] == "The Matrix"
    assert any("disconnected" in r.getMessage() for r in caplog.records)
