"""The Jellyfin adapter against the Jellyfin stand-in and the Simkl emulator, through a real Bridge.

Intervals are shortened through the adapter's constructor (keep-alive 0.2 s, poll 0.2 s, and a
0.8 s watchdog for the silent-socket test) so that reconnects and dead sockets are seen within a second.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
import requests

from bridge.adapters.base import Backoff
from bridge.adapters.jellyfin import JellyfinAdapter
from bridge.config import JellyfinServer
from bridge.events import Ids, Kind, Resume
from tests.conftest import SECRET, watches
from tests.jellyfin_standin import ALICE, API_KEY, BOB, TICKS, JellyfinStandIn

LOG = "bridge.adapters.jellyfin"


@pytest.fixture
def jellyfin():
    with JellyfinStandIn() as jf:
        jf.matrix = jf.add_movie("The Matrix", {"Tmdb": "603", "Imdb": "tt0133093"}, minutes=136, year=1999)
        jf.bb = jf.add_series("Breaking Bad", {"Tvdb": "81189", "Tmdb": "1396", "Imdb": "tt0903747"})
        jf.bb_s1e2 = jf.add_episode(jf.bb, 1, 2, {"Tvdb": "349239"}, minutes=47)
        yield jf


@pytest.fixture(autouse=True)
def no_post_pacing_check(emulator):
    """The client paces POSTs from when it sends, the emulator checks from when it receives: on a busy
    machine the two disagree by a few ms and a 429 costs a 4 s retry. Pacing is tested elsewhere."""
    emulator.post_interval = 0.0


def sent(emulator, path: str) -> list[dict]:
    """The bodies of the successful POSTs to `path`."""
    return [r["body"] for r in emulator.requests if r["method"] == "POST" and r["path"] == path and r["status"] < 300]


def adapter_for(jf: JellyfinStandIn, name: str = "home", watchdog: float = 2.0, **settings) -> JellyfinAdapter:
    """Short intervals; the watchdog is generous unless a test is about it, so that a busy CI machine
    stalling a thread for a moment does not count as a dead socket."""
    server = JellyfinServer(name=name, url=jf.url, api_key=API_KEY, **settings)
    return JellyfinAdapter(server, poll_interval=0.2, keepalive=0.2, watchdog=watchdog, backoff=Backoff(0.05, 0.2),
                           timeout=2.0)


@pytest.fixture
def running(jellyfin, bridge_for):
    """A started bridge whose one adapter is connected to the stand-in (and subscribed)."""
    def make(jf: JellyfinStandIn = jellyfin, watchdog: float = 2.0, **settings):
        adapter = adapter_for(jf, watchdog=watchdog, **settings)
        bridge = bridge_for(adapters=[adapter])
        bridge.start(reconcile=False)
        eventually(lambda: adapter.supervisor.connected.is_set() and jf.subscribers, "the adapter to subscribe")
        return bridge, adapter
    return make


def eventually(probe, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def playbacks(emulator, user: str = "alice") -> list:
    return emulator.state()["users"].get(user, {}).get("playbacks", [])


def settle(bridge, seconds: float = 0.4) -> None:
    """Let pushes arrive, then wait for the sender to drain what they queued."""
    time.sleep(seconds)
    eventually(lambda: bridge.outbox.pending() == 0, "the outbox to drain")


def minutes(m: float) -> float:
    return m * 60


# -- what gets sent --------------------------------------------------------------------------------


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
    (post,) = sent(emulator, "/sync/history")
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
    (post,) = sent(emulator, "/sync/history")
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


# -- connection trouble ------------------------------------------------------------------------------


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


# -- webhooks ------------------------------------------------------------------------------------------


def webhook_body(jf: JellyfinStandIn, kind: str, item_id: str, seconds: float, **extra) -> dict:
    item = jf.items[item_id]
    body = {"NotificationType": kind, "ServerName": "standin", "ItemId": item_id, "ItemType": item["Type"],
            "Name": item["Name"], "Year": item.get("ProductionYear"), "RunTimeTicks": item["RunTimeTicks"],
            "PlaybackPositionTicks": int(seconds * TICKS), "IsPaused": False, "NotificationUsername": "alice",
            "UserId": ALICE, "DeviceId": "device-s1", "DeviceName": "Firefox", "ClientName": "Jellyfin Web"}
    body.update({f"Provider_{k.lower()}": v for k, v in item["ProviderIds"].items()})
    body.update(extra)
    return body


def post(bridge, body, path: str = "/jellyfin", secret: str | None = SECRET, raw: bytes | None = None):
    headers = {"Content-Type": "text/plain"} | ({"X-Bridge-Secret": secret} if secret else {})
    return requests.post(bridge.http.url + path, data=raw if raw is not None else json.dumps(body),
                         headers=headers, timeout=5)


def test_webhook_and_websocket_for_one_play_count_once(jellyfin, running, emulator) -> None:
    bridge, _ = running(webhooks=True)
    assert post(bridge, webhook_body(jellyfin, "PlaybackStart", jellyfin.matrix, 60)).status_code == 202
    jellyfin.play("s1", ALICE, jellyfin.matrix, 60)
    jellyfin.progress("s1", minutes(130))
    jellyfin.stop("s1")
    eventually(lambda: watches(emulator), "the socket's mark")
    time.sleep(1.1)  # a later second: a different watched_at, so the outbox's own dedupe cannot hide a repeat
    stop = webhook_body(jellyfin, "PlaybackStop", jellyfin.matrix, minutes(130), PlayedToCompletion=True)
    assert post(bridge, stop).status_code == 202
    eventually(lambda: watches(emulator), "the history entry")
    settle(bridge)
    assert len(watches(emulator)) == 1
    assert len(sent(emulator, "/scrobble/start")) == 1
    assert len(sent(emulator, "/sync/history")) == 1


def test_a_webhook_episode_is_the_same_item_as_on_the_socket(jellyfin, running, emulator) -> None:
    bridge, _ = running(webhooks=True)
    body = webhook_body(jellyfin, "PlaybackStop", jellyfin.bb_s1e2, minutes(46), PlayedToCompletion=True,
                        SeriesId=jellyfin.bb, SeriesName="Breaking Bad", SeasonNumber=1, EpisodeNumber=2)
    assert post(bridge, body, path="/jellyfin/home").status_code == 202
    (watch,) = eventually(lambda: watches(emulator), "the webhook's episode")
    (body,) = sent(emulator, "/sync/history")
    assert body["shows"][0]["ids"]["tvdb"] == 81189 and watch["number"] == 2


def test_a_hand_mark_seen_on_the_socket_and_by_webhook_counts_once(jellyfin, running, emulator) -> None:
    bridge, _ = running(webhooks=True)
    jellyfin.mark_played(ALICE, jellyfin.matrix)
    eventually(lambda: watches(emulator), "the socket's mark")
    time.sleep(1.1)  # a later second: a different watched_at, so the outbox's own dedupe cannot hide a repeat
    toggled = webhook_body(jellyfin, "UserDataSaved", jellyfin.matrix, 0, SaveReason="TogglePlayed", Played=True)
    assert post(bridge, toggled).status_code == 202
    settle(bridge)
    assert len(sent(emulator, "/sync/history")) == 1


def test_webhooks_need_the_secret_and_garbage_is_refused(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO)
    bridge, _ = running(webhooks=True)
    good = webhook_body(jellyfin, "PlaybackStop", jellyfin.matrix, minutes(130), PlayedToCompletion=True)
    assert post(bridge, good, secret=None).status_code == 403
    assert post(bridge, good, secret="wrong-secret-wrong-secret").status_code == 403
    reply = post(bridge, None, raw=b'{"NotificationType": "PlaybackStop", "ItemId": ')
    assert reply.status_code == 400 and "not JSON" in reply.json()["error"]
    reply = post(bridge, dict(good, NotificationUsername="", Username=""))
    assert reply.status_code == 400 and "NotificationUsername" in reply.json()["error"]
    assert post(bridge, {"NotificationType": "ItemAdded", "ItemId": jellyfin.matrix}).status_code == 200
    settle(bridge)
    assert bridge.outbox.counts() == {} and watches(emulator) == []
    assert any("not JSON" in r.getMessage() for r in caplog.records if r.name == "bridge.http")
    assert post(bridge, good, path=f"/{SECRET}/jellyfin", secret=None).status_code == 202


# -- resume points -------------------------------------------------------------------------------------


def test_simkls_newer_pause_becomes_the_jellyfin_resume_point(jellyfin, bridge_for) -> None:
    adapter = adapter_for(jellyfin, user="alice")
    now = time.time()
    older = Resume(account="alice", kind=Kind.MOVIE, ids=Ids(tmdb=603), progress=40.0, paused_at=now - 60, title="The Matrix")
    episode = Resume(account="alice", kind=Kind.EPISODE, ids=Ids(tvdb=81189), progress=50.0, paused_at=now - 60,
                     season=1, episode=2)
    assert adapter.apply_resume([older, episode]) == 2
    data = jellyfin.data(ALICE, jellyfin.matrix)
    assert data["PlaybackPositionTicks"] == int(0.4 * jellyfin.items[jellyfin.matrix]["RunTimeTicks"])
    assert jellyfin.data(ALICE, jellyfin.bb_s1e2)["PlaybackPositionTicks"] == int(0.5 * 47 * 60 * TICKS)
    # Played in Jellyfin since: Jellyfin's own state is newer and stays.
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.stop("s1")
    assert adapter.apply_resume([older]) == 0
    assert jellyfin.data(ALICE, jellyfin.matrix)["PlaybackPositionTicks"] == int(minutes(100) * TICKS)
    # Pushing the same pause again changes nothing either (its date is now Jellyfin's).
    assert adapter.apply_resume([episode]) == 0


def test_without_a_configured_user_nothing_is_pushed(jellyfin) -> None:
    adapter = adapter_for(jellyfin)
    r = Resume(account="alice", kind=Kind.MOVIE, ids=Ids(tmdb=603), progress=40.0, paused_at=time.time())
    assert adapter.apply_resume([r]) == 0
    assert not any(req.method == "POST" for req in jellyfin.server.requests)
