"""Outbox schema upgrades: each opens a file an older simkl-bridge wrote and keeps every write.

v1 -> v2: rows gain `item`, the typed item identity (bridge.item.Item) that reconciliation
matches by. v1 stored only its key string; the identity is rebuilt from each row's own body, which
holds every id the write was sent with (more than the key names). The key and body stay as they
were, so a pending write is resent byte for byte and a mark keeps deduplicating the same plays.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from bridge import ids as idsmod
from bridge.item import Ids, Item, Kind, Numbering

log = logging.getLogger("bridge.outbox")


def v1_to_v2(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE writes ADD COLUMN item TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT id, body FROM writes").fetchall()
    for row_id, body in rows:
        item = item_from_body(json.loads(body))
        if item is None:
            log.warning("outbox row %d: its body names no item; kept, but reconciliation cannot match it", row_id)
            continue
        db.execute("UPDATE writes SET item=? WHERE id=?", (json.dumps(item.to_json()), row_id))


def item_from_body(body: Any) -> Item | None:
    """The item a v1 history or scrobble body was about."""
    if not isinstance(body, dict):
        return None
    for bucket, numbering in (("movies", Numbering.TV), ("shows", Numbering.TV), ("anime", Numbering.ANIDB)):
        entries = body.get(bucket)
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            return _history_item(entries[0], Kind.MOVIE if bucket == "movies" else Kind.EPISODE, numbering)
    episodes = body.get("episodes")
    if isinstance(episodes, list) and episodes and isinstance(episodes[0], dict):
        return Item(Kind.EPISODE, _ids(episodes[0]), by_episode_ids=True)
    return _scrobble_item(body)


def _ids(entry: dict[str, Any]) -> Ids:
    raw = entry.get("ids")
    return idsmod.clean_ids(raw if isinstance(raw, dict) else {}, strict=False)


def _history_item(entry: dict[str, Any], kind: Kind, numbering: Numbering) -> Item:
    if kind is Kind.MOVIE:
        return Item(kind, _ids(entry))
    season = (entry.get("seasons") or [{}])[0]
    numbers = tuple(e["number"] for e in season.get("episodes", []) if isinstance(e, dict) and "number" in e)
    return Item(kind, _ids(entry), numbering, season.get("number"), numbers)


def _scrobble_item(body: dict[str, Any]) -> Item | None:
    if isinstance(body.get("movie"), dict):
        return Item(Kind.MOVIE, _ids(body["movie"]))
    for key, numbering in (("show", Numbering.TV), ("anime", Numbering.ANIDB)):
        if isinstance(body.get(key), dict):
            episode = body["episode"] if isinstance(body.get("episode"), dict) else {}
            number = episode.get("number")
            return Item(Kind.EPISODE, _ids(body[key]), numbering, episode.get("season"),
                        (number,) if isinstance(number, int) else ())
    return None
