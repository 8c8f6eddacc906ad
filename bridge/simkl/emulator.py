"""A faithful local Simkl API on 127.0.0.1, for the tests and the demo.

It is the judge of the client: identification, auth, rate limits, status codes and error bodies
follow simkl-api.md, and it rejects what Simkl would reject. Tests steer it from Python (or over
HTTP under `/_emulator/`): approve a PIN, revoke a token, inject faults (5xx, 429 with
Retry-After, slow replies, dropped connections, a full outage), and read its state.
"""

from __future__ import annotations

import json
import logging
import random
import string
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from bridge.simkl import emulator_api as api
from bridge.simkl.emulator_store import Catalog, User

log = logging.getLogger("bridge.simkl.emulator")

DEFAULT_CLIENT_ID = "emulator-client"
GET_PER_SECOND = 10
FAULT_KINDS = ("500", "503", "429", "slow", "drop", "down")


@dataclass
class Fault:
    kind: str
    remaining: int
    retry_after: int = 1
    seconds: float = 1.0
    path: str | None = None


class Emulator:
    def __init__(self, *, client_ids: tuple[str, ...] = (DEFAULT_CLIENT_ID,), post_interval: float = 1.0,
                 pin_interval: float = 5, pin_expires: float = 900, catalog: list[dict[str, Any]] | None = None,
                 scrobble_hold: float = 0.0, legacy_spelling: bool = False, clock: Callable[[], float] = time.time):
        self.client_ids = set(client_ids)
        self.post_interval, self.pin_interval, self.pin_expires = post_interval, pin_interval, pin_expires
        self.scrobble_hold, self.legacy_spelling, self.clock = scrobble_hold, legacy_spelling, clock
        self.catalog = Catalog(catalog)
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  # token -> user name
        self.pins: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._scrobbling: dict[str, threading.Lock] = {}
        self._last_post: dict[str, float] = {}
        self._gets: dict[str, deque[float]] = {}
        self._server: ThreadingHTTPServer | None = None

    # -- control --------------------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="simkl-emulator", daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def add_token(self, token: str, user: str = "user") -> None:
        with self._lock:
            self.tokens[token] = user
            self.users.setdefault(user, User(user))

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)

    def approve_pin(self, user_code: str, token: str, user: str = "user") -> None:
        with self._lock:
            if user_code not in self.pins:
                raise KeyError(f"no pending PIN {user_code!r}")
            self.pins[user_code]["token"] = token
            self.add_token(token, user)

    def fault(self, kind: str, count: int = 1, *, retry_after: int = 1, seconds: float = 1.0, path: str | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.faults.append(Fault(kind, count, max(1, int(retry_after)), seconds, path))

    def recover(self) -> None:
        with self._lock:
            self.faults.clear()

    def add_catalog(self, item: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self.catalog.add(item)

    def user(self, name: str = "user") -> User:
        with self._lock:
            return self.users.setdefault(name, User(name))

    def state(self) -> dict[str, Any]:
        """JSON-able dump: per user, every recorded watch and playback, and the activity stamps."""
        with self._lock:
            users = {}
            for name, u in self.users.items():
                users[name] = {
                    "watches": [{"simkl": w.simkl, "title": w.title, "type": w.kind, "season": w.season, "number": w.number,
                                 "tvdb": list(w.tvdb) if w.tvdb else None, "label": w.label(),
                                 "watched_at": api.stamp(w.watched_at)} for w in u.watches],
                    "playbacks": api.playback_list(u, None, {"hide_watched": "false"})[1],
                    "activities": u.activities,
                }
            counts: dict[str, int] = {}
            for r in self.requests:
                key = f"{r['method']} {r['path']} {r['status']}"
                counts[key] = counts.get(key, 0) + 1
            return {"users": users, "requests": counts}

    # -- request handling ---------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]] | None:
        """(status, JSON body, extra headers), or None to drop the connection without a reply."""
        parts = urlsplit(raw_path)
        path, query = parts.path.rstrip("/") or "/", dict(parse_qsl(parts.query))
        if path.startswith("/_emulator/"):
            return (*self._admin(method, path, body), {})
        fault = self._take_fault(path)
        if fault is not None:
            if fault.kind in ("drop", "down"):
                return None
            if fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind == "429":
                return (*api.envelope(429, "too_many_requests", "Slow down"), {"Retry-After": str(fault.retry_after)})
            else:
                return (*api.envelope(int(fault.kind), "server_error", "Simkl is having a moment"), {})
        status, reply, extra = self._route(method, path, query, headers, body)
        return status, reply, extra

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.path is None or path.startswith(f.path):
                    if f.kind != "down":
                        f.remaining -= 1
                        if f.remaining <= 0:
                            self.faults.remove(f)
                    return f
        return None

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes):
        client_id = query.get("client_id") or headers.get("simkl-api-key")
        if client_id not in self.client_ids:
            return (*api.envelope(412, "client_id_failed", "Your client_id is wrong. Try another one"), {})
        for name in ("app-name", "app-version"):
            if not query.get(name):
                return (*api.envelope(400, "empty_field", f'Missed "{name}" parameter'), {})
        if not headers.get("user-agent"):
            return (*api.envelope(400, "empty_field", 'Missed "User-Agent" header'), {})
        if path == "/oauth/pin" and method == "GET":
            return 200, self._pin_start(), {}
        if path.startswith("/oauth/pin/") and method == "GET":
            return 200, self._pin_poll(path.rsplit("/", 1)[1]), {}
        if not (path.startswith("/sync/") or path.startswith("/scrobble/")):
            return (*api.envelope(404, "url_failed", "Wrong URL"), {})
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self._lock:
            user_name = self.tokens.get(token)
        if user_name is None:
            return (*api.envelope(401, "user_token_failed", "Wrong or revoked token"), {})
        limited = self._rate_limit(method, token)
        if limited is not None:
            return limited
        payload: Any = None
        if method == "POST" and not path.startswith("/sync/activities") and not path.startswith("/sync/playback"):
            if "application/json" not in headers.get("content-type", ""):
                return (*api.envelope(400, "wrong_parameter", "Content-Type must be application/json"), {})
            try:
                payload = json.loads(body or b"null")
            except (UnicodeDecodeError, json.JSONDecodeError):
                return (*api.envelope(400, "wrong_parameter", "Body is not valid JSON"), {})
        user = self.user(user_name)
        return (*self._endpoint(method, path, query, user, payload), {})

    def _endpoint(self, method: str, path: str, query: dict[str, str], user: User, payload: Any) -> tuple[int, Any]:
        now = self.clock()
        segments = path.strip("/").split("/")
        if segments[0] == "scrobble" and len(segments) == 2 and method == "POST" \
                and segments[1] in ("start", "pause", "stop", "checkin"):
            return self._scrobble(user, segments[1], payload, now)
        with self._lock:
            if path == "/sync/history" and method == "POST":
                return api.history_add(user, self.catalog, payload, now, query.get("allow_rewatch") == "yes")
            if path == "/sync/history/remove" and method == "POST":
                return api.history_remove(user, self.catalog, payload, now)
            if segments[:2] == ["sync", "playback"]:
                tail = segments[2] if len(segments) > 2 else None
                if method == "DELETE":
                    return api.playback_delete(user, tail or "")
                kind = tail if tail in ("movies", "episodes") else None
                return api.playback_list(user, kind, query, self.legacy_spelling)
            if path == "/sync/activities" and method in ("GET", "POST"):
                return 200, user.activities
            if segments[:2] == ["sync", "all-items"] and method == "GET":
                kind = segments[2] if len(segments) > 2 else None
                status = segments[3] if len(segments) > 3 else None
                if kind not in (None, "shows", "movies", "anime"):
                    return api.envelope(404, "url_failed", "Wrong URL")
                return api.all_items(user, self.catalog, kind, status, query)
        return api.envelope(404, "url_failed", "Wrong URL")

    def _scrobble(self, user: User, action: str, payload: Any, now: float) -> tuple[int, Any]:
        with self._lock:
            lock = self._scrobbling.setdefault(user.name, threading.Lock())
        # Simkl serializes scrobble calls per user; a colliding one is refused, not queued.
        if not lock.acquire(blocking=False):
            return api.envelope(400, "RATE_LIMIT", "Another scrobble request is in progress")
        try:
            if self.scrobble_hold:
                time.sleep(self.scrobble_hold)
            with self._lock:
                return api.scrobble(user, self.catalog, action, payload, now)
        finally:
            lock.release()

    def _rate_limit(self, method: str, token: str) -> tuple[int, Any, dict[str, str]] | None:
        now = time.monotonic()
        with self._lock:
            if method == "GET":
                window = self._gets.setdefault(token, deque())
                while window and now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= GET_PER_SECOND:
                    return (*api.envelope(429, "too_many_requests", "GET limit: 10 per second"), {"Retry-After": "1"})
                window.append(now)
                return None
            last = self._last_post.get(token)
            if last is not None and now - last < self.post_interval:
                wait = max(1, round(self.post_interval - (now - last) + 0.5))
                return (*api.envelope(429, "too_many_requests", "POST limit: 1 per second"), {"Retry-After": str(wait)})
            self._last_post[token] = now
        return None

    def _pin_start(self) -> dict[str, Any]:
        code = "".join(random.choices(string.ascii_uppercase + string.digits, k=5))
        now = time.monotonic()
        with self._lock:
            self.pins[code] = {"expires": now + self.pin_expires, "last_poll": None, "token": None}
        return {"result": "OK", "device_code": "DEVICE_CODE", "user_code": code,
                "verification_uri": "https://simkl.com/pin", "verification_url": "https://simkl.com/pin",
                "expires_in": self.pin_expires, "interval": self.pin_interval}

    def _pin_poll(self, code: str) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            pin = self.pins.get(code)
            if pin is None or now > pin["expires"]:
                self.pins.pop(code, None)
            else:
                too_fast = pin["last_poll"] is not None and now - pin["last_poll"] < self.pin_interval * 0.5
                pin["last_poll"] = now
                if too_fast:
                    return {"result": "KO", "message": "Slow down"}
                if pin["token"] is None:
                    return {"result": "KO", "message": "Authorization pending"}
                del self.pins[code]  # consumed
                return {"result": "OK", "access_token": pin["token"]}
        # An unknown, expired or consumed code answers with a fresh step-1 shape.
        return self._pin_start()

    def _admin(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        try:
            data = json.loads(body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, {"error": "body is not JSON"}
        action = path[len("/_emulator/"):]
        try:
            if action == "state" and method == "GET":
                return 200, self.state()
            if method != "POST" or not isinstance(data, dict):
                return 404, {"error": "unknown admin call"}
            if action == "approve_pin":
                self.approve_pin(data["user_code"], data["token"], data.get("user", "user"))
            elif action == "token":
                self.add_token(data["token"], data.get("user", "user"))
            elif action == "revoke":
                self.revoke(data["token"])
            elif action == "fault":
                self.fault(data.pop("kind"), **data)
            elif action == "recover":
                self.recover()
            elif action == "catalog":
                return 200, self.add_catalog(data["item"])
            else:
                return 404, {"error": "unknown admin call"}
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"error": f"{type(exc).__name__}: {exc}"}
        return 200, {"ok": True}

    def log_request(self, method: str, path: str, status: int | None, body: bytes) -> None:
        entry: dict[str, Any] = {"method": method, "path": urlsplit(path).path, "status": status}
        if method == "POST":
            try:
                entry["body"] = json.loads(body or b"null")
            except (UnicodeDecodeError, json.JSONDecodeError):
                entry["body"] = None
        with self._lock:
            self.requests.append(entry)


def _handler(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                result = emulator.handle(self.command, self.path, headers, body)
            except Exception as exc:  # a bug here must become a 500, never a dead server
                log.error("emulator: %s %s failed: %s: %s", self.command, self.path, type(exc).__name__, exc)
                result = (*api.envelope(500, "server_error"), {})
            if not self.path.startswith("/_emulator/"):
                emulator.log_request(self.command, self.path, result[0] if result else None, body)
            if result is None:
                self.close_connection = True
                return
            status, reply, extra = result
            data = b"" if status == 204 else json.dumps(reply).encode()
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    return Handler


def serve(port: int = 8990, host: str = "127.0.0.1") -> None:
    """`simkl-bridge emulator`: run in the foreground until Ctrl-C."""
    with Emulator() as emulator:
        url = emulator.start(port, host)
        print(f"Simkl emulator on {url} (client_id {DEFAULT_CLIENT_ID}); add a token with "
              f"POST {url}/_emulator/token {{\"token\": \"...\"}} or log in with the PIN flow", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
