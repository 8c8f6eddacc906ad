"""The Jellyfin adapter's live side against the Jellyfin stand-in and the Simkl emulator, through a
real Bridge: what each play sends, users and libraries, several servers, the socket and its trouble."""

from __future__ import annotations

import logging
import time

import pytest

from bridge.adapters.base import MEMORY_LIMIT
from bridge.adapters.jellyfin.adapter import SESSIONS, USER_DATA, JellyfinAdapter
from tests.adapters.jellyfin.helpers import adapter_for, jellyfin, minutes, playbacks, running, sent, settle  # noqa: F401 - fixtures
from tests.adapters.jellyfin.standin import ALICE, API_KEY, BOB, JellyfinStandIn
from tests.conftest import eventually, watches

LOG = "bridge.adapters.jellyfin"
CAROL = "ca401000000000000000000000000003"


# -- what gets sent ----------------------------------------------------------------------------


def test_a_movie_played_to_the_end_is_marked_once(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(1))
    jellyfin.progress("s1", minutes(60))
    jellyfin.progress("s1", minutes(131))
    jellyfin.stop("s1")  # Jellyfin marks it played too (UserDataChanged): still one watch
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert (watch["title"], watch["type"]) == ("The Matrix", "movie")
    settle(bridge)
    assert len(watches(emulator)) == 1
    (post,) = sent(emulator, "/sync/history")
    assert post["movies"][0]["ids"] == {"tmdb": 603, "imdb": "tt0133093"}


def test_jellyfins_played_flag_after_the_stop_is_the_same_viewing(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.progress("s1", minutes(125))  # 92%: past both Jellyfin's 90% and our 80%
    # A second apart: a different watched_at, so the outbox's own dedupe cannot hide a repeat.
    jellyfin.stop("s1", played_after=1.1)
    eventually(lambda: watches(emulator), "the history entry")
    settle(bridge)
    assert len(sent(emulator, "/sync/history")) == 1


def test_a_played_flag_for_a_stop_below_our_threshold_still_marks_it(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    bridge.engine.threshold = 95.0  # stricter than Jellyfin's 90%: the server's own signal decides
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.progress("s1", minutes(125))  # 92%
    jellyfin.stop("s1", played_after=0.0)
    (watch,) = eventually(lambda: watches(emulator), "the history entry from Jellyfin's Played flag")
    assert watch["title"] == "The Matrix"


def test_an_episode_is_sent_with_the_series_ids_and_its_numbers(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.play("s1", ALICE, jellyfin.bb_s1e2, minutes(45))
    jellyfin.stop("s1")
    (watch,) = eventually(lambda: watches(emulator), "the episode's history entry")
    assert (watch["title"], watch["season"], watch["number"]) == ("Breaking Bad", 1, 2)
    (post,) = eventually(lambda: sent(emulator, "/sync/history"), "the history POST in the emulator's log")
    assert post["shows"][0]["ids"]["tvdb"] == 81189


def test_a_multi_episode_file_marks_every_episode_in_it(jellyfin, running, emulator) -> None:
    running()
    double = jellyfin.add_episode(jellyfin.bb, 1, 3, {}, minutes=94, number_end=4)
    jellyfin.play("s1", ALICE, double, minutes(90))
    jellyfin.stop("s1")
    eventually(lambda: len(watches(emulator)) == 2, "two episodes marked")
    assert sorted(w["number"] for w in watches(emulator)) == [3, 4]


def test_anime_known_by_anidb_ids_uses_anidb_numbering(jellyfin, running, emulator) -> None:
    running()
    aot = jellyfin.add_series("Shingeki no Kyojin", {"AniDB": "9541"}, year=2013, library="Anime")
    ep = jellyfin.add_episode(aot, 1, 5, {}, minutes=24)
    jellyfin.play("s1", ALICE, ep, minutes(23))
    jellyfin.stop("s1")
    (watch,) = eventually(lambda: watches(emulator), "the anime episode's history entry")
    assert (watch["title"], watch["number"]) == ("Shingeki no Kyojin", 5)
    (post,) = eventually(lambda: sent(emulator, "/sync/history"), "the history POST in the emulator's log")
    assert post["anime"][0]["ids"] == {"anidb": 9541}


def test_an_item_without_provider_ids_is_skipped_with_one_log_line(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, _ = running()
    home_video = jellyfin.add_movie("holiday-2019.mkv", {}, minutes=20)
    jellyfin.play("s1", ALICE, home_video, 10)
    jellyfin.pause("s1", 60)
    jellyfin.resume("s1", 60)
    jellyfin.progress("s1", minutes(19))
    jellyfin.stop("s1")
    settle(bridge)
    lines = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert len(lines) == 1 and "holiday-2019.mkv" in lines[0] and "ProviderIds" in lines[0]
    assert bridge.outbox.counts() == {} and watches(emulator) == [] and playbacks(emulator) == []


def test_pause_resume_and_stop_are_detected_from_session_updates(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(10))
    eventually(lambda: sent(emulator, "/scrobble/start"), "the start scrobble")
    jellyfin.pause("s1", minutes(54.4))  # 40%
    (paused,) = eventually(lambda: playbacks(emulator), "the saved pause")
    assert paused["progress"] == pytest.approx(40, abs=0.5)
    jellyfin.resume("s1", minutes(54.4))
    eventually(lambda: len(sent(emulator, "/scrobble/start")) == 2, "the resume's start")
    jellyfin.progress("s1", minutes(68))  # 50%: progress alone writes nothing
    jellyfin.stop("s1")
    eventually(lambda: any(abs(p["progress"] - 50) < 0.5 for p in playbacks(emulator)), "the stop's resume point")
    settle(bridge)
    assert watches(emulator) == []
    scrobbles = [r["path"] for r in emulator.requests if r["path"].startswith("/scrobble") and r["status"] < 300]
    assert scrobbles == ["/scrobble/start", "/scrobble/pause", "/scrobble/start", "/scrobble/pause"]


def test_only_the_configured_user_is_followed(jellyfin, running, emulator) -> None:
    bridge, _ = running(user="bob")
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(130))
    jellyfin.stop("s1")
    jellyfin.mark_played(ALICE, jellyfin.bb_s1e2)
    settle(bridge)
    assert bridge.outbox.counts() == {}
    jellyfin.play("s2", BOB, jellyfin.matrix, minutes(130))
    jellyfin.stop("s2")
    # bob is not logged in to Simkl: his mark waits in the outbox, which is all we need to see.
    eventually(lambda: bridge.outbox.pending("bob") == 1, "bob's play to be queued")
    assert bridge.outbox.pending("alice") == 0 and watches(emulator) == []


def test_the_configured_user_may_be_given_by_id(jellyfin, running, emulator) -> None:
    bridge, _ = running(user=BOB.upper())
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(130))
    jellyfin.play("s2", BOB, jellyfin.matrix, minutes(130))
    jellyfin.stop("s1")
    jellyfin.stop("s2")
    eventually(lambda: bridge.outbox.pending("bob") == 1, "bob's play to be queued")
    time.sleep(0.3)
    assert bridge.outbox.pending("alice") == 0 and watches(emulator) == []


def test_a_play_in_an_excluded_library_is_not_sent(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, _ = running(exclude_libraries=("kids",))
    cartoon = jellyfin.add_movie("Back to the Future", {"Tmdb": "105"}, library="Kids")
    jellyfin.play("s1", ALICE, cartoon, minutes(99))
    jellyfin.stop("s1")
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(131))
    jellyfin.stop("s1")
    (watch,) = eventually(lambda: watches(emulator), "the Matrix's history entry")
    assert watch["title"] == "The Matrix"
    assert any("excluded library 'Kids'" in r.getMessage() for r in caplog.records)


def test_marking_an_item_played_by_hand_is_a_watch_and_a_rating_is_not(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.mark_played(ALICE, jellyfin.matrix, when=time.time() - 86400 * 30)  # old news re-saved
    settle(bridge)
    assert bridge.outbox.counts() == {}
    jellyfin.mark_played(ALICE, jellyfin.bb_s1e2)
    (watch,) = eventually(lambda: watches(emulator), "the hand-marked episode")
    assert (watch["title"], watch["number"]) == ("Breaking Bad", 2)


def test_two_servers_are_followed_side_by_side(jellyfin, bridge_for, emulator) -> None:
    with JellyfinStandIn() as other:
        inception = other.add_movie("Inception", {"Tmdb": "27205"}, minutes=148)
        a, b = adapter_for(jellyfin, "home"), adapter_for(other, "cabin")
        bridge = bridge_for(adapters=[a, b])
        bridge.start(reconcile=False)
        eventually(lambda: jellyfin.subscribers and other.subscribers, "both adapters to subscribe")
        jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(131))
        other.play("s1", ALICE, inception, minutes(140))  # same session id on another server
        jellyfin.stop("s1")
        other.stop("s1")
        eventually(lambda: len(watches(emulator)) == 2, "both plays marked")
        assert {w["title"] for w in watches(emulator)} == {"The Matrix", "Inception"}
        assert {a.name, b.name} == {"jellyfin/home", "jellyfin/cabin"}


def test_the_daemon_builds_the_adapter_from_the_config(jellyfin, bridge_for) -> None:
    bridge = bridge_for(f"jellyfin: [{{name: home, url: '{jellyfin.url}', api_key: {API_KEY}, user: alice, webhooks: true}}]",
                        adapters=None)
    (adapter,) = bridge.adapters
    assert isinstance(adapter, JellyfinAdapter) and adapter.name == "jellyfin/home"
    assert ("POST", "/jellyfin") in bridge.http.routes and ("POST", "/jellyfin/home") in bridge.http.routes


def test_a_user_with_no_account_rule_is_never_sent(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO)
    jellyfin.users[CAROL] = "carol"
    bridge, _ = running()
    jellyfin.play("s1", CAROL, jellyfin.matrix, minutes(60))
    jellyfin.pause("s1", minutes(70))
    jellyfin.resume("s1", minutes(70))
    jellyfin.progress("s1", minutes(131))
    jellyfin.stop("s1")
    jellyfin.mark_played(CAROL, jellyfin.bb_s1e2)
    settle(bridge)
    assert bridge.outbox.counts() == {} and watches(emulator) == [] and playbacks(emulator) == []
    assert any("'carol' maps to no Simkl account" in r.getMessage() for r in caplog.records)


# -- the socket and its trouble ----------------------------------------------------------------


def test_a_server_restart_mid_play_closes_the_play_at_its_last_position(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, adapter = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(20))
    jellyfin.progress("s1", minutes(61.2))  # 45%
    time.sleep(0.3)
    jellyfin.restart()  # the session is gone when it comes back
    (playback,) = eventually(lambda: playbacks(emulator), "the interrupted play's resume point")
    assert playback["progress"] == pytest.approx(45, abs=0.5)
    eventually(lambda: jellyfin.subscribers, "the adapter to resubscribe")
    jellyfin.play("s2", ALICE, jellyfin.matrix, minutes(131))
    jellyfin.stop("s2")
    (watch,) = eventually(lambda: watches(emulator), "a play after the restart")
    assert watch["title"] == "The Matrix"
    assert any("disconnected" in r.getMessage() for r in caplog.records)


def test_a_stop_while_the_socket_is_down_is_found_by_polling(jellyfin, running, emulator) -> None:
    bridge, adapter = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(20))
    jellyfin.progress("s1", minutes(125))
    time.sleep(0.3)
    jellyfin.drop_sockets(refuse=True)
    eventually(lambda: not adapter.supervisor.connected.is_set(), "the adapter to notice the drop")
    jellyfin.stop("s1", push=False)  # nobody hears this but GET /Sessions
    (watch,) = eventually(lambda: watches(emulator), "the stop found by the poll")
    assert watch["title"] == "The Matrix"
    assert not adapter.supervisor.connected.is_set()


def test_a_silent_socket_is_declared_dead_and_replaced(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, adapter = running(watchdog=0.8)
    jellyfin.freeze()
    eventually(lambda: any("nothing heard" in r.getMessage() for r in caplog.records), "the watchdog", timeout=5)
    eventually(lambda: jellyfin.connected() == 1 and len(jellyfin.server.sockets) == 2, "a new socket")
    eventually(lambda: adapter.supervisor.connected.is_set(), "the adapter to reconnect")
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(131))
    jellyfin.stop("s1")
    eventually(lambda: watches(emulator), "a play on the new socket")


def test_garbage_on_the_socket_is_logged_and_the_listener_carries_on(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, adapter = running()
    for junk in ["not json {", "[1, 2]", '{"MessageType": 5}', '{"MessageType": "Sessions", "Data": "x"}',
                 '{"MessageType": "UserDataChanged", "Data": 3}', '{"MessageType": "ForceKeepAlive", "Data": "soon"}',
                 '{"MessageType": "Sessions", "Data": [1, {"Id": "z", "NowPlayingItem": "x"},'
                 ' {"Id": "y", "UserName": "alice", "NowPlayingItem": {"Id": "q", "Type": "Movie", "RunTimeTicks": -5}}]}',
                 '{"MessageType": "LibraryChanged", "Data": {}}']:
        jellyfin.send(junk)
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(131))
    jellyfin.stop("s1")
    eventually(lambda: watches(emulator), "the play after the garbage")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 9, warnings  # one line for each bad message or session; LibraryChanged is not ours
    assert len(jellyfin.server.sockets) == 1  # the same connection throughout


def test_a_tiny_keepalive_from_the_server_does_not_make_the_listener_spin(jellyfin, running) -> None:
    bridge, adapter = running()
    jellyfin.send({"MessageType": "ForceKeepAlive", "Data": 0.0001})
    time.sleep(0.3)
    before = sum('"KeepAlive"' in m for m in jellyfin.received)
    time.sleep(1.0)
    after = sum('"KeepAlive"' in m for m in jellyfin.received)
    assert after - before <= 10  # the adapter's own 0.2 s interval: about 5
    assert adapter.supervisor.connected.is_set()


def test_a_refused_socket_is_one_short_line_without_the_key(jellyfin, bridge_for, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    del jellyfin.server.ws_routes["/socket"]  # e.g. a proxy that does not pass websockets on
    adapter = adapter_for(jellyfin)
    bridge_for(adapters=[adapter]).start(reconcile=False)
    line = eventually(lambda: next((r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()), None),
                      "the disconnect line")
    assert "404" in line and "-+-+-" not in line and len(line) < 200
    assert not any(API_KEY in r.getMessage() for r in caplog.records)


def test_stop_ends_the_listener_connected_or_not(jellyfin, running) -> None:
    bridge, adapter = running()
    adapter.stop()
    assert not adapter.supervisor._thread.is_alive()
    eventually(lambda: jellyfin.connected() == 0, "the socket to be closed")
    bridge, adapter = running()
    jellyfin.drop_sockets(refuse=True)
    eventually(lambda: not adapter.supervisor.connected.is_set(), "the drop to be noticed")
    started = time.monotonic()
    adapter.stop()  # while polling and backing off
    assert not adapter.supervisor._thread.is_alive() and time.monotonic() - started < 1.0


def test_a_listener_stuck_in_its_connect_writes_nothing_after_stop(jellyfin, bridge_for) -> None:
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(10))
    route = next(r for r in jellyfin.server.routes if r.pattern.pattern == "/Sessions")
    answer, route.handler = route.handler, lambda req: (time.sleep(1.0), answer(req))[1]  # a server slow to answer
    adapter = adapter_for(jellyfin)
    adapter.supervisor.stop = lambda timeout=0.2, stop=adapter.supervisor.stop: stop(timeout)  # a short wait for it
    bridge = bridge_for(adapters=[adapter])
    bridge.start(reconcile=False)
    eventually(lambda: any(r.path == "/Sessions" for r in jellyfin.server.requests), "the seed request")
    bridge.stop()
    time.sleep(1.5)  # the seed's answer arrives, after the stop
    assert bridge.engine.sessions == {}


def test_what_the_adapter_remembers_per_item_is_bounded(jellyfin) -> None:
    adapter = adapter_for(jellyfin)
    adapter.users.names = {ALICE: "alice"}
    many = MEMORY_LIMIT + 50
    for i in range(many):  # handed to the worker's handler as the listener queues them
        entry = {"ItemId": f"{i:032x}", "Played": False, "PlaybackPositionTicks": 10}
        adapter._handle(USER_DATA, ({"UserId": ALICE, "UserDataList": [entry]}, time.time()))
    unknown = [{"Id": f"s{i}", "UserName": "alice", "PlayState": {},
                "NowPlayingItem": {"Id": f"{i:032x}", "Type": "Movie", "Name": f"clip {i}", "ProviderIds": {}}}
               for i in range(many)]
    adapter._handle(SESSIONS, (unknown, time.time()))
    assert len(adapter._played) <= MEMORY_LIMIT and len(adapter._told) <= MEMORY_LIMIT
