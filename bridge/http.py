"""The bridge's own small HTTP endpoint: Plex and Jellyfin webhooks, the Kodi addon, a status page.

Adapters register routes; this module only does transport: size limits, the shared secret, JSON
replies, and turning any handler failure into a one-line log and an error status so one bad request
never takes the endpoint down.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO, Callable
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("bridge.http")

MAX_BODY = 4 * 1024 * 1024  # Plex payloads with cast lists are ~20 KB; thumbnails are streamed past


class HttpError(Exception):
    """Raised by a handler to answer `status` with a one-line reason (logged, sent as JSON)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Request:
    method: str
    path: str  # without the secret segment and without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    stream: BinaryIO  # the body, limited to content_length bytes
    content_length: int
    client: str = ""
    _body: bytes | None = field(default=None, repr=False)

    def body(self, limit: int = MAX_BODY) -> bytes:
        """The whole body (read once). Bodies over `limit` are refused with 413."""
        if self._body is None:
            if self.content_length > limit:
                raise HttpError(413, f"body of {self.content_length} bytes is over the {limit} byte limit")
            self._body = self.stream.read(self.content_length) if self.content_length else b""
        return self._body

    def json(self) -> Any:
        try:
            return json.loads(self.body())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HttpError(400, f"body is not JSON ({exc})") from None


Handler = Callable[[Request], "tuple[int, Any]"]


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    secret: bool


class HttpServer:
    """Routes are exact paths. Routes with secret=True accept the secret as a leading path segment
    (`/<secret>/plex`, the form media-server UIs can always store), a `secret` query parameter or an
    `X-Bridge-Secret` header."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, secret: str = ""):
        self.secret = secret
        self.routes: dict[tuple[str, str], Route] = {}
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_route(self, method: str, path: str, handler: Handler, secret: bool = True) -> None:
        self.routes[(method.upper(), path)] = Route(method.upper(), path, handler, secret)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="bridge-http", daemon=True)
        self._thread.start()
        log.info("listening on %s", self.url)

    def stop(self) -> None:
        # shutdown() waits for serve_forever forever, so only ask a loop that is running.
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def _authorized(self, route: Route, given: str | None) -> bool:
        if not route.secret:
            return True
        if not self.secret or given is None:
            return False
        return hmac.compare_digest(given.encode(), self.secret.encode())

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], stream: BinaryIO, client: str) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        path = parts.path
        given = headers.get("x-bridge-secret") or (query.get("secret") or [None])[0]
        route = self.routes.get((method, path))
        if route is None and path.count("/") >= 2:
            # /<secret>/rest-of-path
            head, rest = path[1:].split("/", 1)
            route = self.routes.get((method, "/" + rest))
            if route is not None:
                given, path = head, "/" + rest
        if route is None:
            return 404, {"error": "no such route"}
        if not self._authorized(route, given):
            log.warning("%s %s from %s: refused, missing or wrong secret", method, path, client)
            return 403, {"error": "missing or wrong secret"}
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            return 400, {"error": "bad Content-Length"}
        request = Request(method, path, query, headers, stream, max(0, length), client)
        try:
            return route.handler(request)
        except HttpError as exc:
            log.warning("%s %s from %s: %s", method, path, client, exc.reason)
            return exc.status, {"error": exc.reason}
        except Exception as exc:  # a handler bug must not take the endpoint down
            log.error("%s %s from %s: handler failed: %s: %s", method, path, client, type(exc).__name__, exc)
            return 500, {"error": "internal error"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = server.dispatch(self.command, self.path, headers, self.rfile, self.client_address[0])
                if isinstance(payload, (bytes, str)):
                    data = payload.encode() if isinstance(payload, str) else payload
                    ctype = "text/plain; charset=utf-8"
                else:
                    data = json.dumps(payload).encode()
                    ctype = "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                # The body may not have been read (refused early): close rather than desync.
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                # The stdlib line holds the request path, which may carry the secret: say nothing.
                pass

        return _Handler
