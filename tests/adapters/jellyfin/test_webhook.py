"""The Jellyfin webhook plugin's route, against the stand-in and the emulator through a real Bridge."""

from __future__ import annotations

import logging
import time

from tests.adapters.jellyfin.helpers import (  # noqa: F401 - fixtures
    adapter_for,
    jellyfin,
    minutes,
    post,
    running,
    seen,
    sent,
    settle,
    webhook_body,
)
from tests.adapters.jellyfin.standin import ALICE, BOB
from tests.conftest import SECRET, eventually, watches


def test_webhook_and_websocket_for_one_play_count_once(jellyfin, running, emulator) -> None:
    bridge, _ = running(webhooks=True)
    assert post(bridge, webhook_body(jellyfin, "PlaybackStart", jellyfin.matrix, 60)).status_code == 202
    jellyfin.play("s1", ALICE, jellyfin.matrix, 60)
    # Sent before the stop: the stop's history write drops a start still waiting in the outbox.
    eventually(lambda: sent(emulator, "/scrobble/start"), "the start")
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


def test_all_three_signals_and_a_resumed_tail_are_one_watch(jellyfin, running, emulator) -> None:
    bridge, adapter = running(webhooks=True)
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.progress("s1", minutes(116))  # 85%: past our threshold, short of Jellyfin's 90%
    seen(adapter, "s1", minutes(116))
    jellyfin.stop("s1")
    eventually(lambda: watches(emulator), "the socket's mark")
    time.sleep(1.1)  # each signal in a later second: the outbox's own dedupe cannot hide a repeat
    jellyfin.play("s2", ALICE, jellyfin.matrix, minutes(116))  # the tail, resumed on another device
    jellyfin.progress("s2", minutes(135))
    seen(adapter, "s2", minutes(135))
    jellyfin.stop("s2")  # Jellyfin's Played flag, read at the stop
    eventually(lambda: jellyfin.data(ALICE, jellyfin.matrix)["Played"] and "s2" not in adapter.snapshot, "the stop")
    time.sleep(1.1)
    stop = webhook_body(jellyfin, "PlaybackStop", jellyfin.matrix, minutes(135), PlayedToCompletion=True,
                        DeviceId="device-s2")
    assert post(bridge, stop).status_code == 202
    settle(bridge)
    assert len(sent(emulator, "/sync/history")) == 1


def test_a_webhook_episode_is_the_same_item_as_on_the_socket(jellyfin, running, emulator) -> None:
    bridge, _ = running(webhooks=True)
    body = webhook_body(jellyfin, "PlaybackStop", jellyfin.bb_s1e2, minutes(46), PlayedToCompletion=True,
                        SeriesId=jellyfin.bb, SeriesName="Breaking Bad", SeasonNumber=1, EpisodeNumber=2)
    assert post(bridge, body, path="/jellyfin/home").status_code == 202
    (watch,) = eventually(lambda: watches(emulator), "the webhook's episode")
    (body,) = eventually(lambda: sent(emulator, "/sync/history"), "the history POST in the emulator's log")
    assert body["shows"][0]["ids"]["tvdb"] == 81189 and watch["number"] == 2


def test_with_the_socket_off_only_webhooks_are_heard(jellyfin, bridge_for, emulator) -> None:
    bridge = bridge_for(adapters=[adapter_for(jellyfin, websocket=False, webhooks=True)])
    bridge.start(reconcile=False)
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(131))
    jellyfin.stop("s1")
    time.sleep(0.5)
    assert jellyfin.server.sockets == [] and not any(r.path == "/Sessions" for r in jellyfin.server.requests)
    stop = webhook_body(jellyfin, "PlaybackStop", jellyfin.matrix, minutes(131), PlayedToCompletion=True)
    assert post(bridge, stop).status_code == 202
    (watch,) = eventually(lambda: watches(emulator), "the webhook's mark")
    assert watch["title"] == "The Matrix"


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


def test_a_notification_that_is_not_ours_costs_no_call_to_the_server(jellyfin, running) -> None:
    bridge, _ = running(webhooks=True, user="alice")
    calls = len(jellyfin.server.requests)
    episode = {"SeriesId": jellyfin.bb, "SeriesName": "Breaking Bad", "SeasonNumber": 1, "EpisodeNumber": 2}
    added = webhook_body(jellyfin, "ItemAdded", jellyfin.bb_s1e2, 0, **episode)
    assert post(bridge, added).json()["accepted"] is False
    bobs = webhook_body(jellyfin, "PlaybackProgress", jellyfin.bb_s1e2, 60, NotificationUsername="bob", UserId=BOB,
                        **episode)
    assert post(bridge, bobs).json() == {"accepted": False, "reason": "another user's play"}
    assert [r.path for r in jellyfin.server.requests[calls:]] == []


def test_an_unidentified_item_by_webhook_is_skipped_with_one_log_line(jellyfin, running, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.jellyfin")
    bridge, _ = running(webhooks=True)
    clip = jellyfin.add_movie("holiday-2019.mkv", {}, minutes=20)
    for kind, seconds in [("PlaybackStart", 0), ("PlaybackProgress", 60), ("PlaybackStop", minutes(19))]:
        assert post(bridge, webhook_body(jellyfin, kind, clip, seconds)).json()["accepted"] is False
    settle(bridge)
    lines = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert len(lines) == 1 and "holiday-2019.mkv" in lines[0]
    assert bridge.outbox.counts() == {}


def test_a_webhook_from_an_excluded_library_is_not_sent(jellyfin, running, emulator) -> None:
    """Its library is asked for with the webhook's user (LibraryController.GetAncestors -> TranslateParentItem)."""
    bridge, _ = running(webhooks=True, exclude_libraries=("Kids",))
    cartoon = jellyfin.add_movie("Back to the Future", {"Tmdb": "105"}, library="kids")
    stop = webhook_body(jellyfin, "PlaybackStop", cartoon, minutes(99), PlayedToCompletion=True)
    assert post(bridge, stop).json() == {"accepted": False, "reason": "excluded library"}
    settle(bridge)
    assert bridge.outbox.counts() == {}
