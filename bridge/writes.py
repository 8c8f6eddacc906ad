"""A Simkl write decided by the engine and carried by the outbox. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HISTORY = "history"
PAUSE = "pause"
START = "start"
KINDS = (HISTORY, PAUSE, START)


@dataclass(frozen=True)
class Write:
    account: str  # Simkl account name from the config
    kind: str  # HISTORY | PAUSE | START
    item_key: str  # PlayEvent.item_key: the same item gives the same key
    idem_key: str  # one per logical write; enqueueing an existing key again is a no-op
    body: dict[str, Any]  # history: single-item /sync/history body; pause/start: /scrobble body
    at: float  # epoch seconds when the engine decided it
