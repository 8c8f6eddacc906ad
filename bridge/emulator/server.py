"""A faithful local Simkl API on 127.0.0.1, for the tests and the demo.

It is the judge of the client: identification, auth, rate limits, status codes and error bodies
follow Simkl's documentation (docs/emulator.md lists each choice and the page it follows), and it
rejects what Simkl would reject. Tests steer it from Python (or over HTTP under `/_emulator/`):
approve a PIN, revoke a token, set a user's plan, inject faults (5xx, 429 with Retry-After, the
quota refusals 403/412/423, slow replies, held calls, dropped connections, a full outage), and read
its state.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.emulator import api
from bridge.emulator.catalog import Catalog
from bridge.emulator.door import Door
from bridge.emulator.routes import simkl_server
from bridge.emulator.store import PLANS, User, stamp
from bridge.http import HttpServer, Request

DEFAULT_CLIENT_ID = "emulator-client"
FAULT_KINDS = ("500", "503", "429", "403", "412", "423", "slow", "hold", "drop", "down")
# How long a `slow` call sleeps, and a `hold` one waits for release(), unless the fault says.
DEFAULT_SECONDS = {"slow": 1.0, "hold": 60.0}


@dataclass
class Fault:
    kind: str
    remaining: int
    retry_after: int | None = None
    seconds: float = 1.0
    path: str | None = None


class Emulator:
    def __init__(self, *, client_ids: tuple[str, ...] = (DEFAULT_CLIENT_ID,), post_interval: float = 1.0,
                 pin_interval: float = 5, pin_expires: float = 900, catalog: list[dict[str, Any]] | None = None,
                 scrobble_lock: float = 20.0, legacy_spelling: bool = False, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.client_ids = set(client_ids)
        self.post_interval, self.pin_interval, self.pin_expires = post_interval, pin_interval, pin_expires
        # scrobble_lock: how long a user's scrobble waits for the one in progress (Simkl: 20 s)
        self.scrobble_lock, self.legacy_spelling, self.clock = scrobble_lock, legacy_spelling, clock
        self.monotonic = monotonic  # the rate limits' clock
        self.catalog = Catalog(catalog)
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  # token -> user name
        self.pins: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []  # every Simkl call, logged before anything of it is seen
        self.lock = threading.RLock()  # over all of the above
        self.held = 0  # calls a `hold` fault keeps waiting for release()
        self._released = threading.Condition()
        self._release_count = 0
        self._http: HttpServer | None = None
        self.door: Door | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        self._http, self.door = simkl_server(self, host, port)
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

    def add_token(self, token: str, user: str = "user", plan: str | None = None) -> None:
        """`plan` (free, pro, vip) is the user's Simkl subscription; rewatches need pro or vip."""
        if plan is not None and plan not in PLANS:
            raise ValueError(f"plan must be one of {', '.join(PLANS)}")
        with self.lock:
            self.tokens[token] = user
            self.users.setdefault(user, User(user))
            if plan is not None:
                self.users[user].plan = plan

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)

    def approve_pin(self, user_code: str, token: str | None = None, user: str = "user", plan: str | None = None) -> str:
        """The user types the code at simkl.com/pin; the next poll gets `token` (one is made up when
        none is given). Returns the token."""
        token = token or secrets.token_hex(16)
        with self.lock:
            if user_code not in self.pins:
                raise KeyError(f"no pending PIN {user_code!r}")
            self.add_token(token, user, plan)
            self.pins[user_code]["token"] = token
        return token

    def fault(self, kind: str, count: int = 1, *, retry_after: int | None = None, seconds: float | None = None,
              path: str | None = None) -> None:
        """The next `count` calls (under `path`, when given) meet the fault; "down" lasts until recover()."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        wait = DEFAULT_SECONDS.get(kind, 1.0) if seconds is None else float(seconds)
        with self.lock:
            self.faults.append(Fault(kind, count, None if retry_after is None else max(1, int(retry_after)), wait, path))

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
        self.release()

    def hold_here(self, seconds: float) -> None:
        """A held call waits here for release(), at most `seconds`."""
        with self._released:
            self.held += 1
            seen = self._release_count
            self._released.wait_for(lambda: self._release_count != seen, seconds)
            self.held -= 1

    def release(self) -> None:
        """Let every held call go on."""
        with self._released:
            self._release_count += 1
            self._released.notify_all()

    def add_catalog(self, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self.catalog.add(item)

    def user(self, name: str = "user") -> User:
        with self.lock:
            return self.users.setdefault(name, User(name))

    def state(self) -> dict[str, Any]:
        """JSON-able dump: per user, every recorded watch and playback, list statuses, ratings, the
        activity stamps and the scrobbles waiting their turn; the calls held; request counts."""
        waiting = self.door.waiting if self.door is not None else {}
        with self.lock:
            users = {}
            for name, u in self.users.items():
                users[name] = {
                    "plan": u.plan,
                    "watches": [{"simkl": w.simkl, "title": w.title, "type": w.kind, "season": w.season, "number": w.number,
                                 "tvdb": list(w.tvdb) if w.tvdb else None, "label": w.label(),
                                 "watched_at": stamp(w.watched_at), "rewatch_id": w.rewatch_id} for w in u.watches],
                    "playbacks": api.playback_list(u, None, {"hide_watched": "false"})[1],
                    "lists": {str(simkl): status for simkl, status in u.lists.items()},
                    "ratings": {str(simkl): {"rating": rating, "rated_at": stamp(at)}
                                for simkl, (rating, at) in u.ratings.items()},
                    "activities": u.activities,
                    "scrobbles_waiting": waiting.get(name, 0),
                }
            counts: dict[str, int] = {}
            for r in self.requests:
                key = f"{r['method']} {r['path']} {r['status']}"
                counts[key] = counts.get(key, 0) + 1
            return {"users": users, "held": self.held, "requests": counts}

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
                token = self.approve_pin(data["user_code"], data.get("token"), data.get("user", "user"), data.get("plan"))
                return 200, {"ok": True, "token": token}
            if action == "token":
                self.add_token(data["token"], data.get("user", "user"), data.get("plan"))
            elif action == "revoke":
                self.revoke(data["token"])
            elif action == "fault":
                self.fault(data.pop("kind"), **data)
            elif action == "recover":
                self.recover()
            elif action == "release":
                self.release()
            elif action == "catalog":
                return 200, self.add_catalog(data["item"])
            else:
                return 404, {"error": "unknown admin call"}
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"error": f"{type(exc).__name__}: {exc}"}
        return 200, {"ok": True}


def serve(port: int = 8990, host: str = "127.0.0.1", client_ids: tuple[str, ...] = ()) -> None:
    """`simkl-bridge emulator`: run in the foreground until Ctrl-C; `client_ids` are known besides
    the default one."""
    with Emulator(client_ids=(DEFAULT_CLIENT_ID, *client_ids)) as emulator:
        url = emulator.start(port, host)
        print(f"Simkl emulator on {url} (client_id {', '.join(sorted(emulator.client_ids))}); add a token with "
              f"POST {url}/_emulator/token {{\"token\": \"...\"}} or log in with the PIN flow "
              "(see docs/emulator.md)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
