"""Outbox schema upgrades: each opens a file an older simkl-bridge wrote and keeps every write.

v1 -> v2: each watched item's latest mark gains a row in `marks` with its typed item identity (bridge.item.Item),
which reconciliation matches by and which outlives pruning. v1 stored only the item's key string;
the identity is rebuilt from each history row's own body, which holds every id the write was sent
with (more than the key names). Rows keep their key and body, so a pending write is resent byte for
byte and a mark keeps deduplicating the same plays. The v1 indexes give way to v2's partial ones.
Rows gain v2's rewatch columns, none of them a rewatch.
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
    from bridge.outbox import MARK, SCHEMA  # the tables and indexes v2 adds; outbox imports this module

    db.execute("DROP INDEX IF EXISTS writes_due")
    db.execute("DROP INDEX IF EXISTS writes_item")
    # v1 knew no rewatches: every write it kept is a plain one. (A file whose version number was
    # lost, as a recovered one, may already have the columns.)
    columns = {row[1] for row in db.execute("PRAGMA table_info(writes)")}
    if "rewatch" not in columns:
        db.execute("ALTER TABLE writes ADD COLUMN rewatch INTEGER NOT NULL DEFAULT 0")
    if "rewatch_id" not in columns:
        db.execute("ALTER TABLE writes ADD COLUMN rewatch_id INTEGER")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    rows = db.execute("SELECT id, account, item_key, idem_key, body, at FROM writes WHERE kind='history'").fetchall()
    for row_id, account, item_key, idem_key, body, at in rows:
        item = item_from_body(json.loads(body))
        if item is None:
            log.warning("outbox row %d: its body names no item; it is still sent, but no mark is kept for it", row_id)
            continue
        db.execute(MARK, (account, item_key, idem_key, json.dumps(item.to_json()), at, row_id))


def item_from_body(body: Any) -> Item | None:
    """The item a v1 history body was about."""
    if not isinstance(body, dict):
        return None
    for bucket, numbering in (("movies", Numbering.TV), ("shows", Numbering.TV), ("anime", Numbering.ANIDB)):
        entries = body.get(bucket)
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            return _history_item(entries[0], Kind.MOVIE if bucket == "movies" else Kind.EPISODE, numbering)
    episodes = body.get("episodes")
    if isinstance(episodes, list) and episodes and isinstance(episodes[0], dict):
        return Item(Kind.EPISODE, _ids(episodes[0]), by_episode_ids=True)
    return None


def _ids(entry: dict[str, Any]) -> Ids:
    raw = entry.get("ids")
    return idsmod.clean_ids(raw if isinstance(raw, dict) else {}, strict=False)


def _history_item(entry: dict[str, Any], kind: Kind, numbering: Numbering) -> Item:
    if kind is Kind.MOVIE:
        return Item(kind, _ids(entry))
    season = (entry.get("seasons") or [{}])[0]
    numbers = tuple(e["number"] for e in season.get("episodes", []) if isinstance(e, dict) and "number" in e)
    return Item(kind, _ids(entry), numbering, season.get("number"), numbers)
