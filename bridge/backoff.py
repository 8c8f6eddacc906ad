"""The one backoff: jittered exponential delays, shared by adapters, the sender and the client.

base, 2*base, 4*base ... capped at `cap`, each scaled by a random factor in 0.5-1.0 so that many
waiting parties (adapters after a server restart, accounts after an outage) do not retry in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def delay(attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """The wait before retry number `attempt` (0 for the first retry)."""
    return float(min(cap, base * 2 ** max(0, attempt)) * (0.5 + 0.5 * rng()))


class Backoff:
    """`delay` with its attempt counter: `next()` grows, `reset()` after a success."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: Callable[[], float] = random.random):
        self.base, self.cap, self.rng = base, cap, rng
        self.attempt = 0

    def next(self) -> float:
        wait = delay(self.attempt, self.base, self.cap, self.rng)
        self.attempt += 1
        return wait

    def reset(self) -> None:
        self.attempt = 0
