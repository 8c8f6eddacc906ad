"""One playback at a time, as the player callbacks report it -> events for the queue.

Kodi's stop callbacks come after the player let go of the file, so they cannot ask for the
position: the last position read while playing is kept here and used for them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kodibridge import events

log = logging.getLogger("kodibridge.playback")

# While playing, a progress event this often: the bridge closes sessions silent for 30 minutes.
HEARTBEAT = 300.0


@dataclass(frozen=True)
class Who:
    user: str
    server: str


@dataclass
class Play:
    item: events.Item
    session: str
    position: float
    duration: float
    paused: bool = False
    last_sent: float = 0.0


class Playback:
    def __init__(self, emit: Callable[[dict[str, Any]], None], who: Callable[[], Who]):
        self.emit = emit  # puts one event on the disk queue
        self.who = who
        self.play: Play | None = None

    def started(self, item: events.Item, position: float, duration: float, now: float) -> None:
        if self.play is not None:
            # The next playlist item started without a stop for the previous one.
            self._send("stopped", now)
        self.play = Play(item, uuid.uuid4().hex, position, duration)
        self._send("playing", now)

    # A position of None means the player could not say: the last one read stands.

    def paused(self, position: float | None, now: float) -> None:
        self._moved(position, now, paused=True)

    def resumed(self, position: float | None, now: float) -> None:
        self._moved(position, now, paused=False)

    def seeked(self, position: float | None, now: float) -> None:
        if self.play is not None:
            self._moved(position, now, paused=self.play.paused)

    def stopped(self, now: float) -> None:
        """The user stopped: the last position read while playing is where it stopped."""
        if self.play is not None:
            self._send("stopped", now)
            self.play = None

    def ended(self, now: float) -> None:
        """Played to its natural end."""
        if self.play is not None:
            self.play.position = max(self.play.position, self.play.duration)
            self.stopped(now)

    def tick(self, position: float, duration: float, now: float) -> None:
        """Called about every second while a video plays: keeps the position for the stop."""
        if self.play is None:
            return
        self.play.position = position
        if duration > 0:
            self.play.duration = duration
        if not self.play.paused and now - self.play.last_sent >= HEARTBEAT:
            self._send("playing", now)

    def _moved(self, position: float | None, now: float, paused: bool) -> None:
        if self.play is None:
            return
        if position is not None:
            self.play.position = position
        self.play.paused = paused
        self._send("paused" if paused else "playing", now)

    def _send(self, state: str, now: float) -> None:
        play = self.play
        assert play is not None
        who = self.who()
        play.last_sent = now
        self.emit(events.event(play.item, state=state, position=play.position, duration=play.duration,
                               session=play.session, user=who.user, server=who.server, at=now))
