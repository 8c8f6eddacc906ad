"""The Jellyfin adapter's live side against the Jellyfin stand-in and the Simkl emulator, through a
real Bridge: what each play sends, users and libraries, several servers, the socket and its trouble."""

from __future__ import annotations

import logging
import time

import pytest

from bridge.adapters.base import MEMORY_LIMIT
from bridge.adapters.jellyfin.adapter import SESSIONS, JellyfinAdapter
from bridge.backoff import Backoff
from tests.adapters.jellyfin.helpers import (  # noqa: F401 - fixtures
    adapter_for,
    every_version,
    idle,
    jellyfin,
    lists_handled,
    minutes,
    playbacks,
    playing,
    post,
    running,
    seen,
    sent,
    settle,
    until_handled,
    webhook_body,
)
from tests.adapters.jellyfin.standin import ALICE, API_KEY, BOB, JellyfinStandIn
from tests.conftest import eventually, watches

LOG = "bridge.adapters.jellyfin"
CAROL = "ca401000000000000000000000000003"


# -- what gets sent ----------------------------------------------------------------------------


def engine_writes(bridge) -> list:
    """Every write the engine decides from now on (the outbox's own dedupe would hide a repeat made
    in the same second)."""
    decided: list = []
    handle = bridge.engine.handle
    bridge.engine.handle = lambda event: (writes := handle(event), decided.extend(writes))[0]
    return decided


@every_version
def test_a_movie_played_to_the_end_is_marked_once(jellyfin, running, emulator) -> None:
    bridge, adapter = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(1))
    seen(adapter, "s1", minutes(1))  # a poll passes over a play shorter than its interval
    jellyfin.progress("s1", minutes(60))
    jellyfin.progress("s1", minutes(131))
    seen(adapter, "s1", minutes(131))
    jellyfin.stop("s1")  # Jellyfin marks it played too (read at the stop): still one watch
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert (watch["title"], watch["type"]) == ("The Matrix", "movie")
    settle(bridge)
    assert len(watches(emulator)) == 1
    (post,) = sent(emulator, "/sync/history")
    assert post["movies"][0]["ids"] == {"tmdb": 603, "imdb": "tt0133093"}


@every_version
def test_jellyfins_played_flag_after_the_stop_is_the_same_viewing(jellyfin, running, emulator) -> None:
    bridge, adapter = running()
    decided = engine_writes(bridge)
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.progress("s1", minutes(125))  # 92%: past both Jellyfin's 90% and our 80%
    seen(adapter, "s1", minutes(125))
    jellyfin.stop("s1")  # our own mark at 92%, and the Played flag read right after
    eventually(lambda: watches(emulator), "the history entry")
    settle(bridge)
    assert [w.kind for w in decided if w.kind == "history"] == ["history"]
    assert len(sent(emulator, "/sync/history")) == 1


@every_version
def test_a_played_flag_for_a_stop_below_our_threshold_still_marks_it(jellyfin, running, emulator) -> None:
    """No version sends an API key's socket UserDataChanged: the flag is read at the stop."""
    bridge, adapter = running()
    bridge.engine.threshold = 95.0  # stricter than Jellyfin's 90%: the server's own signal decides
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.progress("s1", minutes(125))  # 92%
    seen(adapter, "s1", minutes(125))
    jellyfin.stop("s1")
    (watch,) = eventually(lambda: watches(emulator), "the history entry from Jellyfin's Played flag")
    assert watch["title"] == "The Matrix"
    assert jellyfin.data(ALICE, jellyfin.matrix)["Played"] is True


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
    handled = lists_handled(_)
    jellyfin.stop("s1")
    until_handled(handled, idle("s1"), "the stop to be read")  # every report before it is handled too
    lines = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert len(lines) == 1 and "holiday-2019.mkv" in lines[0] and "ProviderIds" in lines[0]
    assert bridge.outbox.counts() == {} and watches(emulator) == [] and playbacks(emulator) == []


@every_version
def test_pause_resume_and_stop_are_detected_from_session_updates(jellyfin, running, emulator) -> None:
    bridge, adapter = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(10))
    eventually(lambda: sent(emulator, "/scrobble/start"), "the start scrobble")
    jellyfin.pause("s1", minutes(54.4))  # 40%
    (paused,) = eventually(lambda: playbacks(emulator), "the saved pause")
    assert paused["progress"] == pytest.approx(40, abs=0.5)
    jellyfin.resume("s1", minutes(54.4))
    eventually(lambda: len(sent(emulator, "/scrobble/start")) == 2, "the resume's start")
    jellyfin.progress("s1", minutes(68))  # 50%: progress alone writes nothing
    seen(adapter, "s1", minutes(68))
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
    # alice's stop was reported first: it is handled once bob's is
    eventually(lambda: bridge.outbox.pending("bob") == 1, "bob's play to be queued")
    assert bridge.outbox.pending("alice") == 0 and watches(emulator) == []


@every_version
def test_a_play_in_an_excluded_library_is_not_sent(jellyfin, running, emulator, caplog) -> None:
    """The library is found among the ancestors only when they are asked for with the user
    (LibraryController.GetAncestors -> TranslateParentItem)."""
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, adapter = running(exclude_libraries=("kids",))
    cartoon = jellyfin.add_movie("Back to the Future", {"Tmdb": "105"}, library="Kids")
    handled = lists_handled(adapter)
    jellyfin.play("s1", ALICE, cartoon, minutes(99))
    until_handled(handled, playing("s1", cartoon), "the cartoon's play to be read")
    jellyfin.stop("s1")
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(131))
    seen(adapter, "s1", minutes(131))
    jellyfin.stop("s1")
    (watch,) = eventually(lambda: watches(emulator), "the Matrix's history entry")
    assert watch["title"] == "The Matrix"
    assert any("excluded library 'Kids'" in r.getMessage() for r in caplog.records)


def test_a_hand_mark_is_heard_by_webhook_only(jellyfin, running, emulator) -> None:
    """The server tells an API key's socket no user data (UserDataChangeNotifier sends it to the user's
    own sessions); the webhook plugin's UserDataSaved does."""
    bridge, _ = running(webhooks=True)
    jellyfin.mark_played(ALICE, jellyfin.bb_s1e2)
    eventually(lambda: jellyfin.user_data_sent, "the server's UserDataChanged batch")
    assert jellyfin.user_data_sent[-1][2] == 0 and bridge.outbox.counts() == {}  # to no socket of ours
    episode = {"SeriesId": jellyfin.bb, "SeriesName": "Breaking Bad", "SeasonNumber": 1, "EpisodeNumber": 2}
    toggled = webhook_body(jellyfin, "UserDataSaved", jellyfin.bb_s1e2, 0, SaveReason="TogglePlayed", Played=True,
                           **episode)
    assert post(bridge, toggled).status_code == 202
    (watch,) = eventually(lambda: watches(emulator), "the hand-marked episode")
    assert (watch["title"], watch["number"]) == ("Breaking Bad", 2)


def test_two_servers_are_followed_side_by_side(jellyfin, bridge_for, emulator) -> None:
    with JellyfinStandIn() as other:
        inception = other.add_movie("Inception", {"Tmdb": "27205"}, minutes=148)
        a, b = adapter_for(jellyfin, "home"), adapter_for(other, "cabin")
        bridge = bridge_for(adapters=[a, b])
        bridge.start(reconcile=False)
        eventually(lambda: a.supervisor.connected.is_set() and b.supervisor.connected.is_set() and jellyfin.subscribers
                   and other.subscribers, "both adapters to subscribe")
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
    eventually(lambda: any("'carol' maps to no Simkl account" in r.getMessage() for r in caplog.records), "the line")
    handled = lists_handled(_)
    jellyfin.play("s2", CAROL, jellyfin.bb_s1e2, minutes(46))
    jellyfin.stop("s2")
    until_handled(handled, idle("s2"), "carol's second play to end")
    assert bridge.outbox.counts() == {} and watches(emulator) == [] and playbacks(emulator) == []


# -- the socket and its trouble ----------------------------------------------------------------


@every_version
def test_a_server_restart_mid_play_closes_the_play_at_its_last_position(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, adapter = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(20))
    jellyfin.progress("s1", minutes(61.2))  # 45%
    eventually(lambda: engine_position(bridge, "s1") == minutes(61.2), "the engine to hold the play at 45%")
    jellyfin.restart()  # the session is gone when it comes back
    (playback,) = eventually(lambda: playbacks(emulator), "the interrupted play's resume point")
    assert playback["progress"] == pytest.approx(45, abs=0.5)
    eventually(lambda: adapter.supervisor.connected.is_set(), "the adapter to reconnect")
    jellyfin.play("s2", ALICE, jellyfin.matrix, minutes(131))
    seen(adapter, "s2", minutes(131))
    jellyfin.stop("s2")
    (watch,) = eventually(lambda: watches(emulator), "a play after the restart")
    assert watch["title"] == "The Matrix"
    assert any("disconnected" in r.getMessage() for r in caplog.records)


@every_version
def test_a_stop_while_the_socket_is_down_is_found_by_polling(jellyfin, running, emulator) -> None:
    bridge, adapter = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(20))
    jellyfin.progress("s1", minutes(125))
    eventually(lambda: engine_position(bridge, "s1") == minutes(125), "the engine to hold the play at 92%")
    jellyfin.drop_sockets(refuse=True)
    eventually(lambda: not adapter.supervisor.connected.is_set(), "the adapter to notice the drop")
    jellyfin.stop("s1", push=False)  # nobody hears this but GET /Sessions
    (watch,) = eventually(lambda: watches(emulator), "the stop found by the poll")
    assert watch["title"] == "The Matrix"
    assert not adapter.supervisor.connected.is_set()


@every_version
def test_the_sessions_are_read_while_the_socket_proves_no_subscription(jellyfin, running, emulator) -> None:
    """10.9.0-10.10.7 never push sessions to an API key, but answer its KeepAlive: the list is read on a
    timer while the socket is up. Elsewhere a push proves the subscription and is then what wakes a read."""
    bridge, adapter = running()
    reads = [r for r in jellyfin.server.requests if r.path == "/Sessions"]
    eventually(lambda: len([r for r in jellyfin.server.requests if r.path == "/Sessions"]) >= len(reads) + 3,
               "reads of /Sessions while connected")
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(120))
    seen(adapter, "s1", minutes(120))
    jellyfin.stop("s1")
    (watch,) = eventually(lambda: watches(emulator), "the play heard while the socket is up")
    assert watch["title"] == "The Matrix" and adapter.supervisor.connected.is_set()
    assert len(jellyfin.server.sockets) == 1  # the same socket throughout: nothing was wrong with it
    assert adapter.subscribed is (jellyfin.version != "10.10.7")
    assert not any('"SessionsStart"' in m for m in jellyfin.received) or jellyfin.version != "10.10.7"
    assert jellyfin.log == []  # nothing the server had to complain about


@pytest.mark.parametrize("jellyfin", ["10.8.13", "10.10.7"], indirect=True)
def test_a_socket_without_force_keepalive_is_kept_by_our_own(jellyfin, running) -> None:
    """Up to 10.10 an API key's socket is sent no ForceKeepAlive (it has no session): the adapter speaks
    at its own interval and the socket stays the same."""
    bridge, adapter = running(watchdog=0.8)  # nothing heard for 0.8 s would replace the socket
    assert not any("ForceKeepAlive" in m for m in jellyfin.received)
    eventually(lambda: sum('"KeepAlive"' in m for m in jellyfin.received) >= 6, "six KeepAlives of ours, 1.2 s")
    assert len(jellyfin.server.sockets) == 1 and adapter.supervisor.connected.is_set()


def test_without_legacy_authorization_the_adapter_still_connects(bridge_for, emulator) -> None:
    """EnableLegacyAuthorization off (master's default): only the Authorization header and ApiKey count."""
    with JellyfinStandIn("10.11.11", legacy_auth=False) as jf:
        movie = jf.add_movie("The Matrix", {"Tmdb": "603"}, minutes=136)
        adapter = adapter_for(jf)
        bridge_for(adapters=[adapter]).start(reconcile=False)
        eventually(lambda: adapter.supervisor.connected.is_set() and jf.subscribers, "the adapter to subscribe")
        jf.play("s1", ALICE, movie, minutes(131))
        jf.stop("s1")
        eventually(lambda: watches(emulator), "the play")


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
    # One line for each bad message or session; UserDataChanged (never sent to an API key) and
    # LibraryChanged are not ours.
    assert len(warnings) == 8, warnings
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


def test_stop_ends_the_listener_connected_or_not(jellyfin, running, bridge_for) -> None:
    bridge, adapter = running()
    adapter.stop()
    assert not adapter.supervisor._thread.is_alive()
    eventually(lambda: jellyfin.connected() == 0, "the socket to be closed")
    # A backoff far longer than stop()'s wait for the thread: only a wait that stop() ends lets it go.
    adapter = adapter_for(jellyfin, backoff=Backoff(3600.0, 3600.0))
    bridge_for(adapters=[adapter]).start(reconcile=False)
    eventually(lambda: adapter.supervisor.connected.is_set(), "the adapter to connect")
    jellyfin.drop_sockets(refuse=True)
    eventually(lambda: not adapter.supervisor.connected.is_set(), "the drop to be noticed")
    adapter.stop()  # while polling and backing off
    assert not adapter.supervisor._thread.is_alive()


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
    many = MEMORY_LIMIT + 50
    unknown = [{"Id": f"s{i}", "UserName": "alice", "PlayState": {},
                "NowPlayingItem": {"Id": f"{i:032x}", "Type": "Movie", "Name": f"clip {i}", "ProviderIds": {}}}
               for i in range(many)]
    adapter._handle(SESSIONS, (unknown, time.time()))  # handed to the worker's handler as the listener queues it
    assert len(adapter._told) <= MEMORY_LIMIT


def engine_position(bridge, session: str) -> float | None:
    held = bridge.engine.sessions.get(("jellyfin", "home", session))
    return held.event.position if held is not None else None
