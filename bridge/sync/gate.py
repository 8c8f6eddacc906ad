"""The activities gate (Simkl's Sync guide): `GET /sync/activities` first, always; then read only
what moved since the stamps saved last time. Pure.

- First sync of an account: every type's whole library, one type after another, with
  `extended=full&episode_watched_at=yes`.
- Later: a type whose watched buckets moved is read with `date_from` (what changed since); two or
  more that moved are one read of the whole library since the earliest of their stamps, a request
  instead of two or three (what it lists of a type that did not move is what the shelf has
  already); `removed_from_list` moving means an ids-only read diffed against the baseline
  (`date_from` never shows removals); `playback` moving means `/sync/playback?date_from=`.
  Nothing moved: nothing read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.times import parse_iso

# /sync/activities blocks -> /sync/all-items types
TYPES = {"tv_shows": "shows", "anime": "anime", "movies": "movies"}
# The buckets a watch moves (movies have no watching or hold: their block lacks the keys).
WATCHED_BUCKETS = ("completed", "watching", "hold", "dropped")
FULL = {"extended": "full", "episode_watched_at": "yes"}


@dataclass(frozen=True)
class Read:
    kind: str | None  # shows | movies | anime; None: every type
    params: dict[str, str]


@dataclass
class Reads:
    library: list[Read] = field(default_factory=list)  # watched items (whole, or since date_from)
    removals: list[Read] = field(default_factory=list)  # ids-only reads to diff
    playback_since: str | None = None  # a date_from for /sync/playback, when it moved
    first: bool = False


def reads(before: dict[str, Any] | None, now: dict[str, Any]) -> Reads:
    """What to read, given the activities saved last time (None: never synced) and now."""
    if before is None:
        return Reads([Read(kind, dict(FULL)) for kind in TYPES.values()], first=True)
    out = Reads()
    moved: list[tuple[str, Any]] = []  # (type, its stamp last time)
    for block, kind in TYPES.items():
        was, is_ = _block(before, block), _block(now, block)
        if any(is_.get(b) != was.get(b) for b in WATCHED_BUCKETS if b in is_ or b in was):
            moved.append((kind, was.get("all") or before.get("all")))
        if is_.get("removed_from_list") != was.get("removed_from_list"):
            out.removals.append(Read(kind, {"extended": "simkl_ids_only"}))
        if is_.get("playback") != was.get("playback") and out.playback_since is None:
            since = was.get("playback") or before.get("all")
            out.playback_since = since if isinstance(since, str) else ""
    if len(moved) == 1:
        out.library.append(Read(moved[0][0], _since(moved[0][1])))
    elif moved:
        # By time, not as text: Simkl writes some stamps with milliseconds. One not known: all of it.
        known = [(at, stamp) for at, stamp in ((parse_iso(stamp), stamp) for _, stamp in moved) if at is not None]
        out.library.append(Read(None, _since(min(known)[1] if len(known) == len(moved) else None)))
    return out


def _since(stamp: Any) -> dict[str, str]:
    return {**FULL, "date_from": stamp} if isinstance(stamp, str) else dict(FULL)


def _block(activities: dict[str, Any], name: str) -> dict[str, Any]:
    block = activities.get(name)
    return block if isinstance(block, dict) else {}
