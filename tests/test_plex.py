"""The Plex adapter: the real plexapi client and a websocket against a Plex stand-in, a real Bridge
and the Simkl emulator; webhooks posted as real multipart bodies to the bridge's HTTP endpoint."""

from __future__ import annotations

import io
import json
import logging
import time
import tracemalloc
import uuid

import pytest
import requests

from bridge.adapters.base import Backoff
from bridge.adapters.plex import PlexAdapter
from bridge.adapters.plex_webhook import multipart_field
from bridge.config import PlexServer
from bridge.http import HttpError, HttpServer
from tests.conftest import PACE, SECRET, eventually, make_client, watches
from tests.plex_standin import MACHINE_ID, TOKEN, PlexStandIn

MATRIX_MS = 8_160_000
EPISODE_MS = 2_820_000


@pytest.fixture
def plex():
    standin = PlexStandIn()
    standin.add("100", "movie", "The Matrix", "1", "plex://movie/5d7768313c3c2a001fbcd1f0",
                ("imdb://tt0133093", "tmdb://603"), duration=MATRIX_MS, year=1999)
    standin.add("200", "show", "Breaking Bad", "2", "com.plexapp.agents.thetvdb://81189?lang=en", year=2008)
    standin.add("202", "episode", "Cat's in the Bag...", "2", "com.plexapp.agents.thetvdb://81189/1/2?lang=en",
                duration=EPISODE_MS, parentIndex=1, index=2, grandparentRatingKey="200", grandparentTitle="Breaking Bad")
    standin.add("300", "show", "Cowboy Bebop", "4", "com.plexapp.agents.hama://anidb-23?lang=en")
    standin.add("305", "episode", "Honky Tonk Women", "4", "com.plexapp.agents.hama://anidb-23/1/5?lang=en",
                duration=1_440_000, parentIndex=1, index=5, grandparentRatingKey="300", grandparentTitle="Cowboy Bebop")
    standin.add("400", "movie", "Birthday 2019", "3", "plex://movie/5d776b59ad5437001f79c6f8",
                ("tmdb://105",), duration=3_600_000)
    standin.add("500", "show", "The Office", "2", "plex://show/5d9c086c46115600200aa2fe",
                ("tvdb://73244", "tmdb://2316"))
    standin.add("503", "episode", "Health Care", "2", "plex://episode/5d9c0e13cb3ffa001f1c91a3",
                ("tvdb://300000",), duration=1_320_000, parentIndex=1, index=3, grandparentRatingKey="500",
                grandparentTitle="The Office")
    standin.start()
    yield standin
    standin.stop()


def adapter_for(standin: PlexStandIn, **cfg) -> PlexAdapter:
    settings = {"name": "home", "url": standin.url, "token": TOKEN, "webhooks": True,
                "exclude_libraries": ("Home Videos",), **cfg}
    return PlexAdapter(PlexServer(**settings), backoff=Backoff(0.05, 0.2), poll_interval=0.2,
                       ping_interval=0.25, watchdog=1.0, timeout=2.0)


@pytest.fixture
def running(plex, bridge_for):
    """A started bridge whose only adapter listens to the stand-in (start scrobbles off unless
    `starts=True`)."""
    def make(connect: bool = True, starts: bool = False, **cfg):
        adapter = adapter_for(plex, **cfg)
        # Without start scrobbles most plays make one Simkl POST, which keeps these tests short.
        bridge = bridge_for("" if starts else "engine: {send_start: false}", adapters=[adapter])
        bridge.start(reconcile=False)
        if adapter.cfg.alerts and connect:
            plex.wait_connected()
        return bridge, adapter
    return make


def begin(plex: PlexStandIn, adapter: PlexAdapter, session: str, rating_key: str, **kw) -> None:
    """A client starts playing; wait until the adapter has resolved the session (as it would
    long before Plex's next alert, ~10 s later)."""
    plex.play(session, rating_key, **kw)
    eventually(lambda: session in adapter.plays or session in adapter._skipped, f"session {session} to be resolved")


def progress(plex: PlexStandIn, adapter: PlexAdapter, session: str, offset: int) -> None:
    """Plex's periodic `playing` alert; wait until the adapter has taken it in."""
    plex.alert(session, "playing", offset)
    eventually(lambda: session in adapter.plays and adapter.plays[session].event.position == offset / 1000,
               f"the adapter to see session {session} at {offset} ms")


def playbacks(emulator) -> list:
    return emulator.state()["users"].get("alice", {}).get("playbacks", [])


def settled(bridge) -> bool:
    counts = bridge.outbox.counts().get("alice", {})
    return bool(counts.get("sent")) and counts.get("pending") == 0 and counts.get("parked") == 0


# -- alerts ---------------------------------------------------------------------------------------


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


def plex_metadata_reads(plex: PlexStandIn, key: str) -> int:
    return sum(1 for r in plex.requests if r.path == f"/library/metadata/{key}")


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
    plex.alert("14", "playing", MATRIX_MS // 2 + 10_000)
    plex.stop()
    del plex.sessions["14"]  # the client gave up while the server was away
    time.sleep(0.3)
    plex.start()
    eventually(lambda: playbacks(emulator) and playbacks(emulator)[0]["progress"] > 50.1, "the closing pause")
    assert watches(emulator) == []


def test_a_silent_socket_is_caught_by_the_watchdog_and_reconnected(plex, running, emulator, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    _, adapter = running()
    begin(plex, adapter, "15", "100", offset=1_000)
    plex.freeze()  # open, but neither messages nor pongs any more
    eventually(lambda: any("no message or pong" in r.getMessage() for r in caplog.records), "the watchdog", 3)
    plex.wait_connected()
    progress(plex, adapter, "15", 600_000)
    plex.alert("15", "stopped", MATRIX_MS)
    eventually(lambda: watches(emulator), "the history entry after reconnecting")


def test_without_the_socket_the_sessions_list_is_polled(plex, running, emulator) -> None:
    plex.ws_routes["/:/websockets/notifications"] = lambda conn: conn.close()  # alerts refused
    bridge, adapter = running(connect=False)
    begin(plex, adapter, "16", "100", offset=5_000, alert=False)  # found by polling
    plex.sessions["16"].offset = int(MATRIX_MS * 0.9)
    time.sleep(0.5)
    del plex.sessions["16"]
    eventually(lambda: watches(emulator), "the stop found by polling")
    polls = sum(1 for r in plex.requests if r.path == "/status/sessions")
    assert polls < 40  # ~5 per second at the test's 0.2 s interval: no busy loop


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


# -- webhooks -------------------------------------------------------------------------------------


def webhook_payload(plex: PlexStandIn, event: str, key: str, offset: int = 0, user: str = "alice") -> dict:
    meta = {k: v for k, v in plex.items[key].items() if k != "Guid"}
    meta.update({"librarySectionID": int(meta["librarySectionID"]), "viewOffset": offset})
    if "duration" in meta:
        meta["duration"] = int(meta["duration"])
    for name in ("parentIndex", "index", "year"):
        if name in meta:
            meta[name] = int(meta[name])
    if plex.items[key]["Guid"]:
        meta["Guid"] = [{"id": g} for g in plex.items[key]["Guid"]]
    return {"event": event, "user": True, "owner": True, "Account": {"id": 1, "title": user},
            "Server": {"title": "standin", "uuid": MACHINE_ID},
            "Player": {"local": True, "title": "Stand-in TV", "uuid": "client-1"}, "Metadata": meta}


def multipart(payload: dict | bytes, thumb: bytes = b"", boundary: str | None = None) -> tuple[bytes, str]:
    boundary = boundary or uuid.uuid4().hex
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"payload\"\r\n"
            f"Content-Type: application/json\r\n\r\n").encode() + data + b"\r\n"
    if thumb:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"thumb\"; filename=\"image.jpg\"\r\n"
                 f"Content-Type: image/jpeg\r\n\r\n").encode() + thumb + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post(bridge, body: bytes, ctype: str, secret: str | None = SECRET) -> requests.Response:
    return post_to(bridge.http.url, body, ctype, secret)


def post_to(base: str, body: bytes, ctype: str, secret: str | None = SECRET) -> requests.Response:
    url = f"{base}/{secret}/plex" if secret else f"{base}/plex"
    return requests.post(url, data=body, headers={"Content-Type": ctype}, timeout=5)


@pytest.mark.slow
def test_the_same_play_by_alerts_and_webhook_is_counted_once(plex, running, emulator) -> None:
    bridge, adapter = running(starts=True)
    thumb = bytes(range(256)) * 400  # ~100 KB of JPEG-ish bytes, as Plex attaches
    begin(plex, adapter, "20", "503", offset=0)
    assert post(bridge, *multipart(webhook_payload(plex, "media.play", "503"), thumb)).status_code == 202
    plex.alert("20", "playing", 600_000)
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


# -- resume points --------------------------------------------------------------------------------


def test_startup_sets_plex_view_offsets_only_where_plex_is_older(plex, bridge_for, emulator) -> None:
    client = make_client(emulator)
    client.scrobble("pause", {"progress": 40, "movie": {"ids": {"tmdb": 603}}})
    time.sleep(3 * PACE)
    client.scrobble("pause", {"progress": 25, "show": {"ids": {"tvdb": 81189}}, "episode": {"season": 1, "number": 2}})
    time.sleep(3 * PACE)
    client.scrobble("pause", {"progress": 30, "show": {"ids": {"tvdb": 73244}}, "episode": {"season": 1, "number": 3}})
    plex.items["202"].update(viewOffset=60_000, lastViewedAt=int(time.time()) + 3600)  # watched on Plex later
    adapter = adapter_for(plex, alerts=False, resume_user="alice")
    bridge = bridge_for(adapters=[adapter])
    summary = bridge.reconcile()
    assert summary.pushed == 2
    calls = {c["key"]: c for c in plex.progress}
    assert set(calls) == {"100", "503"}  # the movie, and the new-agent episode found through its show
    assert calls["100"]["state"] == "stopped" and calls["100"]["identifier"] == "com.plexapp.plugins.library"
    assert int(calls["100"]["time"]) == pytest.approx(MATRIX_MS * 0.40, rel=0.01)
    assert int(calls["503"]["time"]) == pytest.approx(1_320_000 * 0.30, rel=0.01)
    assert plex.items["202"]["viewOffset"] == 60_000
    # Plex now holds the newer position: the next reconciliation leaves it alone.
    assert bridge.reconcile().pushed == 0


def test_resume_points_for_another_user_need_their_token(plex, emulator, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    from bridge.events import Ids, Kind, Resume

    adapter = adapter_for(plex, alerts=False, resume_user="bob")
    resume = Resume("bob", Kind.MOVIE, Ids(tmdb=603), 40.0, time.time())
    assert adapter.apply_resume([resume]) == 0 and plex.progress == []
    assert any("needs that user's own token" in r.getMessage() for r in caplog.records)
