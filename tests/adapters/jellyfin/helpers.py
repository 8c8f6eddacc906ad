"""Fixtures and helpers shared by the Jellyfin end-to-end tests (stand-in + emulator + real Bridge).

The `jellyfin` stand-in is the newest version (VERSIONS[-1]) unless a test is marked
`@every_version`, which runs it against each of VERSIONS: what the socket gives differs by version
(pushes, the poll while connected, keep-alives, the library chain), so those scenarios run per
version; the mapping, the webhook route's checks, users and the listener's own trouble run once.

Intervals are shortened through the adapter's constructor (keep-alive 0.2 s, polls 0.2 s, and a
0.8 s watchdog for the silent-socket test) so that reconnects and dead sockets are seen within a second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from bridge.adapters.jellyfin.adapter import SESSIONS, JellyfinAdapter, pushes_sessions
from bridge.backoff import Backoff
from bridge.config import JellyfinServer
from tests.adapters.jellyfin.standin import ALICE, API_KEY, TICKS, VERSIONS, JellyfinStandIn
from tests.conftest import SECRET, eventually

every_version = pytest.mark.parametrize("jellyfin", VERSIONS, indirect=True)


@pytest.fixture
def jellyfin(request):
    with JellyfinStandIn(getattr(request, "param", VERSIONS[-1])) as jf:
        jf.matrix = jf.add_movie("The Matrix", {"Tmdb": "603", "Imdb": "tt0133093"}, minutes=136, year=1999)
        jf.bb = jf.add_series("Breaking Bad", {"Tvdb": "81189", "Tmdb": "1396", "Imdb": "tt0903747"})
        jf.bb_s1e2 = jf.add_episode(jf.bb, 1, 2, {"Tvdb": "349239"}, minutes=47)
        yield jf


def sent(emulator, path: str) -> list[dict]:
    """The bodies of the successful POSTs to `path`."""
    return [r["body"] for r in emulator.requests if r["method"] == "POST" and r["path"] == path and r["status"] < 300]


def adapter_for(jf: JellyfinStandIn, name: str = "home", watchdog: float = 2.0, backoff: Backoff | None = None,
                **settings) -> JellyfinAdapter:
    """Short intervals; the watchdog is generous unless a test is about it, so that a busy CI machine
    stalling a thread for a moment does not count as a dead socket."""
    server = JellyfinServer(name=name, url=jf.url, api_key=API_KEY, **settings)
    return JellyfinAdapter(server, poll_interval=0.2, socket_poll=0.2, keepalive=0.2, watchdog=watchdog,
                           backoff=backoff or Backoff(0.05, 0.2), timeout=2.0)


@pytest.fixture
def running(jellyfin, bridge_for):
    """A started bridge whose one adapter is connected to the stand-in (and, on a version that
    pushes sessions to an API key, subscribed)."""
    def make(jf: JellyfinStandIn = jellyfin, watchdog: float = 2.0, **settings):
        adapter = adapter_for(jf, watchdog=watchdog, **settings)
        bridge = bridge_for(adapters=[adapter])
        bridge.start(reconcile=False)
        eventually(lambda: adapter.supervisor.connected.is_set()
                   and (jf.subscribers or not pushes_sessions(jf.release)), "the adapter to connect")
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


def seen(adapter: JellyfinAdapter, session: str, seconds: float) -> None:
    """Wait until the adapter holds `session` at `seconds`: what a report told the server has been
    read (a poll may otherwise pass over it, as it would on a real server)."""
    eventually(lambda: session in adapter.snapshot and adapter.snapshot[session].event.position == seconds,
               f"the adapter to see session {session} at {seconds} s")


def lists_handled(adapter: JellyfinAdapter) -> list[list[Any]]:
    """Every /Sessions list the adapter's worker has finished handling, in order, from now on."""
    done: list[list[Any]] = []
    handle = adapter._handle

    def recorded(kind: str, data: Any) -> None:
        handle(kind, data)
        if kind == SESSIONS:
            done.append(data[0])
    adapter._handle = recorded  # type: ignore[method-assign]
    return done


def until_handled(done: list[list[Any]], shows: Callable[[list[Any]], bool], what: str) -> None:
    """Wait until the worker has handled a list that `shows` what a test did: everything the
    server reported before that is handled too, lists being handled in order."""
    eventually(lambda: any(shows(listed) for listed in list(done)), what)


def idle(session: str) -> Callable[[list[Any]], bool]:
    return lambda listed: any(s.get("Id") == session and "NowPlayingItem" not in s for s in listed)


def playing(session: str, item_id: str) -> Callable[[list[Any]], bool]:
    return lambda listed: any(s.get("Id") == session and (s.get("NowPlayingItem") or {}).get("Id") == item_id
                              for s in listed)


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
