"""What Kodi is playing, as far as the bridge knows. Pure: no sockets, no clock of its own.

OnStop carries no position, so a `Play` keeps the last position Kodi reported (at start, pause,
resume, seek and heartbeat) with the time it was read, and extrapolates while playing. Kodi says
nothing while a film simply plays, so the position is also read every `heartbeat` seconds: that
bounds the extrapolation and tells the engine the session is alive (it closes sessions silent for
its `session_timeout`, at least 60 s).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bridge.adapters.kodi.map import seconds
from bridge.events import PlayEvent, State
from bridge.wire import is_count

Identity = tuple[str, int]


@dataclass(frozen=True)
class Play:
    """One viewing in progress."""

    event: PlayEvent  # ids and numbers of the item; position as last read
    item: Identity
    playerid: int
    read_at: float  # when `event.position` was read
    playing: bool
    beat_at: float = 0.0  # when the position was last read or tried (heartbeat)
    # Picked up by a (re)connection rather than by its OnAVStart, which may still be on its way.
    resynced: bool = False

    def position(self, now: float) -> float:
        pos = self.event.position + (now - self.read_at if self.playing else 0.0)
        return min(pos, self.event.duration) if self.event.duration else pos

    def read(self, now: float, position: float, playing: bool) -> Play:
        """The play as Kodi reported it at `now`."""
        event = replace(self.event, position=position, state=State.PLAYING if playing else State.PAUSED, at=now)
        return replace(self, event=event, read_at=now, beat_at=now, playing=playing)

    def stopped(self, at: float, end: bool) -> PlayEvent:
        """The stop of this viewing at `at`; `end`: Kodi played it to the end."""
        position = self.event.duration if end and self.event.duration else self.position(at)
        return replace(self.event, position=position, state=State.STOPPED, at=at)

    def heartbeat_in(self, heartbeat: float, now: float) -> float:
        """Seconds until the position is due to be read again (0: now)."""
        return max(0.0, self.beat_at + heartbeat - now)

    def is_item(self, item: dict[str, Any]) -> bool:
        """Whether Kodi's `item` is the one this viewing plays: after a reconnection, the same item
        in the player carries the viewing on, another one means it ended while the link was down."""
        return identity(item) == self.item

    def started_again(self, item: dict[str, Any]) -> bool:
        """Whether an OnAVStart of `item` is the late start of the play a connection picked up: a
        new start of the same item would have come after an OnStop, which ends the play."""
        return self.resynced and self.is_item(item)


def identity(item: dict[str, Any]) -> Identity:
    """Kodi's (type, library id): tells a new item from the same one."""
    lid = item.get("id")
    return str(item.get("type")), lid if is_count(lid) else -1


def reported_position(player: dict[str, Any], known: float) -> float:
    """Kodi's reported time when it gave one (0 after a seek to the start is a real answer)."""
    return seconds(player["time"]) if isinstance(player.get("time"), dict) else known


def playerid(player: dict[str, Any]) -> int:
    # Video is player 1 on every Kodi seen so far, but the id is Kodi's to choose.
    pid = player.get("playerid")
    return pid if is_count(pid) else 1
