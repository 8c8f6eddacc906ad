"""The Jellyfin adapter's live side at its edges: autoplay, shared items, silent positions, unmapped
users, odd servers, and how much it remembers. Stand-in + emulator + a real Bridge, as in test_jellyfin."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from bridge.adapters import jellyfin_api
from bridge.adapters.jellyfin_api import CACHE_LIMIT, USER_RETRY, JellyfinError
from tests.conftest import eventually, watches
from tests.jellyfin_helpers import (  # noqa: F401 - fixtures
    adapter_for, jellyfin, minutes, playbacks, post, running, sent, settle, webhook_body,
)
from tests.jellyfin_standin import ALICE, API_KEY, BOB

LOG = "bridge.adapters.jellyfin"
CAROL = "ca401000000000000000000000000003"


def test_autoplay_with_a_late_played_flag_leaves_the_next_episode_alone(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    e3 = jellyfin.add_episode(jellyfin.bb, 1, 3, {"Tvdb": "349240"}, minutes=47)
    jellyfin.play("s1", ALICE, jellyfin.bb_s1e2, minutes(30))
    jellyfin.progress("s1", minutes(46))
    # The player moves on to episode 3 in the same session; episode 2's Played flag comes after.
    jellyfin.play("s1", ALICE, e3, 5, played_after=0.3)
    jellyfin.progress("s1", 40)
    jellyfin.progress("s1", 80)
    eventually(lambda: watches(emulator), "episode 2's history entry")
    settle(bridge)
    assert [w["number"] for w in watches(emulator)] == [2]
    # The late flag neither restarts nor pauses episode 3.
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
    eventually(lambda: bridge.outbox.due("bob", time.time() + 1, kind="pause"), "bob's pause to be queued")
    time.sleep(0.3)
    assert len(sent(emulator, "/sync/history")) == 1
    assert bridge.outbox.due("bob", time.time() + 1, kind="history") == []


def test_a_session_that_stops_reporting_its_position_is_closed_at_the_last_one(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.progress("s1", minutes(125))  # 92%
    with jellyfin._lock:  # some clients report a PlayState without PositionTicks
        del jellyfin.sessions["s1"]["PlayState"]["PositionTicks"]
    jellyfin.push()
    jellyfin.stop("s1")  # Jellyfin saw no position either: no Played flag to help
    (watch,) = eventually(lambda: watches(emulator), "the mark from the last known position")
    assert watch["title"] == "The Matrix"


def test_an_episode_whose_series_is_gone_is_looked_up_once(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    orphan = jellyfin.add_episode(jellyfin.bb, 1, 3, {"Tvdb": "349240"}, minutes=47)
    jellyfin.items[orphan]["SeriesId"] = "d" * 32  # a series Jellyfin no longer has
    for seconds in (60, 70, 80, 90):
        jellyfin.play("s1", ALICE, orphan, seconds)
    jellyfin.stop("s1")
    settle(bridge)
    assert sum(r.path == "/Items" and r.query.get("Ids") == "d" * 32 for r in jellyfin.server.requests) == 1


def test_a_session_first_seen_without_a_position_writes_no_pause_at_zero(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(61), paused=True, push=False)
    with jellyfin._lock:
        del jellyfin.sessions["s1"]["PlayState"]["PositionTicks"]
    jellyfin.push()
    time.sleep(0.3)
    jellyfin.resume("s1", minutes(61.2))  # the client's first report with a position
    eventually(lambda: sent(emulator, "/scrobble/start"), "the start, once the position is known")
    settle(bridge)
    assert sent(emulator, "/scrobble/pause") == []
    assert [round(s["progress"]) for s in sent(emulator, "/scrobble/start")] == [45]


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


def test_what_the_adapter_remembers_per_item_is_bounded(jellyfin) -> None:
    adapter = adapter_for(jellyfin)
    adapter.users.names = {ALICE: "alice"}
    many = CACHE_LIMIT + 50
    for i in range(many):
        entry = {"ItemId": f"{i:032x}", "Played": False, "PlaybackPositionTicks": 10}
        adapter._on_message(json.dumps({"MessageType": "UserDataChanged",
                                        "Data": {"UserId": ALICE, "UserDataList": [entry]}}))
    unknown = [{"Id": f"s{i}", "UserName": "alice", "PlayState": {},
                "NowPlayingItem": {"Id": f"{i:032x}", "Type": "Movie", "Name": f"clip {i}", "ProviderIds": {}}}
               for i in range(many)]
    adapter._on_message(json.dumps({"MessageType": "Sessions", "Data": unknown}))
    assert len(adapter._played) <= CACHE_LIMIT and len(adapter._skipped) <= CACHE_LIMIT


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


def test_a_user_created_after_the_bridge_connected_is_learned(jellyfin, running) -> None:
    del jellyfin.users[BOB]
    bridge, adapter = running()
    jellyfin.users[BOB] = "bob"  # created in Jellyfin later on,
    adapter.users._fetched_at -= USER_RETRY  # after the bridge's last look at the user list
    jellyfin.mark_played(BOB, jellyfin.matrix)
    # bob is not logged in to Simkl: his mark waits in the outbox under his account, not as an unknown id.
    eventually(lambda: bridge.outbox.pending("bob") == 1, "bob's hand mark to be queued")


def test_a_configured_user_the_server_does_not_know_is_not_looked_up_per_webhook(jellyfin, running, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, adapter = running(webhooks=True, user="carol")
    lookups = sum(r.path == "/Users" for r in jellyfin.server.requests)
    for seconds in (60, 70, 80):
        alices = webhook_body(jellyfin, "PlaybackProgress", jellyfin.matrix, seconds)
        assert post(bridge, alices).json()["accepted"] is False
    assert sum(r.path == "/Users" for r in jellyfin.server.requests) == lookups
    adapter.users._fetched_at -= USER_RETRY  # a minute on, still unknown: looked up again, said once
    assert post(bridge, webhook_body(jellyfin, "PlaybackProgress", jellyfin.matrix, 90)).json()["accepted"] is False
    assert sum(r.path == "/Users" for r in jellyfin.server.requests) == lookups + 1
    assert sum("'carol' is not a user" in r.getMessage() for r in caplog.records) == 1


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


def test_an_id_from_a_message_is_one_path_segment(jellyfin) -> None:
    adapter = adapter_for(jellyfin, exclude_libraries=("Kids",))
    for odd in ("../../Users", "x/Ancestors?api_key=1#"):
        try:
            adapter.api.library(odd)
        except JellyfinError:
            pass
    assert not any(r.path in ("/Users", "/Items/x/Ancestors") for r in jellyfin.server.requests)


def test_memories_shared_by_webhook_threads_and_the_listener_stay_whole(monkeypatch) -> None:
    monkeypatch.setattr(jellyfin_api, "CACHE_LIMIT", 50)
    memory: dict = {}
    errors: list = []

    def fill(n: int) -> None:
        try:
            for i in range(20_000):
                jellyfin_api.remember(memory, (n, i), None)
        except Exception as exc:  # the race shows as a KeyError or "changed size during iteration"
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and len(memory) == 50
