"""The Plex alert socket: pings and the watchdog against a stand-in that goes silent, a refused
socket, and notifications that are not what Plex sends; `playing` alerts read as session reports."""

from __future__ import annotations

import logging

from bridge.adapters.plex.alerts import Report, playing
from bridge.events import State
from tests.adapters.plex.helpers import MATRIX_MS, begin, progress
from tests.adapters.plex.standin import TOKEN
from tests.conftest import eventually, watches


def test_a_silent_socket_is_caught_by_the_watchdog_and_reconnected(plex, running, emulator, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    _, adapter = running()
    begin(plex, adapter, "15", "100", offset=1_000)
    plex.freeze()  # open, but neither messages nor pongs any more
    eventually(lambda: any("no message or pong" in r.getMessage() for r in caplog.records), "the watchdog")
    plex.wait_connected()
    progress(plex, adapter, "15", 600_000)
    plex.alert("15", "stopped", MATRIX_MS)
    eventually(lambda: watches(emulator), "the history entry after reconnecting")


def test_odd_alerts_are_logged_and_the_listener_keeps_running(plex, running, emulator, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    _, adapter = running()
    plex.broadcast("not json")
    plex.broadcast({"NotificationContainer": {"type": "playing", "PlaySessionStateNotification": {"a": 1}}})
    plex.broadcast({"NotificationContainer": {"type": "playing", "PlaySessionStateNotification": [
        {"sessionKey": "1", "ratingKey": "100", "viewOffset": "soon", "state": "playing"}]}})
    plex.broadcast({"NotificationContainer": {"type": "timeline", "TimelineEntry": []}})
    def ignored() -> list[str]:
        return [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]

    eventually(lambda: len(ignored()) >= 3, "three log lines")
    lines = ignored()
    assert "not JSON" in lines[0] and "not a list" in lines[1] and "viewOffset 'soon'" in lines[2]
    assert len(lines) == 3  # the timeline notification is not an error
    begin(plex, adapter, "17", "100")
    plex.alert("17", "stopped", MATRIX_MS)
    eventually(lambda: watches(emulator), "a good play after the garbage")


def test_a_refused_notifications_socket_is_one_log_line_without_the_token(plex, running, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    del plex.ws_routes["/:/websockets/notifications"]
    plex.route("GET", r"/:/websockets/notifications", lambda req: (401, "<html>\n<title>Unauthorized</title>\n</html>"))
    running(connect=False)
    (line,) = eventually(lambda: [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()],
                         "the disconnect line")
    assert "401" in line and "\n" not in line
    assert not any(TOKEN in r.getMessage() for r in caplog.records)


def entry(**kw) -> dict:
    return {"sessionKey": "7", "ratingKey": "100", "viewOffset": 61_500, "state": "playing", **kw}


def test_a_playing_alert_reports_each_session_in_seconds() -> None:
    container = {"type": "playing", "PlaySessionStateNotification": [
        entry(), entry(sessionKey=8, ratingKey=200, state="paused", viewOffset=0)]}
    assert playing(container) == ([Report("7", "100", State.PLAYING, 61.5), Report("8", "200", State.PAUSED, 0.0)], [])


def test_buffering_and_other_notifications_report_nothing() -> None:
    assert playing({"type": "playing", "PlaySessionStateNotification": [entry(state="buffering")]}) == ([], [])
    assert playing({"type": "timeline", "TimelineEntry": [entry()]}) == ([], [])


def test_unusable_entries_are_named_and_the_others_kept() -> None:
    container = {"type": "playing", "PlaySessionStateNotification": [
        entry(viewOffset=float("nan")), entry(sessionKey=True), entry(ratingKey=""), "junk", entry(state=3), entry()]}
    reports, problems = playing(container)
    assert reports == [Report("7", "100", State.PLAYING, 61.5)]
    assert problems == ["viewOffset nan is not milliseconds", "sessionKey True is not a key", "ratingKey '' is not a key",
                        "entry is a str, not an object", "state 3 is not a string"]
