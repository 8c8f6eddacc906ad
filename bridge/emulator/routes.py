"""Simkl's routes on the shared HTTP server, each bound to its endpoint (api.py) behind the door.

A path no route takes still passes the door: Simkl identifies the app before it says "Wrong URL",
and under /sync/ and /scrobble/ it checks the token, the rate limits and the body first.
"""

from __future__ import annotations

import random
import string
import time
from typing import TYPE_CHECKING, Any

from bridge.emulator import api, history, lists, ratings
from bridge.emulator.api import Reply, envelope
from bridge.emulator.door import Call, Door
from bridge.emulator.store import User
from bridge.http import HttpServer, Request, Response

if TYPE_CHECKING:
    from bridge.emulator.server import Emulator

SCROBBLE_ACTIONS = ("start", "pause", "stop", "checkin")
ALL_ITEMS_KINDS = ("shows", "movies", "anime")


def _server_error(status: int, reason: str) -> Any:
    """The transport's own errors (a handler failure, an oversized body) in Simkl's error shape."""
    return envelope(status, "server_error")[1] if status >= 500 else envelope(status, "wrong_parameter", reason)[1]


def _wrong_url(call: Call, user: User | None = None) -> Reply:
    return envelope(404, "url_failed", "Wrong URL")


class Endpoints:
    """Each endpoint reads its call and runs api.py's semantics on the emulator's state (under its lock)."""

    def __init__(self, emulator: Emulator):
        self.emu = emulator

    def pin_start(self, call: Call | None = None) -> Reply:
        code = "".join(random.choices(string.ascii_uppercase + string.digits, k=5))
        self.emu.pins[code] = {"expires": time.monotonic() + self.emu.pin_expires, "last_poll": None, "token": None}
        return 200, {"result": "OK", "device_code": "DEVICE_CODE", "user_code": code,
                     "verification_uri": "https://simkl.com/pin", "verification_url": "https://simkl.com/pin",
                     "expires_in": self.emu.pin_expires, "interval": self.emu.pin_interval}

    def pin_poll(self, call: Call) -> Reply:
        now, code = time.monotonic(), call.params["code"]
        pin = self.emu.pins.get(code)
        if pin is None or now > pin["expires"]:
            self.emu.pins.pop(code, None)
            return self.pin_start()  # an unknown, expired or consumed code answers with a fresh step-1 shape
        too_fast = pin["last_poll"] is not None and now - pin["last_poll"] < self.emu.pin_interval * 0.5
        pin["last_poll"] = now
        if too_fast:
            return 200, {"result": "KO", "message": "Slow down"}
        if pin["token"] is None:
            return 200, {"result": "KO", "message": "Authorization pending"}
        del self.emu.pins[code]  # consumed
        return 200, {"result": "OK", "access_token": pin["token"]}

    def history_add(self, call: Call, user: User) -> Reply:
        return history.history_add(user, self.emu.catalog, call.payload, self.emu.clock(),
                                   call.query.get("allow_rewatch") == "yes")

    def history_remove(self, call: Call, user: User) -> Reply:
        return history.history_remove(user, self.emu.catalog, call.payload, self.emu.clock())

    def add_to_list(self, call: Call, user: User) -> Reply:
        return lists.add_to_list(user, self.emu.catalog, call.payload, self.emu.clock())

    def ratings_add(self, call: Call, user: User) -> Reply:
        return ratings.ratings_add(user, self.emu.catalog, call.payload, self.emu.clock())

    def ratings_remove(self, call: Call, user: User) -> Reply:
        return ratings.ratings_remove(user, self.emu.catalog, call.payload, self.emu.clock())

    def ratings_list(self, call: Call, user: User) -> Reply:
        return ratings.ratings_list(user, self.emu.catalog, call.params["kind"], call.params["rating"], call.query)

    def scrobble(self, call: Call, user: User) -> Reply:
        return api.scrobble(user, self.emu.catalog, call.path.rsplit("/", 1)[1], call.payload, self.emu.clock())

    def playbacks(self, call: Call, user: User) -> Reply:
        kind = call.params.get("kind")
        return api.playback_list(user, kind if kind in ("movies", "episodes") else None, call.query, self.emu.legacy_spelling)

    def playback_delete(self, call: Call, user: User) -> Reply:
        return api.playback_delete(user, call.params["id"])

    def activities(self, call: Call, user: User) -> Reply:
        return 200, user.activities

    def all_items(self, call: Call, user: User) -> Reply:
        kind, status = call.params.get("kind"), call.params.get("status")
        if kind is not None and kind not in ALL_ITEMS_KINDS:
            return _wrong_url(call)
        return api.all_items(user, self.emu.catalog, kind, status, call.query)


def simkl_server(emulator: Emulator, host: str, port: int) -> tuple[HttpServer, Door]:
    door, ep = Door(emulator), Endpoints(emulator)
    unknown, unknown_of_user = door.public(_wrong_url), door.route(_wrong_url)

    def fallback(request: Request) -> tuple[int, Any] | Response:
        return (unknown_of_user if request.path.startswith(("/sync/", "/scrobble/")) else unknown)(request)

    http = HttpServer(host, port, name="simkl-emulator", keep_alive=True, fallback=fallback, error_body=_server_error)
    routes = [
        ("GET", "/oauth/pin", door.public(ep.pin_start)),
        ("GET", "/oauth/pin/{code}", door.public(ep.pin_poll)),
        ("POST", "/sync/history", door.route(ep.history_add)),
        ("POST", "/sync/history/remove", door.route(ep.history_remove)),
        ("POST", "/sync/add-to-list", door.route(ep.add_to_list)),
        ("POST", "/sync/ratings", door.route(ep.ratings_add)),
        ("POST", "/sync/ratings/remove", door.route(ep.ratings_remove)),
        ("DELETE", "/sync/playback/{id}", door.route(ep.playback_delete)),
        ("GET", "/sync/all-items", door.route(ep.all_items)),
        ("GET", "/sync/all-items/{kind}", door.route(ep.all_items)),
        ("GET", "/sync/all-items/{kind}/{status}", door.route(ep.all_items)),
    ]
    routes += [("POST", f"/scrobble/{action}", door.route(ep.scrobble, one_at_a_time=True)) for action in SCROBBLE_ACTIONS]
    routes += [(method, "/sync/activities", door.route(ep.activities)) for method in ("GET", "POST")]
    # The reference page reads ratings with GET, the blueprint with POST: both answer.
    routes += [(method, "/sync/ratings/{kind}/{rating}", door.route(ep.ratings_list)) for method in ("GET", "POST")]
    # Simkl answers the list to anything but DELETE, /sync/playback/{id} included (simkl-api.md).
    routes += [(method, path, door.route(ep.playbacks)) for method in ("GET", "POST", "PUT")
               for path in ("/sync/playback", "/sync/playback/{kind}")]
    routes += [(method, "/_emulator/{action}", emulator.admin) for method in ("GET", "POST", "PUT", "DELETE")]
    for method, path, handler in routes:
        http.add_route(method, path, handler, secret=False)
    return http, door
