"""Fixtures and helpers shared by the Plex end-to-end tests: the stand-in, an adapter with short
intervals, a started Bridge against the Simkl emulator, and webhook bodies as Plex posts them."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from bridge.adapters.base import Backoff
from bridge.adapters.plex import PlexAdapter
from bridge.config import PlexServer
from tests.conftest import SECRET, eventually
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
    standin.add("203", "episode", "...And the Bag's in the River", "2",
                "com.plexapp.agents.thetvdb://81189/1/3?lang=en", duration=EPISODE_MS, parentIndex=1, index=3,
                grandparentRatingKey="200", grandparentTitle="Breaking Bad")
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
    standin.add("600", "movie", "Holiday 2023", "1", "local://600", duration=3_600_000)
    standin.start()
    yield standin
    standin.stop()


BENIHANA = "/tv/The Office (US)/Season 03/The Office (US) - S03E10-E11 - A Benihana Christmas.mkv"
BENIHANA_MS = 2_520_000


def office_season_3(plex: PlexStandIn) -> None:
    """Season 3 of The Office (show 500): E10 and E11 are one file, as Plex lists an `S03E10-E11`
    file (two episodes, one Media part); E12 is a file of its own."""
    for key, index, title, file in (("540", 10, "A Benihana Christmas (1)", BENIHANA),
                                    ("541", 11, "A Benihana Christmas (2)", BENIHANA),
                                    ("542", 12, "Back from Vacation", "/tv/The Office (US)/Season 03/S03E12.mkv")):
        plex.add(key, "episode", title, "2", f"plex://episode/5d9c0e13cb3ffa001f1c9{key}", (f"tvdb://3000{key}",),
                 file=file, duration=BENIHANA_MS if file == BENIHANA else 1_320_000, parentIndex=3, index=index,
                 parentRatingKey="530", grandparentRatingKey="500", grandparentTitle="The Office")


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


def plex_metadata_reads(plex: PlexStandIn, key: str) -> int:
    return sum(1 for r in plex.requests if r.path == f"/library/metadata/{key}")


def webhook_payload(plex: PlexStandIn, event: str, key: str, offset: int = 0, user: str = "alice") -> dict:
    meta = {k: v for k, v in plex.items[key].items() if k not in ("Guid", "Media")}  # webhooks carry no Media
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

