"""The connections of the one HTTP server (bridge/http.py), for an endpoint any device on the LAN can reach.

- A request (its line, headers and body) must arrive within `read_timeout` seconds in all, however slowly its
  bytes trickle in; a kept-alive connection waits `idle_timeout` for its next request. Past either, the
  connection is closed (408 when a request was under way) and its thread is free again.
- At most `max_connections` are served at once: one more is answered 503 at once and closed, without a thread.
- A body that ends before its Content-Length (a client that half-closed) is refused, never handed on as if whole.
- One Content-Length of ASCII digits, and no Transfer-Encoding: what a proxy and this server take for the body
  must be the same bytes.
- The server's own errors are JSON like the handlers'; a client that goes away is a debug line, never a traceback.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from bridge.wire import shown

if TYPE_CHECKING:
    from bridge.http import HttpServer

log = logging.getLogger("bridge.http")

_LENGTH = re.compile(r"[0-9]{1,12}", re.ASCII)


class RequestCut(Exception):
    """The request did not arrive whole: its body ended early (400) or did not come in time (408)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


class _Deadline(io.RawIOBase):
    """The socket's bytes, every read waiting at most until `deadline` (time.monotonic)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline = float("inf")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class Body:
    """A request's body: `length` bytes of the connection, read as the handler asks for them."""

    def __init__(self, rfile: io.BufferedIOBase, length: int, timeout: float):
        self.rfile, self.length, self.left, self.timeout = rfile, length, length, timeout

    def read(self, n: int = -1) -> bytes:
        want = self.left if n < 0 else min(n, self.left)
        if want <= 0:
            return b""
        try:
            data = self.rfile.read(want)
        except TimeoutError:
            raise RequestCut(408, f"the request did not arrive within {self.timeout:g} s") from None
        self.left -= len(data)
        if len(data) < want:
            raise RequestCut(400, f"the body ended after {self.length - self.left} of {self.length} bytes")
        return data


class BoundedServer(ThreadingHTTPServer):
    daemon_threads = True
    # The kernel's queue of connections not yet accepted (socketserver's 5 drops a burst's SYNs: a
    # second's wait each).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: HttpServer, max_connections: int):
        self.app = app
        self.slots = threading.BoundedSemaphore(max_connections)
        self.max_connections = max_connections
        self.refused = 0  # connections answered 503 for want of a slot, since start
        self.serving = 0  # connections with a thread of their own now
        self._count = threading.Lock()
        super().__init__(address, Handler)

    def _serving(self, change: int) -> None:
        with self._count:
            self.serving += change

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.refused += 1
            level = logging.WARNING if self.refused % 100 == 1 else logging.DEBUG
            log.log(level, "%s: %d connections at once, the most it serves: one from %s refused (503; %d so far)",
                    self.app.name, self.max_connections, client_address[0], self.refused)
            _busy(request, self.app.error_body(503, "too many connections at once; try again shortly"))
            self.shutdown_request(request)
            return
        self._serving(1)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._serving(-1)
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._serving(-1)
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The stdlib's own prints a traceback on stderr.
        exc = sys.exc_info()[1]
        level = logging.DEBUG if isinstance(exc, (ConnectionError, TimeoutError)) else logging.ERROR
        log.log(level, "%s: connection from %s: %s: %s", self.app.name, client_address[0], type(exc).__name__, exc)


def _busy(sock: socket.socket, body: Any) -> None:
    data = json.dumps(body).encode()
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Retry-After: 1\r\nConnection: close\r\n\r\n").encode()
    try:
        sock.setblocking(False)  # the accept loop never waits on a client
        sock.send(head + data)
    except OSError:
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two sends; with Nagle on, the body waits for the peer's delayed ACK
    # (about 40 ms a reply).
    disable_nagle_algorithm = True
    server: BoundedServer

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self._clock = _Deadline(self.connection)
        self.rfile = io.BufferedReader(self._clock)
        self._served = 0

    def handle_one_request(self) -> None:
        app = self.server.app
        self.close_connection = True
        self._clock.deadline = time.monotonic() + (app.idle_timeout if self._served else app.read_timeout)
        started = False  # a timeout before the request line is an idle connection closed, not an error
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                return
            started = True
            self._clock.deadline = time.monotonic() + app.read_timeout
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414, "request line too long")
                return
            if not self.parse_request():
                return
        except TimeoutError:
            if started:
                self.send_error(408, f"the request did not arrive within {app.read_timeout:g} s")
            return
        except ConnectionError as exc:
            log.debug("%s: %s went away: %s", app.name, self.client_address[0], exc)
            return
        self._served += 1
        try:
            self._answer()
        except (ConnectionError, TimeoutError) as exc:
            log.debug("%s: %s went away before its reply was sent: %s", app.name, self.client_address[0], exc)
            self.close_connection = True

    def _answer(self) -> None:
        app = self.server.app
        problem = self._framing()
        if problem is not None:
            self.send_error(*problem)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = Body(self.rfile, length, app.read_timeout)
        reply, request = app.dispatch(self.command, self.path, headers, cast(BinaryIO, body), self.client_address[0])
        if reply is None:  # the handler hung up
            self.close_connection = True
            return
        data, ctype = (b"", None) if reply.status == 204 else encode(reply.body)
        self.connection.settimeout(app.write_timeout)
        self.send_response(reply.status)
        if ctype is not None:
            # a reply's own Content-Type (an HTML page) wins over the one its body type implies
            self.send_header("Content-Type", reply.headers.pop("Content-Type", ctype))
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        # A body that was not read (refused early) would desync the next request: close.
        self.close_connection = not (app.keep_alive and request is not None and request.consumed)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _framing(self) -> tuple[int, str] | None:
        """Why the body's extent cannot be told for sure, if it cannot."""
        if self.headers.get("Transfer-Encoding") is not None:
            return 411, "Transfer-Encoding is not accepted: send the body with a Content-Length"
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            return 400, "more than one Content-Length"
        if lengths and not _LENGTH.fullmatch(lengths[0].strip(" \t")):
            return 400, f"Content-Length {shown(lengths[0], 40)} is not a number of bytes"
        return None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The server's own refusals (bad request line, headers, framing, timeouts), as JSON."""
        self.close_connection = True
        data = json.dumps(self.server.app.error_body(code, message or explain or "bad request")).encode()
        try:
            self.connection.settimeout(self.server.app.write_timeout)
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if getattr(self, "command", "") != "HEAD":
                self.wfile.write(data)
        except (ConnectionError, TimeoutError) as exc:
            log.debug("%s: %s went away before its error was sent: %s", self.server.app.name, self.client_address[0], exc)

    def log_message(self, format: str, *args: Any) -> None:
        # The stdlib line holds the request path, which may carry the secret: say nothing.
        pass


def encode(body: Any) -> tuple[bytes, str]:
    if isinstance(body, (bytes, str)):
        return (body.encode() if isinstance(body, str) else body), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"
