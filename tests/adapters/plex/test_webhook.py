"""The Plex webhook route: real multipart bodies posted to the bridge's HTTP endpoint, alone and
together with the alerts of the same play."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import tracemalloc

import pytest

from bridge.adapters.plex.webhook import multipart_field
from bridge.http import HttpError, HttpServer
from tests.adapters.plex.helpers import (
    BENIHANA_MS,
    adapter_for,
    begin,
    multipart,
    office_season_3,
    plex_metadata_reads,
    post,
    post_to,
    settled,
    webhook_payload,
)
from tests.adapters.plex.standin import TOKEN, PlexStandIn
from tests.conftest import SECRET, eventually, watches


@pytest.mark.slow
def test_the_same_play_by_alerts_and_webhook_is_counted_once(plex, running, emulator) -> None:
    bridge, adapter = running(starts=True)
    thumb = bytes(range(256)) * 400  # ~100 KB of JPEG-ish bytes, as Plex attaches
    begin(plex, adapter, "20", "503", offset=0)
    assert post(bridge, *multipart(webhook_payload(plex, "media.play", "503"), thumb)).status_code == 202
    plex.alert("20", "playing", 600_000)
    # Sent before the stop: the stop's history write drops a start still waiting in the outbox.
    eventually(lambda: any(r["path"] == "/scrobble/start" and r["status"] < 300 for r in emulator.requests), "the start")
    plex.alert("20", "stopped", 1_300_000)
    assert post(bridge, *multipart(webhook_payload(plex, "media.scrobble", "503", 1_200_000), thumb)).status_code == 202
    assert post(bridge, *multipart(webhook_payload(plex, "media.stop", "503", 1_300_000), thumb)).status_code == 202
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert (watch["title"], watch["season"], watch["number"]) == ("The Office", 1, 3)
    eventually(lambda: settled(bridge), "the outbox to drain")
    time.sleep(0.3)
    assert len(watches(emulator)) == 1
    assert sum(1 for r in emulator.requests if r["path"] == "/scrobble/start" and r["status"] < 300) == 1
    assert plex_metadata_reads(plex, "500") == 1  # the show, read once for alerts and webhooks alike


def test_webhooks_alone_come_from_the_config(plex, bridge_for, emulator) -> None:
    bridge = bridge_for(f"plex: [{{name: home, url: '{plex.url}', token: {TOKEN}, alerts: false, webhooks: true}}]",
                        adapters=None)
    bridge.start(reconcile=False)
    assert post(bridge, *multipart(webhook_payload(plex, "media.scrobble", "202", 2_600_000))).status_code == 202
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert (watch["title"], watch["season"], watch["number"]) == ("Breaking Bad", 1, 2)
    assert not any(r.path == "/status/sessions" for r in plex.requests)  # alerts off: nothing polled


def test_a_webhook_is_answered_without_waiting_for_simkl(plex, running, emulator, monkeypatch) -> None:
    bridge, _ = running(alerts=False)
    # Plex does not retry: its post must not wait on Simkl. Every Simkl call now waits on `release`.
    release, reached = threading.Event(), threading.Event()
    take_fault = emulator.take_fault
    monkeypatch.setattr(emulator, "take_fault", lambda path: (reached.set(), release.wait(), take_fault(path))[2])
    try:
        reply = post(bridge, *multipart(webhook_payload(plex, "media.scrobble", "202", 2_600_000)))
        assert reply.status_code == 202 and not release.is_set()  # answered while Simkl is held
        eventually(reached.is_set, "the mark to be on its way to Simkl")
    finally:
        release.set()
    eventually(lambda: watches(emulator), "the mark once Simkl answers")


def test_a_webhook_for_a_multi_episode_file_marks_every_episode_in_it(plex, running, emulator) -> None:
    office_season_3(plex)
    bridge, _ = running(alerts=False)
    # Plex's webhook Metadata has no Media: the played file is found on its own entry of the season.
    reply = post(bridge, *multipart(webhook_payload(plex, "media.scrobble", "541", int(BENIHANA_MS * 0.9))))
    assert reply.status_code == 202
    eventually(lambda: len(watches(emulator)) == 2, "both episodes of the file in the history")
    eventually(lambda: settled(bridge), "the outbox to drain")
    assert sorted((w["season"], w["number"]) for w in watches(emulator)) == [(3, 10), (3, 11)]


def test_webhooks_need_the_secret(plex, running) -> None:
    bridge, _ = running(alerts=False)
    body, ctype = multipart(webhook_payload(plex, "media.play", "100"))
    assert post(bridge, body, ctype, secret=None).status_code == 403
    assert post(bridge, body, ctype, secret="wrong-secret-0123456789").status_code == 403
    assert bridge.outbox.counts() == {}


def test_webhooks_that_are_not_plays_or_excluded_are_accepted_and_ignored(plex, running) -> None:
    bridge, _ = running(alerts=False)
    for event, key in (("library.new", "100"), ("media.rate", "100"), ("media.play", "400")):
        reply = post(bridge, *multipart(webhook_payload(plex, event, key)))
        assert reply.status_code == 200, reply.text
    assert bridge.outbox.counts() == {}


def test_several_servers_share_one_webhook_route_by_server_identity(plex) -> None:
    cabin = PlexStandIn(machine_id="f" * 40)
    cabin.items = plex.items
    cabin.start()
    http = HttpServer(secret=SECRET)
    got: dict[str, list] = {"home": [], "cabin": []}
    try:
        for name, standin in (("home", plex), ("cabin", cabin)):
            adapter = adapter_for(standin, name=name, alerts=False)
            adapter.register_routes(http, got[name].append)
        http.start()
        payload = webhook_payload(plex, "media.play", "100")
        payload["Server"] = {"title": "Cabin PMS", "uuid": "f" * 40}
        assert post_to(http.url, *multipart(payload)).status_code == 202
        payload["Server"] = {"title": "somewhere", "uuid": "0" * 40}
        assert post_to(http.url, *multipart(payload)).status_code == 400  # no such server: nothing sent
    finally:
        http.stop()
        cabin.stop()
    assert [e.server for e in got["cabin"]] == ["cabin"] and got["home"] == []


GARBAGE = [
    (b"", "multipart/form-data; boundary=x"),
    (b"hello", "text/plain"),
    (b'{"event": "media.play"}', "application/json"),
    (b"--x\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{\"event\": \"media.pla", "multipart/form-data; boundary=x"),
    (b"--x\r\nContent-Disposition: form-data; name=\"thumb\"\r\n\r\nJPEG\r\n--x--\r\n", "multipart/form-data; boundary=x"),
    (b"--x\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\nnot json\r\n--x--\r\n", "multipart/form-data; boundary=x"),
    (b"--x\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n[1, 2]\r\n--x--\r\n", "multipart/form-data; boundary=x"),
    (b"--x\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{\"event\": \"media.play\"}\r\n--x--\r\n",
     "multipart/form-data; boundary=x"),
    (b"payload=%7Bnope", "application/x-www-form-urlencoded"),
    (b"no boundary here", "multipart/form-data"),
]


@pytest.mark.parametrize("body,ctype", GARBAGE)
def test_garbage_webhooks_get_400_a_log_line_and_queue_nothing(plex, running, caplog, body, ctype) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.http")
    bridge, _ = running(alerts=False)
    reply = post(bridge, body, ctype)
    assert reply.status_code == 400 and reply.json()["error"]
    (line,) = [r.getMessage() for r in caplog.records]
    assert "/plex" in line and reply.json()["error"] in line and SECRET not in line
    assert bridge.outbox.counts() == {}
    good = post(bridge, *multipart(webhook_payload(plex, "media.play", "100")))
    assert good.status_code == 202  # the endpoint is still fine


class Generated(io.RawIOBase):
    """A body produced on the fly, so the test itself does not hold it in memory."""

    def __init__(self, head: bytes, size: int, tail: bytes):
        self.parts, self.size, self.sent = [head], size, 0
        self.tail = tail

    def read(self, n: int = -1) -> bytes:
        if self.parts:
            return self.parts.pop()
        if self.sent < self.size:
            chunk = b"\xff" * min(n, self.size - self.sent)
            self.sent += len(chunk)
            return chunk
        tail, self.tail = self.tail, b""
        return tail


def test_a_large_thumbnail_streams_past_without_being_held() -> None:
    payload = json.dumps({"event": "media.play"}).encode()
    head = (b"--B\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n" + payload +
            b"\r\n--B\r\nContent-Disposition: form-data; name=\"thumb\"; filename=\"t.jpg\"\r\n\r\n")
    size = 20 * 1024 * 1024
    tail = b"\r\n--B--\r\n"
    tracemalloc.start()
    try:
        got = multipart_field(Generated(head, size, tail), len(head) + size + len(tail), b"B", b"payload")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == payload
    assert peak < 1024 * 1024  # a 20 MB part passed through well under 1 MB


def test_a_payload_over_the_limit_is_refused() -> None:
    body, _ = multipart(b"x" * 5000)
    with pytest.raises(HttpError) as err:
        multipart_field(io.BytesIO(body), len(body), body[2:34], b"payload", limit=1000)
    assert err.value.status == 413

