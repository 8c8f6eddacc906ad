"""A v1 outbox (written by the v1 code: tests/data/README.md) opens with today's code, keeps every
row, and delivers every write that was pending when the old bridge stopped."""

from __future__ import annotations

import shutil
from pathlib import Path

from bridge.item import Ids, Item, Kind, Numbering
from bridge.outbox import SCHEMA_VERSION, Outbox
from bridge.sender import Sender
from tests.conftest import TOKEN, make_client, watches

V1 = Path(__file__).parent / "data" / "outbox-v1.sqlite"
BOB_TOKEN = "bob-token-0123456789abcdef"


def migrated(tmp_path: Path) -> Outbox:
    path = tmp_path / "outbox.sqlite"
    shutil.copy(V1, path)
    return Outbox(path)


def test_a_v1_outbox_keeps_every_row_and_its_marks_gain_typed_items(tmp_path) -> None:
    box = migrated(tmp_path)
    assert box._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert box.counts() == {"alice": {"pending": 2, "sent": 1, "parked": 1}, "bob": {"pending": 2, "sent": 0, "parked": 0}}
    pending = {(e.kind, e.item_key) for e in box.due("alice", 1e12) + box.due("bob", 1e12)}
    assert pending == {("history", "episode-ids/tvdb:349232"), ("pause", "movie/tmdb:27205"),
                       ("history", "episode/anidb:9541/anidb/s1e4"), ("start", "episode/tvdb:121361/tv/s3e9")}
    # Every watched mark but the parked one, its item rebuilt from the body it was sent with.
    marks = box.marks_since(0)
    assert marks == [
        ("alice", Item(Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093")), 1_780_000_000.0),
        ("bob", Item(Kind.EPISODE, Ids(anidb=9541), Numbering.ANIDB, 1, (4,)), 1_780_000_020.0),
        ("alice", Item(Kind.EPISODE, Ids(tvdb=349232), by_episode_ids=True), 1_780_000_030.0),
    ]
    # Each key is the one today's engine makes for the same play, so old marks still deduplicate.
    assert [item.key for _, item, _ in marks] == ["movie/tmdb:603", "episode/anidb:9541/anidb/s1e4",
                                                  "episode-ids/tvdb:349232"]
    counts = box.counts()
    box.close()
    assert Outbox(tmp_path / "outbox.sqlite").counts() == counts  # opened again: nothing migrates twice


def test_every_pending_v1_write_is_delivered(tmp_path, emulator) -> None:
    emulator.add_token(BOB_TOKEN, "bob")
    box = migrated(tmp_path)
    clients = {"alice": make_client(emulator, TOKEN), "bob": make_client(emulator, BOB_TOKEN)}
    report = Sender(box, clients.get).flush_once(now=2e9)
    assert (report.sent, report.parked, report.retried) == (4, 0, 0)
    assert box.pending() == 0
    # The episode known only by its own id (tvdb 349232) is Breaking Bad S1E2 in the catalog.
    assert [(w["season"], w["number"]) for w in watches(emulator, "alice")] == [(1, 2)]
    assert [w["number"] for w in watches(emulator, "bob")] == [4]
    # The pause became alice's Simkl playback; bob's start only says "watching now" (no playback).
    assert [p["progress"] for p in emulator.state()["users"]["alice"]["playbacks"]] == [13.51]
    assert any(r["path"].startswith("/scrobble/start") for r in emulator.requests)


def test_v1_writes_are_plain_ones_and_can_keep_a_rewatch_session(tmp_path) -> None:
    box = migrated(tmp_path)
    pending = box.due("alice", 1e12) + box.due("bob", 1e12)
    assert pending and not any(e.rewatch or e.rewatch_id for e in pending)
    box.set_rewatch_id(pending[0].id, 7481)
    assert next(e for e in box.due("alice", 1e12) + box.due("bob", 1e12) if e.id == pending[0].id).rewatch_id == 7481
