"""Cost per mapped event in the live Plex adapter, against the Plex stand-in on 127.0.0.1.
Run by hand: `python3 bench/plex_events.py [alerts]` (default 20,000).

- steady alert: one `playing` frame of a session already resolved -> JSON decode -> PlayEvent to
  the sink (what every ~10 s progress alert costs while something plays)
- new session: the first alert of a session -> /status/sessions + /library/metadata (+ the show)
  over HTTP through plexapi -> PlayEvent (paid once per play)
- wire latency: stand-in sends the frame -> websocket -> worker -> sink (median, p95)
- webhook: a multipart body with a 100 KB thumbnail -> streaming parse -> PlayEvent, then the
  same posted to the bridge's HTTP endpoint (the time Plex waits for the answer)
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.adapters.plex.adapter import PlexAdapter
from bridge.adapters.plex.alerts import parse_container
from bridge.adapters.plex.webhook import read_payload
from bridge.backoff import Backoff
from bridge.config import PlexServer
from bridge.http import HttpServer, Request
from tests.adapters.plex.standin import MACHINE_ID, TOKEN, PlexStandIn


def frame(session: str, rating_key: str, offset: int, state: str = "playing") -> bytes:
    return json.dumps({"NotificationContainer": {"type": "playing", "size": 1, "PlaySessionStateNotification": [
        {"sessionKey": session, "clientIdentifier": "c", "guid": "", "ratingKey": rating_key, "url": "",
         "key": f"/library/metadata/{rating_key}", "viewOffset": offset, "playQueueItemID": 1, "state": state}]}}).encode()


def main(n: int) -> None:
    plex = PlexStandIn()
    plex.add("100", "movie", "The Matrix", "1", "plex://movie/5d7768313c3c2a001fbcd1f0",
             ("imdb://tt0133093", "tmdb://603"), duration=8_160_000, year=1999)
    plex.add("500", "show", "The Office", "2", "plex://show/5d9c086c46115600200aa2fe", ("tvdb://73244",))
    plex.add("503", "episode", "Health Care", "2", "plex://episode/5d9c0e13cb3ffa001f1c91a3", ("tvdb://300000",),
             duration=1_320_000, parentIndex=1, index=3, grandparentRatingKey="500", grandparentTitle="The Office")
    plex.start()
    got: list = []
    adapter = PlexAdapter(PlexServer(name="home", url=plex.url, token=TOKEN, webhooks=True), backoff=Backoff(0.05, 0.2))
    adapter._sink = got.append

    # steady alerts, decoded from the wire bytes, on the calling thread
    plex.play("1", "100", alert=False)
    adapter._alert(parse_container(frame("1", "100", 1000)))
    frames = [frame("1", "100", 2000 + 1000 * i) for i in range(n)]
    t0 = time.perf_counter()
    for data in frames:
        adapter._alert(parse_container(data))
    steady = (time.perf_counter() - t0) / n
    assert len(got) == n + 1

    # new sessions (metadata + sessions over HTTP); the show is cached after the first episode
    rounds = 200
    t0 = time.perf_counter()
    for i in range(rounds):
        key = f"s{i}"
        plex.play(key, "503" if i % 2 else "100", alert=False)
        adapter._alert(parse_container(frame(key, plex.sessions[key].rating_key, 5000)))
        del plex.sessions[key]
    fresh = (time.perf_counter() - t0) / rounds

    # wire latency through the real socket and worker
    arrived = threading.Event()
    stamps: list[float] = []

    def sink(event) -> None:
        stamps.append(time.perf_counter())
        arrived.set()

    adapter._sink = sink
    adapter.start(sink)
    plex.wait_connected()
    time.sleep(0.3)
    latencies = []
    for i in range(300):
        arrived.clear()
        t0 = time.perf_counter()
        plex.alert("1", "playing", 2_000_000 + i * 1000)
        arrived.wait(2)
        latencies.append(stamps[-1] - t0)
    adapter.stop()

    # webhooks: multipart with a thumbnail, parsed and mapped (grandparent cached)
    adapter._sink = got.append
    payload = {"event": "media.play", "Account": {"id": 1, "title": "alice"}, "Server": {"uuid": MACHINE_ID},
               "Player": {"uuid": "c"}, "Metadata": {**{k: v for k, v in plex.items["503"].items() if k != "Guid"},
                                                      "Guid": [{"id": "tvdb://300000"}], "librarySectionID": 2,
                                                      "parentIndex": 1, "index": 3, "duration": 1_320_000}}
    thumb = bytes(range(256)) * 400
    body = (b"--B\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n" + json.dumps(payload).encode() +
            b"\r\n--B\r\nContent-Disposition: form-data; name=\"thumb\"; filename=\"t.jpg\"\r\n\r\n" + thumb +
            b"\r\n--B--\r\n")
    hooks = 2000
    t0 = time.perf_counter()
    for _ in range(hooks):
        request = Request("POST", "/plex", {}, {"content-type": "multipart/form-data; boundary=B"},
                          io.BytesIO(body), len(body))
        adapter.webhook(read_payload(request))
    webhook = (time.perf_counter() - t0) / hooks

    # the same webhook posted to the bridge's HTTP endpoint: how long Plex waits for the answer
    http = HttpServer(secret="s" * 16)
    adapter.register_routes(http, got.append)
    http.start()
    session = requests.Session()
    replies = []
    for _ in range(300):
        t0 = time.perf_counter()
        reply = session.post(f"{http.url}/{'s' * 16}/plex", data=body,
                             headers={"Content-Type": "multipart/form-data; boundary=B"})
        replies.append(time.perf_counter() - t0)
        assert reply.status_code == 202
    http.stop()
    plex.stop()
    replies.sort()

    latencies.sort()
    print(f"steady alert -> PlayEvent : {steady * 1e6:8.1f} µs/event ({n} alerts)")
    print(f"new session  -> PlayEvent : {fresh * 1e3:8.2f} ms/session (sessions + metadata over HTTP, {rounds} sessions)")
    print(f"wire latency frame -> sink: median {statistics.median(latencies) * 1e3:.2f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95)] * 1e3:.2f} ms ({len(latencies)} alerts)")
    print(f"webhook (100 KB thumb)    : {webhook * 1e6:8.1f} µs/webhook ({hooks} posts, parse + map, no HTTP)")
    print(f"webhook answered over HTTP: median {statistics.median(replies) * 1e3:.2f} ms, "
          f"p95 {replies[int(len(replies) * 0.95)] * 1e3:.2f} ms ({len(replies)} posts)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
