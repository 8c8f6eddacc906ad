"""Plex's websocket notifications (`/:/websockets/notifications`) with pings and a watchdog.

plexapi's AlertListener runs websocket-client without pings, so a connection that dies without a
close (a NAT entry dropped, a server frozen, a laptop resumed) leaves it waiting forever: the
most common failure of Plex scrobblers. This reader speaks the same protocol (one JSON
`{"NotificationContainer": {...}}` per text frame) but pings the server every `ping_interval`
seconds and gives up when nothing at all, neither a message nor a pong, arrived for `watchdog`
seconds. Giving up means returning control to the Supervisor, which reconnects with backoff.

websocket-client has pings and a pong timeout of its own, but only in `WebSocketApp.run_forever`,
which does not fit: its handshake has no timeout but the process-wide `setdefaulttimeout` (a
frozen server that accepts the connection holds it forever), it logs every lost connection at
ERROR with the exception's text (for a refused handshake, the reply's headers and whole page), and
its first ping waits a whole interval (so a live connection is known only then). The connection
itself, its frames and pings are websocket-client's; the loop below only decides when to ping and
when to give up.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websocket

from bridge.adapters.plex.map import is_key
from bridge.adapters.plex.sessions import STATES
from bridge.events import State
from bridge.wire import is_number

log = logging.getLogger("bridge.adapters.plex")


class SilentConnection(ConnectionError):
    """The watchdog fired: the socket is open but the server stopped answering."""


class AlertSocket:
    def __init__(self, url: str, *, ping_interval: float = 20.0, watchdog: float = 45.0, connect_timeout: float = 10.0):
        self.url = url  # carries the token: never logged
        self.ping_interval = ping_interval
        self.watchdog = watchdog
        self.connect_timeout = connect_timeout
        self._ws: websocket.WebSocket | None = None

    def open(self) -> None:
        try:
            self._ws = websocket.create_connection(self.url, timeout=self.connect_timeout)
        except websocket.WebSocketBadStatusException as exc:
            # Its text holds the reply's headers and whole body (Plex's HTML page): many lines for one fact.
            raise ConnectionError(f"notifications refused with HTTP {exc.status_code}") from None
        # Short reads so pings go out and the watchdog is checked on time even when all is quiet.
        self._ws.settimeout(min(1.0, self.ping_interval / 2))

    def close(self) -> None:
        """From the serving thread: a polite close frame (websocket-client closes the socket even
        when sending it fails)."""
        if self._ws is not None:
            self._ws.close(timeout=0.2)

    def abort(self) -> None:
        """From any thread: drop the socket so a blocked read returns at once."""
        if self._ws is not None:
            self._ws.abort()  # type: ignore[no-untyped-call]  # websocket-client leaves it unannotated

    def serve(self, on_container: Callable[[dict[str, Any]], None], stop: threading.Event,
              on_alive: Callable[[], None] = lambda: None) -> None:
        """Deliver each NotificationContainer until the server closes, the watchdog fires or `stop`.

        `on_alive` runs once, when the server first answers (a pong or a message): a socket that
        opens and closes at once is not a connection worth resetting the backoff for."""
        ws = self._ws
        if ws is None:
            raise ConnectionError("not open")
        last_heard = time.monotonic()
        last_ping = float("-inf")
        alive = False
        while not stop.is_set():
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                opcode, frame = None, None
            except (websocket.WebSocketConnectionClosedException, OSError):
                if stop.is_set():
                    return
                raise
            now = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return
            if opcode is not None:
                last_heard = now
                if not alive:
                    alive = True
                    on_alive()
            if opcode == websocket.ABNF.OPCODE_TEXT:
                container = parse_container(frame.data)
                if container is not None:
                    on_container(container)
            if now - last_heard > self.watchdog:
                raise SilentConnection(f"no message or pong for {self.watchdog:g} s")
            if now - last_ping >= self.ping_interval:
                ws.ping(b"simkl-bridge")
                last_ping = now


def parse_container(data: bytes | str) -> dict[str, Any] | None:
    """One text frame -> its NotificationContainer; None (and one log line) for anything else."""
    try:
        message = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("plex alert ignored: not JSON (%s)", exc)
        return None
    container = message.get("NotificationContainer") if isinstance(message, dict) else None
    if not isinstance(container, dict):
        log.warning("plex alert ignored: no NotificationContainer object")
        return None
    return container


@dataclass(frozen=True)
class Report:
    """One session's state as a `playing` alert tells it (no user: /status/sessions has that)."""

    session: str
    rating_key: str
    state: State
    position: float  # seconds


def playing(container: dict[str, Any]) -> tuple[list[Report], list[str]]:
    """A NotificationContainer -> the sessions it reports, and why entries were not usable. Only
    `playing` notifications are about playback (timeline, activity, status … are not)."""
    if container.get("type") != "playing":
        return [], []
    entries = container.get("PlaySessionStateNotification")
    if not isinstance(entries, list):
        return [], ["PlaySessionStateNotification is not a list"]
    reports, problems = [], []
    for entry in entries:
        problem = bad_notification(entry)
        if problem:
            problems.append(problem)
        elif entry["state"] in STATES:  # `buffering` is transient: the next alert says more
            reports.append(Report(str(entry["sessionKey"]), str(entry["ratingKey"]), STATES[entry["state"]],
                                  entry["viewOffset"] / 1000))
    return reports, problems


def bad_notification(entry: Any) -> str:
    """Why a PlaySessionStateNotification cannot be used ('' when it can)."""
    if not isinstance(entry, dict):
        return f"entry is a {type(entry).__name__}, not an object"
    for name in ("sessionKey", "ratingKey"):
        if not is_key(entry.get(name)):
            return f"{name} {entry.get(name)!r} is not a key"
    offset = entry.get("viewOffset")
    if not is_number(offset) or offset < 0:
        return f"viewOffset {offset!r} is not milliseconds"
    if not isinstance(entry.get("state"), str):
        return f"state {entry.get('state')!r} is not a string"
    return ""
