"""Jellyfin session snapshots -> player actions. Pure decisions, no I/O.

Jellyfin has no start or stop messages: its `/Sessions` list shows what each session plays. A
play, pause, resume or stop is what changed between two consecutive lists, keyed by session id and
the playing item's id. Every list is read the same way (at a push, on a timer, while the socket is
down, after a reconnect), so a session that vanished while we were away is closed like any other:
at its last known position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bridge.events import PlayEvent, State


@dataclass(frozen=True)
class Playing:
    """What one Jellyfin session is playing, as mapped from its latest snapshot."""

    item_id: str  # NowPlayingItem.Id, normalized by `norm_id`
    user_id: str  # normalized by `norm_id`
    event: PlayEvent  # state PLAYING or PAUSED, position as last reported


Snapshot = Mapping[str, Playing]  # session id -> its play; idle sessions are absent


def diff(previous: Snapshot, current: Snapshot, at: float) -> list[PlayEvent]:
    """The events that take the engine from `previous` to `current`.

    Stops come first so an item change within one session closes the old viewing before the new one
    opens. A stop carries the last position we saw, since the session that would tell us more is gone.
    Position-only changes are passed on as progress: they keep the engine's last position fresh and
    its session from timing out during a long film, and write nothing.
    """
    events = [replace(old.event, state=State.STOPPED, at=at) for old in ended(previous, current)]
    for sid, new in current.items():
        old = previous.get(sid)
        if (old is None or old.item_id != new.item_id or old.event.state != new.event.state
                or old.event.position != new.event.position):
            events.append(new.event)
    return events


def with_known_position(previous: Playing | None, new: Playing) -> Playing | None:
    """`new`, or where its session reports no position (or the item no length), the position last
    reported for the same item; before any, no play yet: a start or pause at 0% would replace the
    resume point Simkl holds for the item."""
    if new.event.duration > 0:
        return new
    if previous is None or previous.item_id != new.item_id:
        return None
    return replace(new, event=replace(new.event, position=previous.event.position, duration=previous.event.duration))


def ended(previous: Snapshot, current: Snapshot) -> list[Playing]:
    """The plays of `previous` that are over in `current`: the session is gone or plays another item."""
    return [old for sid, old in previous.items() if sid not in current or current[sid].item_id != old.item_id]
