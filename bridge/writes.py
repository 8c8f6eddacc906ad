"""A Simkl write decided by the engine and carried by the outbox. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.item import Item
from bridge.library import BUCKET_TITLES

HISTORY = "history"  # POST /sync/history
PAUSE = "pause"  # POST /scrobble/pause
START = "start"  # POST /scrobble/start
UNWATCH = "unwatch"  # POST /sync/history/remove
RATE = "rate"  # POST /sync/ratings
UNRATE = "unrate"  # POST /sync/ratings/remove
LIST = "list"  # POST /sync/add-to-list, the bucket in each item's `to`
KINDS = (HISTORY, PAUSE, START, UNWATCH, RATE, UNRATE, LIST)
PLAYBACK_KINDS = (PAUSE, START)
# Sent after history and playbacks, each kind in requests of its own (bridge/sender.py), a title's
# bucket before its rating: rating a title not in the library files it (a movie as completed), and
# filed so it would read as moved on Simkl to a bucket the person never chose.
LIBRARY_KINDS = (UNWATCH, LIST, RATE, UNRATE)
# The pending writes of the same item a new write makes moot: Simkl keeps one playback per item
# (latest wins) and a watch ends it; a watch after an unwatch not yet sent is the newer fact; an
# item has one rating and one bucket, the latest decided.
SUPERSEDES = {HISTORY: (PAUSE, START, UNWATCH), PAUSE: PLAYBACK_KINDS, START: PLAYBACK_KINDS, UNWATCH: (),
              RATE: (RATE, UNRATE), UNRATE: (RATE, UNRATE), LIST: (LIST,)}


@dataclass(frozen=True)
class Write:
    account: str  # Simkl account name from the config
    kind: str  # one of KINDS
    item: Item  # what it is about: the same item gives the same key
    idem_key: str  # one per logical write; enqueueing an existing key again is a no-op
    # history, unwatch, rate, unrate, list: a single-item body of its endpoint; pause/start: /scrobble body
    body: dict[str, Any]
    at: float  # epoch seconds when the engine decided it
    # A viewing the engine itself found to be a rewatch of an item it marked before: the only
    # history write that may ask Simkl for a rewatch session (on an account that opted in).
    rewatch: bool = False

    @property
    def item_key(self) -> str:
        return self.item.key


def describe(kind: str, body: dict[str, Any]) -> str:
    """A write as a person reads it (status, logs): 'watched The Matrix (1999)', 'paused Breaking
    Bad S01E02 at 30%', 'rated The Matrix (1999) 9/10', 'moved Dune (2021) to Plan to Watch'.
    Read from the body, which is what Simkl is told."""
    scrobble = body.get("movie") or body.get("show") or body.get("anime")
    if kind in PLAYBACK_KINDS or isinstance(scrobble, dict):
        media = scrobble if isinstance(scrobble, dict) else {}
        episode = _mapping(body.get("episode"))
        where = _numbers(episode.get("season"), [episode.get("number")]) if episode else ""
        what = {PAUSE: f"paused at {body.get('progress', '?')}%", START: "started"}.get(kind, kind)
        return f"{_title(media)}{where} {what}"
    for bucket in ("movies", "shows", "anime", "episodes"):
        items = body.get(bucket)
        if isinstance(items, list) and items and isinstance(items[0], dict):
            item = items[0]
            seasons = item.get("seasons")
            where = "".join(_numbers(s.get("number"), [_mapping(e).get("number") for e in s.get("episodes") or []])
                            for s in (seasons if isinstance(seasons, list) else []) if isinstance(s, dict))
            more = f" and {len(items) - 1} more" if len(items) > 1 else ""
            what = f"{_title(item)}{where}"
            if kind == RATE:
                return f"rated {what} {item.get('rating', '?')}/10{more}"
            if kind == LIST:
                return f"moved {what}{more} to {BUCKET_TITLES.get(str(item.get('to')), str(item.get('to')))}"
            return {HISTORY: f"{what}{more} watched", UNWATCH: f"unwatched {what}{more}",
                    UNRATE: f"unrated {what}{more}"}.get(kind, f"{kind} {what}{more}")
    return f"{kind} (empty body)"


def _title(media: dict[str, Any]) -> str:
    name = media.get("title") or " ".join(f"{k}:{v}" for k, v in _mapping(media.get("ids")).items()) or "?"
    return f"{name} ({media['year']})" if media.get("year") else str(name)


def _numbers(season: Any, episodes: list[Any]) -> str:
    eps = "-".join(f"E{e:02d}" if isinstance(e, int) else "E?" for e in episodes)
    return f" S{season:02d}{eps}" if isinstance(season, int) else f" {eps}"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
