"""`/healthz` and `/metrics` on the bridge's endpoint, against the emulator."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import requests
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bridge.daemon import Bridge
from bridge.events import State
from bridge.simkl.auth import TokenStore
from bridge.web.metrics import Metrics
from bridge.web.report import health
from tests.conftest import SECRET, TOKEN, config_for, eventually, watches
from tests.test_daemon import MATRIX, at

T = 1_700_000_000.0


class Server:
    """A media server's adapter as the bridge sees it: a live connection that is up or down."""

    def __init__(self, name: str, up: bool = True):
        self.name = name
        self.supervisor = SimpleNamespace(connected=threading.Event(), disconnects=0)
        if up:
            self.supervisor.connected.set()

    def register_routes(self, http, sink) -> None:
        pass

    def start(self, sink) -> None:
        pass

    def stop(self) -> None:
        pass

    def resume_owner(self):
        return None

    def apply_resume(self, resumes) -> int:
        return 0


def healthz(bridge) -> tuple[int, dict]:
    reply = requests.get(f"{bridge.http.url}/healthz", timeout=5)
    return reply.status_code, reply.json()


def test_healthy_until_a_server_drops_and_simkl_refuses_a_token(emulator, bridge_for) -> None:
    emulator.add_token("bob-token-0123456789", "bob")
    server = Server("kodi/living-room")
    bridge = bridge_for(adapters=[server])
    TokenStore(bridge.config.state_dir).put("bob", "bob-token-0123456789")
    bridge.http.start()  # the endpoint alone: the test flushes by itself
    assert healthz(bridge) == (200, {"status": "ok"})
    server.supervisor.connected.clear()
    emulator.revoke("bob-token-0123456789")
    bridge.sink(at(MATRIX, State.STOPPED, 100, T, user="bob"))
    bridge.flush()
    status, body = healthz(bridge)
    assert status == 503 and body["reasons"] == [
        "kodi/living-room is not connected",
        "account bob: Simkl rejected its token: run `simkl-bridge login --account bob`"]


def test_an_account_without_a_token_and_simkl_down_are_reasons(emulator, bridge_for) -> None:
    bridge = bridge_for()  # bob never logged in
    bridge.http.start()
    emulator.fault("down")
    bridge.sink(at(MATRIX, State.STOPPED, 100, T))
    bridge.flush()
    status, body = healthz(bridge)
    assert status == 503
    simkl, bob = body["reasons"]
    assert bob == "account bob is not logged in: run `simkl-bridge login --account bob`"
    assert simkl.startswith("Simkl is not reachable for account alice (POST /sync/history: ConnectionError); next try in ")


def test_a_write_waiting_past_the_threshold_is_a_reason(emulator, bridge_for) -> None:
    now = [T + 86400]
    bridge = bridge_for("", clock=lambda: now[0])
    # a play of yesterday that a player kept on disk and hands over now: not flushed, it waits
    bridge.sink(at(MATRIX, State.STOPPED, 100, T))
    assert [r for r in health(bridge) if "oldest pending" in r] == []
    now[0] += 3599
    assert [r for r in health(bridge) if "oldest pending" in r] == []
    now[0] += 2
    (reason,) = [r for r in health(bridge) if "oldest pending" in r]
    assert reason == ("the oldest pending write (alice: The Matrix watched) has waited 60 min, "
                      "over http.max_pending_age (60 min)")


def metrics(bridge) -> dict[tuple[str, tuple], float]:
    text = requests.get(f"{bridge.http.url}/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_events_writes_requests_and_read_the_outbox(emulator, tmp_path) -> None:
    """The bridge with its own Simkl clients, as the daemon runs it: their requests are timed."""
    config = config_for(emulator, tmp_path)
    TokenStore(config.state_dir).put("alice", TOKEN)
    server = Server("plex/home")
    bridge = Bridge(config, adapters=[server])
    try:
        bridge.start(reconcile=False)
        url = f"{bridge.http.url}/{SECRET}/event"
        for tmdb, title in ((603, "The Matrix"), (27205, "Inception")):
            event = {"kind": "movie", "state": "stopped", "ids": {"tmdb": tmdb}, "title": title, "user": "alice",
                     "position": 95, "duration": 100, "source": "kodi", "session": str(tmdb)}
            assert requests.post(url, json=event, timeout=5).status_code == 202
        eventually(lambda: len(watches(emulator)) == 2, "both watches on Simkl")
        server.supervisor.disconnects = 3
        server.supervisor.connected.clear()
        m = eventually(lambda: (m := metrics(bridge))[("simkl_bridge_writes_total", (("result", "sent"),))] == 2 and m,
                       "the sender to count both writes sent")
    finally:
        bridge.stop()
    assert m[("simkl_bridge_events_total", (("kind", "movie"), ("source", "kodi"), ("state", "stopped")))] == 2
    assert m[("simkl_bridge_outbox_writes", (("account", "alice"), ("state", "sent")))] == 2
    assert m[("simkl_bridge_outbox_writes", (("account", "alice"), ("state", "pending")))] == 0
    assert m[("simkl_bridge_outbox_oldest_pending_age_seconds", ())] == 0
    assert m[("simkl_bridge_server_connected", (("server", "plex/home"),))] == 0
    assert m[("simkl_bridge_server_reconnects_total", (("server", "plex/home"),))] == 3
    assert m[("simkl_bridge_account_blocked", (("account", "alice"),))] == 0
    posts = m[("simkl_bridge_simkl_request_seconds_count", (("endpoint", "/sync/history"), ("method", "POST"),
                                                              ("status", "201")))]
    assert posts >= 1


def test_metrics_name_no_request_ids(emulator, bridge_for) -> None:
    m = Metrics(bridge_for())
    m.simkl_reply("DELETE", "/sync/playback/123456", 204, 0.1)
    m.simkl_reply("GET", "/oauth/pin/AB12CD", None, 5.0)
    text = m.render()[0].decode()
    assert 'endpoint="/sync/playback/{id}"' in text and 'endpoint="/oauth/pin/{id}",method="GET",status="no reply"' in text
    assert "123456" not in text and "AB12CD" not in text


def test_healthz_and_metrics_need_no_secret_and_the_rest_still_does(emulator, bridge_for) -> None:
    bridge = bridge_for()
    bridge.http.start()
    assert requests.get(f"{bridge.http.url}/status", timeout=5).status_code == 403
    assert requests.get(f"{bridge.http.url}/metrics", timeout=5).status_code == 200
    assert requests.get(f"{bridge.http.url}/healthz", timeout=5).status_code == 503  # bob is not logged in


def test_each_page_says_its_own_content_type_once(emulator, bridge_for) -> None:
    bridge = bridge_for()
    bridge.http.start()
    for path, expected in (("/", "text/html; charset=utf-8"), ("/metrics", CONTENT_TYPE_LATEST),
                           ("/healthz", "application/json")):
        reply = requests.get(bridge.http.url + path, timeout=5)
        assert reply.raw.headers.getlist("Content-Type") == [expected], path
