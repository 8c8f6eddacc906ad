"""`POST /plex`: Plex webhooks, read from the socket without holding the thumbnail.

Plex posts multipart/form-data with a JSON `payload` part and, for items with art, a `thumb` JPEG
part that can be far larger than the JSON. The body is fed in chunks to `multipart`'s push parser,
which hands each part's bytes on as they pass: the `payload` part is kept (bounded) and every other
part's bytes are let go, so a webhook costs a few chunks of memory whatever the thumbnail weighs.
Test tools send `application/x-www-form-urlencoded` with `payload=...`; that is accepted too.

One route serves every configured Plex server: the payload's `Server.uuid` (or title) picks the
adapter, and with a single server it takes everything.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO, Protocol
from urllib.parse import parse_qs

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from bridge.http import HttpError, HttpServer, Request

ROUTE = "/plex"
CHUNK = 64 * 1024
MAX_PAYLOAD = 1024 * 1024  # the JSON part; real ones with full cast lists are ~20 KB
MAX_BODY = 64 * 1024 * 1024  # the whole post, thumbnail included (read and dropped)
MAX_PART_HEADER = 16 * 1024


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
        server = s if isinstance(s := payload.get("Server"), dict) else {}
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
    mime, params = parse_options_header(request.headers.get("content-type", ""))
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


def multipart_field(stream: BinaryIO, length: int, boundary: bytes, name: bytes, limit: int = MAX_PAYLOAD) -> bytes:
    """The body of the first part called `name` in a multipart body of `length` bytes.

    Reads the whole body (so the client sees a clean reply) but holds at most `limit` bytes of the
    wanted part plus one chunk; other parts are dropped as they stream past."""
    wanted = name.decode("latin-1")
    found: bytearray | None = None
    keeping = False
    try:
        with PushMultipartParser(boundary, length, max_header_size=MAX_PART_HEADER) as parser:
            while length > 0 and (chunk := stream.read(min(CHUNK, length))):
                length -= len(chunk)
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        keeping = found is None and event.name == wanted
                        found = bytearray() if keeping else found
                    elif event is None:
                        keeping = False
                    elif keeping and found is not None:
                        found += event
                        if len(found) > limit:
                            raise HttpError(413, f"multipart part {wanted!r} is over the {limit} byte limit")
    except MultipartError as exc:
        raise HttpError(400, f"multipart body: {exc}") from None
    if found is None:
        raise HttpError(400, f"multipart body has no {wanted!r} part")
    return bytes(found)
