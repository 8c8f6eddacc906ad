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
- When ratings or lists are synced too: `plantowatch` moving is a read of that bucket since (unless
  the type's library is read anyway: all-items lists every bucket with its ratings), `rated_at`
  moving a read of the type's ratings since (`/sync/ratings/{type}/1,...,10?date_from=`; whole,
  without `date_from`, when cleared ratings matter: a delta never lists a rating that is gone). The
  first time titles are synced on an account that has a baseline, every type is read whole once.
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
    status: str | None = None  # one bucket of all-items; None: every bucket


@dataclass
class Reads:
    library: list[Read] = field(default_factory=list)  # watched items (whole, or since date_from)
    removals: list[Read] = field(default_factory=list)  # ids-only reads to diff
    playback_since: str | None = None  # a date_from for /sync/playback, when it moved
    first: bool = False
    ratings: list[Read] = field(default_factory=list)  # /sync/ratings/{type} reads


@dataclass(frozen=True)
class Titles:
    """What the ratings and lists sync needs read, beyond the watched items."""

    wanted: bool = False  # some server syncs ratings or lists
    first: bool = False  # the account's titles were never synced
    whole_ratings: bool = False  # cleared ratings matter (sync.rating_removal)


def reads(before: dict[str, Any] | None, now: dict[str, Any], titles: Titles = Titles()) -> Reads:
    """What to read, given the activities saved last time (None: never synced) and now."""
    if before is None or (titles.wanted and titles.first):
        return Reads([Read(kind, dict(FULL)) for kind in TYPES.values()], first=before is None,
                     playback_since=None if before is None else _playback_since(before, now))
    out = Reads()
    moved: list[tuple[str, Any]] = []  # (type, its stamp last time)
    for block, kind in TYPES.items():
        was, is_ = _block(before, block), _block(now, block)
        if any(is_.get(b) != was.get(b) for b in WATCHED_BUCKETS if b in is_ or b in was):
            moved.append((kind, was.get("all") or before.get("all")))
        if is_.get("removed_from_list") != was.get("removed_from_list"):
            out.removals.append(Read(kind, {"extended": "simkl_ids_only"}))
    out.playback_since = _playback_since(before, now)
    if len(moved) == 1:
        out.library.append(Read(moved[0][0], _since(moved[0][1])))
    elif moved:
        # By time, not as text: Simkl writes some stamps with milliseconds. One not known: all of it.
        known = [(at, stamp) for at, stamp in ((parse_iso(stamp), stamp) for _, stamp in moved) if at is not None]
        out.library.append(Read(None, _since(min(known)[1] if len(known) == len(moved) else None)))
    if titles.wanted:
        _title_reads(before, now, {kind for kind, _ in moved} if len(moved) < 2 else set(TYPES.values()),
                     titles, out)
    return out


def _title_reads(before: dict[str, Any], now: dict[str, Any], covered: set[str], titles: Titles, out: Reads) -> None:
    for block, kind in TYPES.items():
        was, is_ = _block(before, block), _block(now, block)
        since = was.get("all") or before.get("all")
        if is_.get("plantowatch") != was.get("plantowatch") and kind not in covered:
            out.library.append(Read(kind, _since(since), status="plantowatch"))
        if is_.get("rated_at") != was.get("rated_at"):
            whole = titles.whole_ratings or not isinstance(since, str)
            out.ratings.append(Read(kind, {} if whole else {"date_from": str(since)}))


def _playback_since(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    for block in TYPES:
        was, is_ = _block(before, block), _block(now, block)
        if is_.get("playback") != was.get("playback"):
            since = was.get("playback") or before.get("all")
            return since if isinstance(since, str) else ""
    return None


def _since(stamp: Any) -> dict[str, str]:
    return {**FULL, "date_from": stamp} if isinstance(stamp, str) else dict(FULL)


def _block(activities: dict[str, Any], name: str) -> dict[str, Any]:
    block = activities.get(name)
    return block if isinstance(block, dict) else {}
