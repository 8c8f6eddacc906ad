"""A tiny real server for media-server stand-ins: HTTP routes and websockets on one 127.0.0.1 port.

Plex serves its REST API and `/:/websockets/notifications` on one port, Jellyfin its API and
`/socket` likewise, so the stand-ins need both on one port. The websocket side implements just
what RFC 6455 asks of a server for text messages: the handshake, unmasking client frames,
answering pings, and closing. It can also go silent (`freeze`) to imitate a connection that dies
without a close, and restart on the same port to imitate a server restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]  # lower-cased names
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


# A handler answers (status, body) or (status, body, extra headers); a dict/list body is sent as JSON.
Reply = tuple
Handler = Callable[[Req], Reply]


class WsConn:
    """One accepted websocket. `send` is thread-safe; received text messages land in `inbox`."""

    def __init__(self, sock: socket.socket, req: Req):
        self.sock = sock
        self.req = req
        self.inbox: queue.Queue[str] = queue.Queue()
        self.closed = threading.Event()
        self.frozen = threading.Event()
        self._lock = threading.Lock()

    def send(self, message: str | dict | list) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        self._frame(0x1, text.encode())

    def close(self) -> None:
        if not self.closed.is_set():
            try:
                self._frame(0x8, struct.pack("!H", 1001))
            except OSError:
                pass
        self._shutdown()

    def _frame(self, opcode: int, payload: bytes) -> None:
        if self.frozen.is_set() or self.closed.is_set():
            return
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        with self._lock:
            self.sock.sendall(header + payload)

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("peer closed")
            data += chunk
        return data

    def serve(self) -> None:
        """Read frames until the peer closes (runs on the request's handler thread)."""
        try:
            while not self.closed.is_set():
                b1, b2 = self._read_exact(2)
                opcode, n = b1 & 0x0F, b2 & 0x7F
                if n == 126:
                    (n,) = struct.unpack("!H", self._read_exact(2))
                elif n == 127:
                    (n,) = struct.unpack("!Q", self._read_exact(8))
                mask = self._read_exact(4) if b2 & 0x80 else b"\0\0\0\0"
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(self._read_exact(n)))
                if self.frozen.is_set():
                    continue  # a dead server: reads nothing, answers nothing
                if opcode == 0x1:
                    self.inbox.put(payload.decode("utf-8", "replace"))
                elif opcode == 0x9:
                    self._frame(0xA, payload)
                elif opcode == 0x8:
                    self._frame(0x8, payload[:2])
                    return
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


@dataclass
class StandIn:
    """Register `route`s and `websocket` paths, then `start()`. `url` is http://127.0.0.1:PORT."""

    port: int = 0
    routes: list[_Route] = field(default_factory=list)
    ws_routes: dict[str, Callable[[WsConn], None]] = field(default_factory=dict)
    # path -> a check run before the handshake: an HTTP status answers the request instead of upgrading it
    ws_refusals: dict[str, Callable[[Req], int | None]] = field(default_factory=dict)
    sockets: list[WsConn] = field(default_factory=list)
    requests: list[Req] = field(default_factory=list)  # every HTTP request, for assertions
    _server: ThreadingHTTPServer | None = None

    def route(self, method: str, path_regex: str, handler: Handler) -> None:
        self.routes.append(_Route(method.upper(), re.compile(path_regex), handler))

    def websocket(self, path: str, on_open: Callable[[WsConn], None],
                  refuse: Callable[[Req], int | None] | None = None) -> None:
        """`on_open(conn)` runs when a client connects (e.g. to send a greeting); then frames are read.
        `refuse(req)`, when given, may answer the upgrade request with an HTTP status instead."""
        self.ws_routes[path] = on_open
        if refuse is not None:
            self.ws_refusals[path] = refuse

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self.url

    def stop(self) -> None:
        """Stop listening and close every websocket, as a server shutting down does."""
        for conn in list(self.sockets):
            conn.close()
        self.sockets.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self) -> None:
        """Every open websocket goes silent without closing: a connection that died quietly."""
        for conn in self.sockets:
            conn.frozen.set()

    def broadcast(self, message: str | dict | list) -> None:
        for conn in list(self.sockets):
            if not conn.closed.is_set():
                conn.send(message)

    def connected(self) -> int:
        return sum(1 for c in self.sockets if not c.closed.is_set() and not c.frozen.is_set())

    def __enter__(self) -> StandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                length = int(headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                req = Req(self.command, parts.path, query, headers, body)
                standin.requests.append(req)
                if headers.get("upgrade", "").lower() == "websocket" and parts.path in standin.ws_routes:
                    refuse = standin.ws_refusals.get(parts.path)
                    status = refuse(req) if refuse is not None else None
                    if status is not None:
                        self._reply(status, {"error": "websocket refused"})
                        self.close_connection = True
                    else:
                        self._upgrade(req, standin.ws_routes[parts.path])
                    return
                for route in standin.routes:
                    m = route.pattern.fullmatch(parts.path)
                    if route.method == self.command and m:
                        req.match = m
                        self._reply(*route.handler(req))
                        return
                self._reply(404, {"error": f"no stand-in route for {self.command} {parts.path}"})

            def _reply(self, status: int, payload: Any = b"", extra: dict[str, str] | None = None) -> None:
                ctype = "application/json"
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    data, ctype = payload.encode(), "text/xml; charset=utf-8"
                else:
                    data = payload
                self.send_response(status)
                headers = {"Content-Type": ctype, "Content-Length": str(len(data)), **(extra or {})}
                if self.close_connection:
                    # RFC 9112 9.6: a server closing after this reply says so, or the client pools the
                    # socket and its next request races the close (RemoteDisconnected)
                    headers.setdefault("Connection", "close")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _upgrade(self, req: Req, on_open: Callable[[WsConn], None]) -> None:
                key = req.headers.get("sec-websocket-key", "")
                accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
                self.send_response(101, "Switching Protocols")
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.end_headers()
                self.wfile.flush()
                conn = WsConn(self.connection, req)
                standin.sockets.append(conn)
                on_open(conn)
                conn.serve()
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return _Handler
