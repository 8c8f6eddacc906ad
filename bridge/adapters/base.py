"""What every adapter shares: the Adapter protocol and the one adapter skeleton.

`AdapterBase` is the lifecycle all three servers use: a `Supervisor` that keeps the server's live
connection up (the cure for "a listener that dies quietly": it keeps calling `listen`, which blocks
while the connection is healthy, waits a jittered growing backoff between attempts, and polls while
the connection is down so that stops are not missed), an inbox drained by one worker thread (the
reader only queues, so handling a message, which may need HTTP calls to the server, never holds up
the connection's pings), log-once, and a stop that ends both threads.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from bridge.backoff import Backoff
from bridge.events import PlayEvent, Resume
from bridge.library import LibraryHolder, TitleHolder

if TYPE_CHECKING:
    from bridge.http import HttpServer

Sink = Callable[[PlayEvent], None]
Listen = Callable[[threading.Event, threading.Event], None]
# What the worker hands `_handle` when the inbox stayed empty for `_idle_timeout()` seconds.
IDLE = "idle"
# Entries a memory keyed by item or session keeps (`remember`): a big library, not unbounded, as a
# daemon runs for months.
MEMORY_LIMIT = 5000
_remembering = threading.Lock()  # webhook threads, the worker and the listener share memories


class Adapter(Protocol):
    name: str  # "<source>/<configured server name>"

    def register_routes(self, http: HttpServer, sink: Sink) -> None:
        """Add this server's webhook routes (if any) to the bridge's HTTP endpoint; called before start."""

    def start(self, sink: Sink) -> None:
        """Begin listening (non-blocking: threads inside). Every PlayEvent goes to `sink`."""

    def stop(self) -> None: ...

    def resume_owner(self) -> tuple[str, str, str] | None:
        """(source, server, user) whose resume points `apply_resume` sets, or None when it sets
        none. The daemon hands an adapter only the playbacks of the account that user maps to,
        so one person's pause never becomes another's resume point."""

    def apply_resume(self, resumes: list[Resume]) -> int:
        """Set the server's resume points from Simkl's where Simkl's are newer; return how many."""

    def library(self) -> LibraryHolder | None:
        """The server's library for the sync (the `resume_owner`'s), or None when it offers none."""

    def titles(self) -> TitleHolder | None:
        """The same owner's movies and shows with ratings and lists, or None when it offers none."""


def one_line(text: str, limit: int = 200) -> str:
    """A connection error as one log line: servers and proxies answer with whole pages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def remember(memory: dict[Any, Any], key: Any, value: Any) -> None:
    """Store `key` as the newest entry, forgetting the oldest past MEMORY_LIMIT."""
    with _remembering:
        memory.pop(key, None)
        memory[key] = value
        if len(memory) > MEMORY_LIMIT:
            del memory[next(iter(memory))]


class Supervisor:
    """Runs `listen(stop, connected)` in a thread for as long as the adapter lives.

    `listen` must set `connected` once its connection is up, block while it is healthy (returning
    promptly when `stop` is set), and return or raise when the connection is lost.
    """

    def __init__(
        self,
        name: str,
        listen: Listen,
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
        self.disconnects = 0  # connections that were up and dropped, for /metrics
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
                self.disconnects += 1
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


class AdapterBase:
    """The skeleton of an adapter; a server's adapter fills in the hooks below.

    Hooks: `_listen(stop, connected)` holds the live connection (run by the Supervisor) and
    `_post`s what it hears; `_handle(kind, data)` acts on one message in the worker thread;
    optionally `_poll()` (while disconnected, when `poll_interval` is given), `_abort()` (wake the
    listener out of a blocking read at stop), `_idle_timeout()` (seconds until the worker wants an
    IDLE message), `_add_routes(http)` and `listens` (False: webhooks only, no connection).
    """

    source = ""  # "plex" | "jellyfin" | "kodi"
    # Failures of the server itself (unreachable, refused): a warning, where a surprise is an error.
    expected_errors: tuple[type[Exception], ...] = ()

    def __init__(self, server: str, *, log: logging.Logger, backoff: Backoff | None = None,
                 poll_interval: float | None = None):
        self.server_name = server
        self.name = f"{self.source}/{server}"
        self.log = log
        self._sink: Sink | None = None
        self._inbox: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._told: dict[str, None] = {}  # things said once, as a bounded memory (`remember`)
        self.supervisor = Supervisor(self.name, self._listen, poll=self._poll if poll_interval is not None else None,
                                     poll_interval=poll_interval or 30.0, backoff=backoff or Backoff(1.0, 60.0), log=log)

    # -- the Adapter protocol -------------------------------------------------------------------

    @property
    def listens(self) -> bool:
        return True

    def register_routes(self, http: HttpServer, sink: Sink) -> None:
        self._sink = sink  # the bridge registers routes before it starts adapters
        self._add_routes(http)

    def start(self, sink: Sink) -> None:
        self._sink = sink
        if not self.listens:
            return
        self._worker = threading.Thread(target=self._work, name=f"{self.name}-worker", daemon=True)
        self._worker.start()
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stopping.set()
        self._abort()
        self.supervisor.stop()
        self._inbox.put(None)
        if self._worker is not None:
            self._worker.join(5)

    def resume_owner(self) -> tuple[str, str, str] | None:
        return None

    def apply_resume(self, resumes: list[Resume]) -> int:
        return 0

    def library(self) -> LibraryHolder | None:
        return None

    def titles(self) -> TitleHolder | None:
        return None

    # -- hooks ----------------------------------------------------------------------------------

    def _listen(self, stop: threading.Event, connected: threading.Event) -> None:
        raise NotImplementedError

    def _handle(self, kind: str, data: Any) -> None:
        raise NotImplementedError

    def _poll(self) -> None:
        """While disconnected (Supervisor thread); only called when a poll_interval was given."""

    def _abort(self) -> None:
        """Close the live connection so that the listener returns at once."""

    def _idle_timeout(self) -> float | None:
        return None

    def _add_routes(self, http: HttpServer) -> None:
        """No routes unless the server has webhooks."""

    # -- for the hooks --------------------------------------------------------------------------

    def _post(self, kind: str, data: Any = None) -> None:
        """Hand a message to the worker (from the listener, a poll or a webhook thread)."""
        self._inbox.put((kind, data))

    def _send(self, event: PlayEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def _once(self, what: str, level: int, message: str, *args: Any) -> None:
        """Log `message` the first time `what` happens; `_forget(what)` lets it be said again."""
        if what not in self._told:
            remember(self._told, what, None)
            self.log.log(level, "%s: " + message, self.name, *args)

    def _forget(self, what: str) -> None:
        with _remembering:  # not while `remember` trims the memory
            self._told.pop(what, None)

    def _work(self) -> None:
        while True:
            try:
                message = self._inbox.get(timeout=self._idle_timeout())
            except queue.Empty:
                message = (IDLE, None)
            if message is None:
                return
            kind, data = message
            try:
                self._handle(kind, data)
            except self.expected_errors as exc:
                self.log.warning("%s: %s failed: %s", self.name, kind, exc)
            except Exception as exc:  # a surprise in one message must not stop the next
                self.log.error("%s: %s failed: %s: %s", self.name, kind, type(exc).__name__, exc)
