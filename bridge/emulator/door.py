"""What every Simkl call passes before its endpoint, in Simkl's order: an injected fault, the app's
identification, the user's token, the rate limits, then a JSON body (simkl-api.md).

Each call is logged in `Emulator.requests` before anything of it can be seen: its reply is sent
after its log line, and an endpoint's effect and its log line are written under one lock, so a
test that sees a watch always finds the request that made it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.emulator.api import Reply, envelope
from bridge.emulator.store import User
from bridge.http import Handler, Hangup, Request, Response

if TYPE_CHECKING:
    from bridge.emulator.server import Emulator

GET_PER_SECOND = 10


@dataclass
class Call:
    """One Simkl request as an endpoint reads it, and whether its log line is written."""

    method: str
    path: str
    params: dict[str, str]  # the route's {name} segments
    query: dict[str, str]  # a repeated parameter counts with its last value
    headers: dict[str, str]
    body: bytes
    payload: Any = None  # the JSON body of a POST that needs one
    logged: bool = False

    @classmethod
    def of(cls, request: Request) -> Call:
        query = {k: v[-1] for k, v in request.query.items()}
        return cls(request.method, request.path, request.params, query, request.headers, request.body())


Open = Callable[[Call], Reply]  # an endpoint anyone may call (the PIN flow)
Endpoint = Callable[[Call, User], Reply]  # an endpoint of the token's user


def _refusal(status: int, error: str, message: str, retry_after: int | None = None) -> Response:
    return Response(*envelope(status, error, message), {} if retry_after is None else {"Retry-After": str(retry_after)})


class Door:
    """One emulator's door: it keeps the rate-limit windows and who is scrobbling right now."""

    def __init__(self, emulator: Emulator):
        self.emu = emulator
        self._gets: dict[str, deque[float]] = {}  # token -> monotonic times of its GETs this second
        self._last_post: dict[str, float] = {}
        self._scrobbling: set[str] = set()  # users with a scrobble call in progress

    def public(self, endpoint: Open) -> Handler:
        return self._handler(lambda call: self._decide(call, endpoint))

    def route(self, endpoint: Endpoint, *, one_at_a_time: bool = False) -> Handler:
        """A route of the token's user; a `one_at_a_time` one refuses a user's second call while
        the first is in progress, as Simkl does with scrobbles."""
        return self._handler(lambda call: self._for_user(call, endpoint, one_at_a_time))

    def _handler(self, answer: Callable[[Call], Response]) -> Handler:
        def handler(request: Request) -> Response:
            call = Call.of(request)
            status: int | None = 500  # what a failing endpoint answers
            try:
                reply = self._fault(call.path) or self._identify(call) or answer(call)
                status = reply.status
                return reply
            except Hangup:
                status = None
                raise
            finally:
                self._log(call, status)

        return handler

    def _for_user(self, call: Call, endpoint: Endpoint, one_at_a_time: bool) -> Response:
        user = self._authorize(call)
        if isinstance(user, Response):
            return user
        if one_at_a_time:
            return self._one_at_a_time(call, endpoint, user)
        return self._decide(call, lambda c: endpoint(c, user))

    def _decide(self, call: Call, endpoint: Open) -> Response:
        with self.emu.lock:
            reply = Response(*endpoint(call))
            self._log(call, reply.status)
        return reply

    def _log(self, call: Call, status: int | None) -> None:
        with self.emu.lock:
            if call.logged:
                return
            call.logged = True
            entry: dict[str, Any] = {"method": call.method, "path": call.path, "status": status}
            if call.method == "POST":
                try:
                    entry["body"] = json.loads(call.body or b"null")
                except (UnicodeDecodeError, json.JSONDecodeError):
                    entry["body"] = None
            self.emu.requests.append(entry)

    def _fault(self, path: str) -> Response | None:
        fault = self.emu.take_fault(path)
        if fault is None:
            return None
        if fault.kind in ("drop", "down"):
            raise Hangup
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "429":
            return _refusal(429, "too_many_requests", "Slow down", fault.retry_after)
        return _refusal(int(fault.kind), "server_error", "Simkl is having a moment")

    def _identify(self, call: Call) -> Response | None:
        client_id = call.query.get("client_id") or call.headers.get("simkl-api-key")
        if client_id not in self.emu.client_ids:
            return _refusal(412, "client_id_failed", "Your client_id is wrong. Try another one")
        for name in ("app-name", "app-version"):
            if not call.query.get(name):
                return _refusal(400, "empty_field", f'Missed "{name}" parameter')
        if not call.headers.get("user-agent"):
            return _refusal(400, "empty_field", 'Missed "User-Agent" header')
        return None

    def _authorize(self, call: Call) -> User | Response:
        """The token's user, once the rate limits and the body allow the call."""
        auth = call.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.emu.lock:
            user_name = self.emu.tokens.get(token)
        if user_name is None:
            return _refusal(401, "user_token_failed", "Wrong or revoked token")
        limited = self._rate_limit(call.method, token)
        if limited is not None:
            return limited
        if call.method == "POST" and not call.path.startswith(("/sync/activities", "/sync/playback")):
            if "application/json" not in call.headers.get("content-type", ""):
                return _refusal(400, "wrong_parameter", "Content-Type must be application/json")
            try:
                call.payload = json.loads(call.body or b"null")
            except (UnicodeDecodeError, json.JSONDecodeError):
                return _refusal(400, "wrong_parameter", "Body is not valid JSON")
        return self.emu.user(user_name)

    def _rate_limit(self, method: str, token: str) -> Response | None:
        now = time.monotonic()
        with self.emu.lock:
            if method == "GET":
                window = self._gets.setdefault(token, deque())
                while window and now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= GET_PER_SECOND:
                    return _refusal(429, "too_many_requests", "GET limit: 10 per second", 1)
                window.append(now)
                return None
            last = self._last_post.get(token)
            interval = self.emu.post_interval
            if last is not None and now - last < interval:
                wait = max(1, round(interval - (now - last) + 0.5))
                return _refusal(429, "too_many_requests", "POST limit: 1 per second", wait)
            self._last_post[token] = now
        return None

    def _one_at_a_time(self, call: Call, endpoint: Endpoint, user: User) -> Response:
        # Simkl serializes scrobble calls per user; a colliding one is refused, not queued.
        with self.emu.lock:
            if user.name in self._scrobbling:
                return _refusal(400, "RATE_LIMIT", "Another scrobble request is in progress")
            self._scrobbling.add(user.name)
        try:
            if self.emu.scrobble_hold:
                time.sleep(self.emu.scrobble_hold)
            return self._decide(call, lambda c: endpoint(c, user))
        finally:
            with self.emu.lock:
                self._scrobbling.discard(user.name)
