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

    @property
    def item_key(self) -> str:
        return self.item.key
