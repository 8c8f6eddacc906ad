"""Fixtures and helpers shared by the Jellyfin end-to-end tests (stand-in + emulator + real Bridge).

Intervals are shortened through the adapter's constructor (keep-alive 0.2 s, poll 0.2 s, and a
0.8 s watchdog for the silent-socket test) so that reconnects and dead sockets are seen within a second.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from bridge.adapters.jellyfin.adapter import JellyfinAdapter
from bridge.backoff import Backoff
from bridge.config import JellyfinServer
from tests.adapters.jellyfin.standin import ALICE, API_KEY, TICKS, JellyfinStandIn
from tests.conftest import SECRET, eventually


@pytest.fixture
def jellyfin():
    with JellyfinStandIn() as jf:
        jf.matrix = jf.add_movie("The Matrix", {"Tmdb": "603", "Imdb": "tt0133093"}, minutes=136, year=1999)
        jf.bb = jf.add_series("Breaking Bad", {"Tvdb": "81189", "Tmdb": "1396", "Imdb": "tt0903747"})
        jf.bb_s1e2 = jf.add_episode(jf.bb, 1, 2, {"Tvdb": "349239"}, minutes=47)
        yield jf


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


def playbacks(emulator, user: str = "alice") -> list:
    return emulator.state()["users"].get(user, {}).get("playbacks", [])


def settle(bridge, seconds: float = 0.4) -> None:
    """Let pushes arrive, then wait for the sender to drain what they queued."""
    time.sleep(seconds)
    eventually(lambda: bridge.outbox.pending() == 0, "the outbox to drain")


def minutes(m: float) -> float:
    return m * 60


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
