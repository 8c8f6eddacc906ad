"""What every Simkl call passes before its endpoint, in Simkl's order: an injected fault, the app's
identification, the user's token, the rate limits, then a JSON body (simkl-api.md).

Rate limits follow https://api.simkl.org/resources/rate-limits: 10 GET/s and 1 POST/s, per access
token for a user's calls and per client_id for calls without one. A GET over the limit is a 429; a
POST over it starts a throttling block of the token (or client_id) that every further POST during
it extends, each offence doubling it, answered 429 with the block's Retry-After. DELETE is neither.
Scrobbles of one user are serialised: a call waits its turn behind the one in progress, and one
still waiting when the lock's time is up (Simkl: 20 s) is refused with 400 `RATE_LIMIT`.

Each call is logged in `Emulator.requests` before anything of it can be seen: its reply is sent
after its log line, and an endpoint's effect and its log line are written under one lock, so a
test that sees a watch always finds the request that made it.
"""

from __future__ import annotations

import json
import math
import threading
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
# What an injected quota fault answers; the ids are the emulator's own (Simkl's are not documented).
QUOTA_FAULTS = {
    "403": ("api_limits", "Requests are being denied due to API limits"),
    "412": ("limit_exceeded", "Total Requests Limit Exceeded"),
    "423": ("locked", "Locked"),
}


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
    hold: float | None = None  # a `hold` fault: wait this long at most for release(), once admitted

    @classmethod
    def of(cls, request: Request) -> Call:
        query = {k: v[-1] for k, v in request.query.items()}
        return cls(request.method, request.path, request.params, query, request.headers, request.body())

    @property
    def client_id(self) -> str | None:
        return self.query.get("client_id") or self.headers.get("simkl-api-key")


@dataclass
class _Posts:
    last: float | None = None
    offences: int = 0
    blocked_until: float = float("-inf")


Open = Callable[[Call], Reply]  # an endpoint anyone may call (the PIN flow)
Endpoint = Callable[[Call, User], Reply]  # an endpoint of the token's user


def _read(path: str) -> bool:
    """A read Simkl also answers to POST (activities, playbacks, the blueprint's ratings read): no body."""
    return path.startswith(("/sync/activities", "/sync/playback")) or (
        path.startswith("/sync/ratings/") and path.count("/") == 4)


def _refusal(status: int, error: str, message: str, retry_after: int | None = None) -> Response:
    return Response(*envelope(status, error, message), {} if retry_after is None else {"Retry-After": str(retry_after)})


class Door:
    """One emulator's door: it keeps the rate-limit windows and whose scrobble is in progress."""

    def __init__(self, emulator: Emulator):
        self.emu = emulator
        self._gets: dict[str, deque[float]] = {}  # limited party -> times of its GETs this second
        self._posts: dict[str, _Posts] = {}
        self._turns = threading.Condition()
        self._scrobbling: set[str] = set()  # users with a scrobble call in progress
        self.waiting: dict[str, int] = {}  # user -> scrobble calls waiting for their turn

    def public(self, endpoint: Open) -> Handler:
        return self._handler(lambda call: self._rate_limit(call.method, f"client:{call.client_id}")
                             or self._decide(call, endpoint))

    def route(self, endpoint: Endpoint, *, one_at_a_time: bool = False) -> Handler:
        """A route of the token's user; a `one_at_a_time` one waits for the user's call in
        progress, as Simkl does with scrobbles."""
        return self._handler(lambda call: self._for_user(call, endpoint, one_at_a_time))

    def _handler(self, answer: Callable[[Call], Response]) -> Handler:
        def handler(request: Request) -> Response:
            call = Call.of(request)
            status: int | None = 500  # what a failing endpoint answers
            try:
                reply = self._fault(call) or self._identify(call) or answer(call)
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
        if call.hold is not None:
            self.emu.hold_here(call.hold)
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

    def _fault(self, call: Call) -> Response | None:
        fault = self.emu.take_fault(call.path)
        if fault is None:
            return None
        if fault.kind in ("drop", "down"):
            raise Hangup
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "hold":
            call.hold = fault.seconds
            return None
        if fault.kind == "429":
            return _refusal(429, "too_many_requests", "Slow down", fault.retry_after or 1)
        if fault.kind in QUOTA_FAULTS:
            return _refusal(int(fault.kind), *QUOTA_FAULTS[fault.kind], fault.retry_after)
        return _refusal(int(fault.kind), "server_error", "Simkl is having a moment")

    def _identify(self, call: Call) -> Response | None:
        if call.client_id not in self.emu.client_ids:
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
        limited = self._rate_limit(call.method, f"token:{token}")
        if limited is not None:
            return limited
        if call.method == "POST" and not _read(call.path):
            if "application/json" not in call.headers.get("content-type", ""):
                return _refusal(400, "wrong_parameter", "Content-Type must be application/json")
            try:
                call.payload = json.loads(call.body or b"null")
            except (UnicodeDecodeError, json.JSONDecodeError):
                return _refusal(400, "wrong_parameter", "Body is not valid JSON")
        return self.emu.user(user_name)

    def _rate_limit(self, method: str, party: str) -> Response | None:
        now = self.emu.monotonic()
        with self.emu.lock:
            if method == "GET":
                window = self._gets.setdefault(party, deque())
                while window and now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= GET_PER_SECOND:
                    return _refusal(429, "too_many_requests", "GET limit: 10 per second", 1)
                window.append(now)
                return None
            if method != "POST":
                return None
            posts = self._posts.setdefault(party, _Posts())
            interval = self.emu.post_interval
            if now < posts.blocked_until or (posts.last is not None and now - posts.last < interval):
                posts.offences += 1
                posts.blocked_until = max(posts.blocked_until, now + interval * 2 ** (posts.offences - 1))
                wait = max(1, math.ceil(posts.blocked_until - now))
                return _refusal(429, "too_many_requests", f"POST limit: 1 per second; blocked for {wait} s", wait)
            posts.last, posts.offences = now, 0
        return None

    def _one_at_a_time(self, call: Call, endpoint: Endpoint, user: User) -> Response:
        deadline = time.monotonic() + self.emu.scrobble_lock
        with self._turns:
            self.waiting[user.name] = self.waiting.get(user.name, 0) + 1
            try:
                while user.name in self._scrobbling:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return _refusal(400, "RATE_LIMIT", "Another scrobble request is in progress")
                    self._turns.wait(left)
                self._scrobbling.add(user.name)
            finally:
                self.waiting[user.name] -= 1
        try:
            return self._decide(call, lambda c: endpoint(c, user))
        finally:
            with self._turns:
                self._scrobbling.discard(user.name)
                self._turns.notify_all()
