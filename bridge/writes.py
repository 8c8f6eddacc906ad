"""A Simkl write decided by the engine and carried by the outbox. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.item import Item

HISTORY = "history"
PAUSE = "pause"
START = "start"
KINDS = (HISTORY, PAUSE, START)
PLAYBACK_KINDS = (PAUSE, START)


@dataclass(frozen=True)
class Write:
    account: str  # Simkl account name from the config
    kind: str  # HISTORY | PAUSE | START
    item: Item  # what it is about: the same item gives the same key
    idem_key: str  # one per logical write; enqueueing an existing key again is a no-op
    body: dict[str, Any]  # history: single-item /sync/history body; pause/start: /scrobble body
    at: float  # epoch seconds when the engine decided it
    # A viewing the engine itself found to be a rewatch of an item it marked before: the only
    # history write that may ask Simkl for a rewatch session (on an account that opted in).
    rewatch: bool = False

    @property
    def item_key(self) -> str:
        return self.item.key


def describe(kind: str, body: dict[str, Any]) -> str:
    """A write as a person reads it (status, logs): 'watched The Matrix (1999)', 'paused Breaking
    Bad S01E02 at 30%'. Read from the body, which is what Simkl is told."""
    scrobble = body.get("movie") or body.get("show") or body.get("anime")
    if kind != HISTORY or isinstance(scrobble, dict):
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
            return f"{_title(item)}{where}{more} watched"
    return f"{kind} (empty body)"


def _title(media: dict[str, Any]) -> str:
    name = media.get("title") or " ".join(f"{k}:{v}" for k, v in _mapping(media.get("ids")).items()) or "?"
    return f"{name} ({media['year']})" if media.get("year") else str(name)


def _numbers(season: Any, episodes: list[Any]) -> str:
    eps = "-".join(f"E{e:02d}" if isinstance(e, int) else "E?" for e in episodes)
    return f" S{season:02d}{eps}" if isinstance(season, int) else f" {eps}"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
