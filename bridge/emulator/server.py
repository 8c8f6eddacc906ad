"""A faithful local Simkl API on 127.0.0.1, for the tests and the demo.

It is the judge of the client: identification, auth, rate limits, status codes and error bodies
follow simkl-api.md, and it rejects what Simkl would reject. Tests steer it from Python (or over
HTTP under `/_emulator/`): approve a PIN, revoke a token, inject faults (5xx, 429 with
Retry-After, slow replies, dropped connections, a full outage), and read its state.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.emulator import api
from bridge.emulator.catalog import Catalog
from bridge.emulator.routes import simkl_server
from bridge.emulator.store import User, stamp
from bridge.http import HttpServer, Request

DEFAULT_CLIENT_ID = "emulator-client"
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
        self.requests: list[dict[str, Any]] = []  # every Simkl call, logged before anything of it is seen
        self.lock = threading.RLock()  # over all of the above
        self._http: HttpServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        self._http = simkl_server(self, host, port)
        self._http.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._http is not None, "emulator not started"
        return self._http.url

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- controls -------------------------------------------------------------------------------

    def add_token(self, token: str, user: str = "user") -> None:
        with self.lock:
            self.tokens[token] = user
            self.users.setdefault(user, User(user))

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)

    def approve_pin(self, user_code: str, token: str, user: str = "user") -> None:
        with self.lock:
            if user_code not in self.pins:
                raise KeyError(f"no pending PIN {user_code!r}")
            self.pins[user_code]["token"] = token
            self.add_token(token, user)

    def fault(self, kind: str, count: int = 1, *, retry_after: int = 1, seconds: float = 1.0, path: str | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append(Fault(kind, count, max(1, int(retry_after)), seconds, path))

    def take_fault(self, path: str) -> Fault | None:
        """The fault this call meets, if any; a counted fault is used up by it."""
        with self.lock:
            for f in self.faults:
                if f.path is None or path.startswith(f.path):
                    if f.kind != "down":
                        f.remaining -= 1
                        if f.remaining <= 0:
                            self.faults.remove(f)
                    return f
        return None

    def recover(self) -> None:
        with self.lock:
            self.faults.clear()

    def add_catalog(self, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self.catalog.add(item)

    def user(self, name: str = "user") -> User:
        with self.lock:
            return self.users.setdefault(name, User(name))

    def state(self) -> dict[str, Any]:
        """JSON-able dump: per user, every recorded watch and playback, and the activity stamps."""
        with self.lock:
            users = {}
            for name, u in self.users.items():
                users[name] = {
                    "watches": [{"simkl": w.simkl, "title": w.title, "type": w.kind, "season": w.season, "number": w.number,
                                 "tvdb": list(w.tvdb) if w.tvdb else None, "label": w.label(),
                                 "watched_at": stamp(w.watched_at)} for w in u.watches],
                    "playbacks": api.playback_list(u, None, {"hide_watched": "false"})[1],
                    "activities": u.activities,
                }
            counts: dict[str, int] = {}
            for r in self.requests:
                key = f"{r['method']} {r['path']} {r['status']}"
                counts[key] = counts.get(key, 0) + 1
            return {"users": users, "requests": counts}

    def admin(self, request: Request) -> tuple[int, Any]:
        """The controls over HTTP, for subprocess tests and the demo; never faulted, never logged."""
        try:
            data = json.loads(request.body() or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, {"error": "body is not JSON"}
        action = request.params["action"]
        try:
            if action == "state" and request.method == "GET":
                return 200, self.state()
            if request.method != "POST" or not isinstance(data, dict):
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
