"""The one HTTP server of the project: the bridge's endpoint (Plex and Jellyfin webhooks, the Kodi
addon's /event, a status page) and the local Simkl emulator both run on it.

Handlers are registered per route; this module only does transport: routing (exact paths and
`{name}` segments, HEAD wherever GET is, 405 for another method of a known path), size limits, the
shared secret, JSON replies with extra headers, and turning any handler failure into a one-line log
and an error status so one bad request never takes the server down. What a connection may do (its
timeouts, how many at once, how a body is framed) is bridge/http_conn.py.
"""

from __future__ import annotations

import hmac
import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

from bridge.http_conn import BoundedServer, RequestCut
from bridge.wire import EventError, loads

log = logging.getLogger("bridge.http")

MAX_BODY = 4 * 1024 * 1024  # Plex payloads with cast lists are ~20 KB; thumbnails are streamed past
# How long the serving loop sleeps with nothing to do; stop() wakes it early.
IDLE_POLL = 3600.0
# A request must arrive whole within READ_TIMEOUT s (a 4 MB body over a LAN takes well under one);
# a kept-alive connection waits IDLE_TIMEOUT s for the next; a reply must be taken within WRITE_TIMEOUT s.
READ_TIMEOUT, IDLE_TIMEOUT, WRITE_TIMEOUT = 30.0, 15.0, 10.0
# Served at once: the household's servers and players, with room to spare; one more is answered 503.
MAX_CONNECTIONS = 64


class HttpError(Exception):
    """Raised by a handler to answer `status` with a one-line reason (logged, sent as JSON)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class Hangup(Exception):
    """Raised by a handler to close the connection without any reply, as a crashing server would."""


@dataclass
class Response:
    """A reply with headers of its own (e.g. Retry-After); a handler may also return (status, body)."""

    status: int
    body: Any = None  # JSON-able, or str/bytes sent as text; a 204 sends nothing
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str  # without the secret segment, the query and a trailing slash
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    stream: BinaryIO  # the body, limited to content_length bytes
    content_length: int
    client: str = ""
    params: dict[str, str] = field(default_factory=dict)  # the route's {name} segments
    _body: bytes | None = field(default=None, repr=False)

    def body(self, limit: int = MAX_BODY) -> bytes:
        """The whole body (read once). Bodies over `limit` are refused with 413."""
        if self._body is None:
            if self.content_length > limit:
                raise HttpError(413, f"body of {self.content_length} bytes is over the {limit} byte limit")
            self._body = self.stream.read(self.content_length) if self.content_length else b""
        return self._body

    def json(self) -> Any:
        """The body as JSON (UTF-8, bounded: bridge.wire.loads); 400 when it is not."""
        try:
            return loads(self.body())
        except EventError as exc:
            raise HttpError(400, str(exc)) from None

    @property
    def consumed(self) -> bool:
        """Whether the whole body has been read, so the connection can carry another request."""
        return self._body is not None or self.content_length == 0


Handler = Callable[[Request], "tuple[int, Any] | Response"]


def _error_json(status: int, reason: str) -> Any:
    return {"error": reason}


@dataclass
class Route:
    method: str
    path: str  # as registered: exact, or with {name} segments
    handler: Handler
    secret: bool
    pattern: re.Pattern[str] | None = None  # set when the path has {name} segments

    def match(self, path: str) -> dict[str, str] | None:
        if self.pattern is None:
            return {} if path == self.path else None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


def _pattern(path: str) -> re.Pattern[str] | None:
    if "{" not in path:
        return None
    segments = (f"(?P<{s[1:-1]}>[^/]+)" if s.startswith("{") and s.endswith("}") else re.escape(s) for s in path.split("/"))
    return re.compile("/".join(segments))


class HttpServer:
    """Routes are exact paths or paths with `{name}` segments (exact ones win). Routes with
    secret=True accept the secret as a leading path segment (`/<secret>/plex`, the form media-server
    UIs can always store), a `secret` query parameter or an `X-Bridge-Secret` header.

    `fallback` answers what no route matches (default: 404); `error_body` shapes the JSON body of
    the server's own errors; `keep_alive` lets a client reuse its connection once the body is read."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, secret: str = "", *, name: str = "bridge-http",
                 keep_alive: bool = False, fallback: Handler | None = None,
                 error_body: Callable[[int, str], Any] = _error_json, read_timeout: float = READ_TIMEOUT,
                 idle_timeout: float = IDLE_TIMEOUT, write_timeout: float = WRITE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS):
        self.secret, self.name, self.keep_alive = secret, name, keep_alive
        self.fallback, self.error_body = fallback, error_body
        self.read_timeout, self.idle_timeout, self.write_timeout = read_timeout, idle_timeout, write_timeout
        self.routes: dict[tuple[str, str], Route] = {}
        self._server = BoundedServer((host, port), self, max_connections)
        self._thread: threading.Thread | None = None

    @property
    def refused(self) -> int:
        """Connections answered 503 because `max_connections` were being served."""
        return self._server.refused

    @property
    def serving(self) -> int:
        """Connections being served now, each by a thread of its own."""
        return self._server.serving

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def add_route(self, method: str, path: str, handler: Handler, secret: bool = True) -> None:
        self.routes[(method.upper(), path)] = Route(method.upper(), path, handler, secret, _pattern(path))

    def start(self) -> None:
        # The loop sleeps in select() until a connection comes: an idle bridge does not wake up to
        # look for a shutdown request (stop() wakes it instead).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(IDLE_POLL,), name=self.name,
                                         daemon=True)
        self._thread.start()
        log.info("%s listening on %s", self.name, self.url)

    def stop(self) -> None:
        # shutdown() waits for serve_forever forever, so only ask a loop that is running.
        if self._thread is not None:
            shutting = threading.Thread(target=self._server.shutdown, daemon=True)
            shutting.start()
            while shutting.is_alive():
                self._wake()
                shutting.join(0.05)
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def _wake(self) -> None:
        """A connection of our own, so that the sleeping loop sees the shutdown request."""
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, (bytes, bytearray)) else host
        try:
            socket.create_connection((name if name not in ("0.0.0.0", "::") else "localhost", port), timeout=1).close()
        except OSError:
            pass

    def _authorized(self, route: Route, given: str | None) -> bool:
        if not route.secret:
            return True
        if not self.secret or given is None:
            return False
        return hmac.compare_digest(given.encode(), self.secret.encode())

    def _find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        route = self.routes.get((method, path))
        if route is not None:
            return route, {}
        for route in self.routes.values():
            params = route.match(path) if route.method == method and route.pattern is not None else None
            if params is not None:
                return route, params
        return None

    def _resolve(self, method: str, path: str) -> tuple[Route, dict[str, str], str, str | None] | None:
        """(route, its params, the path it answers, the secret the path carried)."""
        found = self._find(method, path)
        if found is not None:
            return (*found, path, None)
        if path.count("/") >= 2:
            head, rest = path[1:].split("/", 1)
            found = self._find(method, "/" + rest)
            if found is not None and found[0].secret:  # /<secret>/rest-of-path
                return (*found, "/" + rest, head)
        return None

    def _allowed(self, path: str) -> list[str]:
        """The methods some route answers at `path` (HEAD wherever GET is)."""
        methods = {m for m in {r.method for r in self.routes.values()} if self._resolve(m, path) is not None}
        return sorted(methods | ({"HEAD"} if "GET" in methods else set()))

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], stream: BinaryIO,
                 client: str) -> tuple[Response | None, Request | None]:
        """The reply (None: the handler hung up), and the request when a handler saw it."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        path = parts.path.rstrip("/") or "/"
        resolved = self._resolve("GET" if method == "HEAD" else method, path)
        if resolved is None and self.fallback is not None:
            resolved = Route(method, path, self.fallback, secret=False), {}, path, None
        if resolved is None:
            allowed = self._allowed(path)
            if allowed:
                return Response(405, self.error_body(405, f"{method} is not allowed here (allowed: {', '.join(allowed)})"),
                                {"Allow": ", ".join(allowed)}), None
            return Response(404, self.error_body(404, "no such route")), None
        route, params, path, in_path = resolved
        given = in_path or headers.get("x-bridge-secret") or next(iter(query.get("secret", [])), None)
        if not self._authorized(route, given):
            log.warning("%s %s from %s: refused, missing or wrong secret", method, path, client)
            return Response(403, self.error_body(403, "missing or wrong secret")), None
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            return Response(400, self.error_body(400, "bad Content-Length")), None
        request = Request(method, path, query, headers, stream, max(0, length), client, params)
        try:
            reply = route.handler(request)
        except Hangup:
            return None, request
        except (HttpError, RequestCut) as exc:
            status, reason = (exc.status, exc.reason) if isinstance(exc, HttpError) else (exc.status, str(exc))
            log.warning("%s %s from %s: %s", method, path, client, reason)
            extra = exc.headers if isinstance(exc, HttpError) else {}
            return Response(status, self.error_body(status, reason), extra), request
        except Exception as exc:  # a handler bug must not take the server down
            log.error("%s %s from %s: handler failed: %s: %s", method, path, client, type(exc).__name__, exc)
            return Response(500, self.error_body(500, "internal error")), request
        return (reply if isinstance(reply, Response) else Response(*reply)), request
