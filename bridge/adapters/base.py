"""What every adapter shares: the Adapter protocol and a connection supervisor.

The supervisor is the cure for "a listener that dies quietly": it keeps calling `listen` (which
blocks while the connection is healthy and returns or raises when it is not), waits a jittered,
growing backoff between attempts, and while the connection is down calls `poll` at a modest
interval so that stops are not missed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable, Protocol

from bridge.events import PlayEvent, Resume

Sink = Callable[[PlayEvent], None]


class Adapter(Protocol):
    name: str

    def start(self, sink: Sink) -> None:
        """Begin listening (non-blocking: threads inside). Every PlayEvent goes to `sink`."""

    def stop(self) -> None: ...

    def resume_owner(self) -> tuple[str, str, str] | None:
        """(source, server, user) whose resume points `apply_resume` sets, or None when it sets
        none. The daemon hands an adapter only the playbacks of the account that user maps to,
        so one person's pause never becomes another's resume point."""

    def apply_resume(self, resumes: list[Resume]) -> int:
        """Set the server's resume points from Simkl's where Simkl's are newer; return how many."""


def one_line(text: str, limit: int = 200) -> str:
    """A connection error as one log line: servers and proxies answer with whole pages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Backoff:
    """Jittered exponential delays: base, 2*base, 4*base ... capped, each scaled by 0.5-1.0."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: Callable[[], float] = random.random):
        self.base, self.cap, self.rng = base, cap, rng
        self.attempt = 0

    def next(self) -> float:
        delay = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        return delay * (0.5 + 0.5 * self.rng())

    def reset(self) -> None:
        self.attempt = 0


class Supervisor:
    """Runs `listen(stop, connected)` in a thread for as long as the adapter lives.

    `listen` must set `connected` once its connection is up, block while it is healthy (returning
    promptly when `stop` is set), and return or raise when the connection is lost.
    """

    def __init__(
        self,
        name: str,
        listen: Callable[[threading.Event, threading.Event], None],
        poll: Callable[[], None] | None = None,
        poll_interval: float = 30.0,
        backoff: Backoff | None = None,
        log: logging.Logger | None = None,
    ):
        self.name = name
        self.listen = listen
        self.poll = poll
        self.poll_interval = poll_interval
        self.backoff = backoff or Backoff()
        self.log = log or logging.getLogger("bridge.adapters")
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.failures = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"adapter-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.listen(self.stopping, self.connected)
                reason = "connection closed"
            except Exception as exc:  # any failure of a connection is a reason to reconnect
                reason = one_line(f"{type(exc).__name__}: {exc}")
            was_up = self.connected.is_set()
            self.connected.clear()
            if self.stopping.is_set():
                return
            if was_up:
                self.backoff.reset()
                self.failures = 0
            self.failures += 1
            # One line when the link drops; later failed attempts only at debug level.
            level = logging.WARNING if self.failures == 1 else logging.DEBUG
            self.log.log(level, "%s: disconnected (%s); reconnecting with backoff", self.name, reason)
            self._wait_polling(self.backoff.next())

    def _wait_polling(self, delay: float) -> None:
        deadline = time.monotonic() + delay
        while not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.poll is not None:
                try:
                    self.poll()
                except Exception as exc:
                    self.log.debug("%s: poll while disconnected failed: %s", self.name, exc)
                self.stopping.wait(min(remaining, self.poll_interval))
            else:
                self.stopping.wait(remaining)
