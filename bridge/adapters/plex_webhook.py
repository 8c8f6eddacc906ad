"""`POST /plex`: Plex webhooks, read from the socket without holding the thumbnail.

Plex posts multipart/form-data with a JSON `payload` part and, for items with art, a `thumb` JPEG
part that can be far larger than the JSON. The reader below scans the body in chunks for the
boundary, keeps the `payload` part (bounded) and lets every other part's bytes go as they pass,
so a webhook costs a few chunks of memory whatever the thumbnail weighs. Test tools send
`application/x-www-form-urlencoded` with `payload=...`; that is accepted too.

One route serves every configured Plex server: the payload's `Server.uuid` (or title) picks the
adapter, and with a single server it takes everything.
"""

from __future__ import annotations

import json
import re
from typing import Any, BinaryIO, Protocol
from urllib.parse import parse_qs

from bridge.http import HttpError, HttpServer, Request

ROUTE = "/plex"
CHUNK = 64 * 1024
MAX_PAYLOAD = 1024 * 1024  # the JSON part; real ones with full cast lists are ~20 KB
MAX_BODY = 64 * 1024 * 1024  # the whole post, thumbnail included (read and dropped)
MAX_PART_HEADERS = 16 * 1024
_NAME = re.compile(rb'(?:^|;)\s*name="([^"]*)"', re.IGNORECASE)


class WebhookTarget(Protocol):
    name: str
    server_name: str

    def identify(self) -> str | None:
        """The server's machineIdentifier (asked once; None while it cannot be reached)."""

    def webhook(self, payload: dict[str, Any]) -> tuple[int, Any]: ...


class WebhookRoute:
    def __init__(self) -> None:
        self.targets: list[WebhookTarget] = []

    def __call__(self, request: Request) -> tuple[int, Any]:
        payload = read_payload(request)
        return self._target(payload).webhook(payload)

    def _target(self, payload: dict[str, Any]) -> WebhookTarget:
        server = payload.get("Server") if isinstance(payload.get("Server"), dict) else {}
        uuid, title = server.get("uuid"), server.get("title")
        if len(self.targets) == 1:
            return self.targets[0]
        for target in self.targets:
            if uuid and target.identify() == uuid:
                return target
        for target in self.targets:
            if isinstance(title, str) and title.casefold() == target.server_name.casefold():
                return target
        raise HttpError(400, f"webhook from Plex server {title!r} ({uuid}) matches no configured plex server")


def register(http: HttpServer, target: WebhookTarget) -> None:
    """Add `target` to the one `/plex` route, creating the route for the first server."""
    route = http.routes.get(("POST", ROUTE))
    if route is None or not isinstance(route.handler, WebhookRoute):
        handler = WebhookRoute()
        http.add_route("POST", ROUTE, handler, secret=True)
    else:
        handler = route.handler
    handler.targets.append(target)


def read_payload(request: Request) -> dict[str, Any]:
    """The webhook's `payload` JSON object; HttpError(400/413) with a one-line reason otherwise."""
    mime, params = _content_type(request.headers.get("content-type", ""))
    if request.content_length <= 0:
        raise HttpError(400, "empty body (expected multipart/form-data with a payload part)")
    if request.content_length > MAX_BODY:
        raise HttpError(413, f"body of {request.content_length} bytes is over the {MAX_BODY} byte limit")
    if mime == "multipart/form-data":
        boundary = params.get("boundary")
        if not boundary:
            raise HttpError(400, "multipart/form-data without a boundary")
        raw = multipart_field(request.stream, request.content_length, boundary.encode("latin-1"), b"payload")
    elif mime == "application/x-www-form-urlencoded":
        fields = parse_qs(request.body(MAX_PAYLOAD).decode("utf-8", "replace"))
        if "payload" not in fields:
            raise HttpError(400, "form body without a payload field")
        raw = fields["payload"][0].encode()
    else:
        raise HttpError(400, f"Content-Type {mime or '(none)'} is not multipart/form-data")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HttpError(400, f"payload part is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise HttpError(400, f"payload part is a JSON {type(payload).__name__}, not an object")
    return payload


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    mime, *rest = value.split(";")
    params = {}
    for item in rest:
        key, _, val = item.strip().partition("=")
        params[key.lower()] = val.strip().strip('"')
    return mime.strip().lower(), params


def multipart_field(stream: BinaryIO, length: int, boundary: bytes, name: bytes, limit: int = MAX_PAYLOAD) -> bytes:
    """The body of the first part called `name` in a multipart body of `length` bytes.

    Reads the whole body (so the client sees a clean reply) but holds at most `limit` bytes of the
    wanted part plus one chunk; other parts are dropped as they stream past."""
    reader = _Reader(stream, length)
    delimiter = b"--" + boundary
    if not reader.skip_until(delimiter):
        raise HttpError(400, "multipart body without its boundary")
    found: bytes | None = None
    while True:
        after = reader.read_exact(2)
        if after == b"--":
            break
        if after != b"\r\n":
            raise HttpError(400, "multipart boundary line is malformed")
        headers = reader.read_until(b"\r\n\r\n", MAX_PART_HEADERS)
        if headers is None:
            raise HttpError(400, "multipart part headers are cut off")
        match = _NAME.search(headers)
        end = b"\r\n" + delimiter
        if found is None and match is not None and match.group(1) == name:
            found = reader.read_until(end, limit)
            if found is None:
                raise HttpError(400, f"multipart part {name.decode()!r} is cut off")
        elif not reader.skip_until(end):
            raise HttpError(400, "multipart body ends before its closing boundary")
    reader.drain()
    if found is None:
        raise HttpError(400, f"multipart body has no {name.decode()!r} part")
    return found


class _Reader:
    """A buffered view of exactly `length` bytes of a stream."""

    def __init__(self, stream: BinaryIO, length: int):
        self.stream = stream
        self.remaining = length
        self.buf = bytearray()

    def _fill(self) -> bool:
        if self.remaining <= 0:
            return False
        chunk = self.stream.read(min(CHUNK, self.remaining))
        if not chunk:
            self.remaining = 0
            return False
        self.remaining -= len(chunk)
        self.buf += chunk
        return True

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n and self._fill():
            pass
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, token: bytes, limit: int) -> bytes | None:
        """Bytes before `token` (consumed with it); None at the end of the body; 413 past `limit`."""
        start = 0
        while True:
            i = self.buf.find(token, start)
            if i > limit:
                raise HttpError(413, f"a multipart part is over the {limit} byte limit")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[: i + len(token)]
                return out
            if len(self.buf) > limit + len(token):
                raise HttpError(413, f"a multipart part is over the {limit} byte limit")
            start = max(0, len(self.buf) - len(token) + 1)
            if not self._fill():
                return None

    def skip_until(self, token: bytes) -> bool:
        """Drop bytes up to and including `token`; False when the body ends first."""
        while True:
            i = self.buf.find(token)
            if i >= 0:
                del self.buf[: i + len(token)]
                return True
            # Keep only what could be the start of a token split across chunks.
            del self.buf[: max(0, len(self.buf) - len(token) + 1)]
            if not self._fill():
                return False

    def drain(self) -> None:
        self.buf.clear()
        while self._fill():
            self.buf.clear()
