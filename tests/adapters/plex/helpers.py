"""Helpers shared by the Plex end-to-end tests: an adapter with short intervals, waiting for the
adapter to take in what the stand-in did, and webhook bodies as Plex posts them. The fixtures (the
stand-in with its library, a started Bridge) are in conftest.py."""

from __future__ import annotations

import json
import uuid

import requests

from bridge.adapters.plex.adapter import PlexAdapter
from bridge.backoff import Backoff
from bridge.config import PlexServer
from tests.adapters.plex.standin import MACHINE_ID, TOKEN, PlexStandIn
from tests.conftest import SECRET, eventually

MATRIX_MS = 8_160_000
EPISODE_MS = 2_820_000


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


def adapter_for(standin: PlexStandIn, backoff: Backoff | None = None, **cfg) -> PlexAdapter:
    settings = {"name": "home", "url": standin.url, "token": TOKEN, "webhooks": True,
                "exclude_libraries": ("Home Videos",), **cfg}
    return PlexAdapter(PlexServer(**settings), backoff=backoff or Backoff(0.05, 0.2), poll_interval=0.2,
                       ping_interval=0.25, watchdog=1.0, timeout=2.0)


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
    library = plex.library(key)
    meta.update({"librarySectionID": int(library["librarySectionID"]), "librarySectionTitle": library["librarySectionTitle"],
                 "viewOffset": offset})
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

