"""The Simkl HTTP client: identification, auth, timeouts, retries, pacing and typed errors.

It knows Simkl's API (simkl-api.md) and nothing of media servers. Failures come out as one of
three kinds, because each needs a different reaction from the sender:
- TransientError: try again later (network, 5xx, 429, a scrobble lock collision); QuotaError, one
  of them, says Simkl refuses calls for its API limits (403, a 412 other than a wrong client id,
  423 locked), which calls for a long wait rather than parking;
- AuthError: the account's token was revoked; only a new `login` helps;
- PermanentError: Simkl refused this write for good; park it with the reason.
A POST Simkl throttled (a 429 or a quota refusal with Retry-After) blocks this client's POSTs until
then: none is sent while Simkl would only extend the block. The token never appears in an
exception, a log line or a repr.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

import bridge
from bridge.backoff import delay

log = logging.getLogger("bridge.simkl.client")

SCROBBLE_ACTIONS = ("start", "pause", "stop", "checkin")
# Simkl's per-user scrobble lock is held ~20 s; a collision is worth waiting out briefly.
LOCK_RETRY_SECONDS = 5.0


class SimklError(Exception):
    """Base of all client errors. Messages name the request, never the token."""


class TransientError(SimklError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class QuotaError(TransientError):
    """Simkl refuses this app or token for its API limits for now (minutes to hours)."""


class AuthError(SimklError):
    pass


class PermanentError(SimklError):
    def __init__(self, message: str, status: int, error: str):
        super().__init__(message)
        self.status = status
        self.error = error


@dataclass
class ClientConfig:
    base_url: str = "https://api.simkl.com"
    client_id: str = ""
    app_name: str = "simkl-bridge"
    app_version: str = bridge.__version__
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_retries: int = 3  # in-call retries of a transient failure, for reads only
    post_interval: float = 1.0  # Simkl: 1 POST per second per token
    backoff_base: float = 1.0
    backoff_cap: float = 60.0


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class SimklClient:
    def __init__(
        self,
        config: ClientConfig,
        token: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        on_reply: Callable[[str, str, int | None, float], None] | None = None,
    ):
        """`on_reply(method, path, status or None when no reply came, seconds)` sees every request
        (the daemon's metrics)."""
        self.config = config
        self._token = token
        self._sleep, self._clock, self._rng = sleep, clock, rng
        self._on_reply = on_reply
        self._session = requests.Session()
        self._post_lock = threading.Lock()
        self._scrobble_lock = threading.Lock()
        self._last_post = float("-inf")
        self._posts_blocked_until = float("-inf")
        self._answered = False  # Simkl has taken this client id at least once

    def __repr__(self) -> str:
        return f"SimklClient({self.config.base_url!r}, logged_in={self._token is not None})"

    # -- endpoints ------------------------------------------------------------------------------

    def add_history(self, body: dict[str, Any], *, allow_rewatch: bool = False) -> dict[str, Any]:
        """`allow_rewatch` only for a rewatch the user opted in to (api.simkl.org/guides/rewatches):
        on anything else it makes phantom rewatch sessions."""
        return self._post("/sync/history", body, {"allow_rewatch": "yes"} if allow_rewatch else None)

    def remove_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Unmark what the body names. A movie or show with nothing else leaves the library whole,
        its list entry and rating with it: never the way to take something off a list."""
        return self._post("/sync/history/remove", body)

    def add_ratings(self, body: dict[str, Any]) -> dict[str, Any]:
        """Rate the body's movies, shows and anime (`rating` 1-10, `rated_at`; re-rating overwrites)."""
        return self._post("/sync/ratings", body)

    def remove_ratings(self, body: dict[str, Any]) -> dict[str, Any]:
        """Clear the ratings of the body's items; they stay in their buckets."""
        return self._post("/sync/ratings/remove", body)

    def add_to_list(self, to: str, body: dict[str, Any]) -> dict[str, Any]:
        """Move the body's items to the `to` list. The reference page reads `to` from each item only
        (a top-level one alone is 400 empty_field); its body schema and older examples put it at the
        top: both are sent, which every version takes."""
        items = {bucket: [{**item, "to": to} for item in entries] for bucket, entries in body.items()
                 if isinstance(entries, list)}
        return self._post("/sync/add-to-list", {"to": to, **items})

    def get_all_items(self, kind: str | None = None, status: str | None = None, **params: str) -> dict[str, Any]:
        """The library (or with `date_from` what changed since): {} when there is nothing, which
        Simkl answers as `null` (and sometimes `{}`)."""
        return self._read_library("/sync/all-items" + "".join(f"/{part}" for part in (kind, status) if part), params)

    def get_ratings(self, kind: str, ratings: str = "1,2,3,4,5,6,7,8,9,10", **params: str) -> dict[str, Any]:
        """The items of one type (movies, shows, anime) the user rated one of `ratings` (a value or a
        comma list), in the all-items form with `user_rating` and `user_rated_at`; the same query
        (`date_from`, `extended`). {} when there is none."""
        return self._read_library(f"/sync/ratings/{kind}/{ratings}", params)

    def _read_library(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        body = self._call("GET", path, params=params).body
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise PermanentError(f"GET {path}: expected an object, got {type(body).__name__}", 200, "bad_reply")
        return body

    def scrobble(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        if action not in SCROBBLE_ACTIONS:
            raise ValueError(f"unknown scrobble action {action!r}")
        path = f"/scrobble/{action}"
        # Simkl serializes scrobble calls per user: never have two in flight.
        with self._scrobble_lock:
            reply = self._call("POST", path, body, accept=(409,))
        if reply.status == 409:
            # A repeated stop within the hour: Simkl already has it.
            return {"already_recorded": True, **(reply.body if isinstance(reply.body, dict) else {})}
        return self._expect_dict(reply, path)

    def get_playback(self, kind: str | None = None) -> list[dict[str, Any]]:
        path = "/sync/playback" + (f"/{kind}" if kind else "")
        body = self._call("GET", path).body
        if body is None:
            return []
        if not isinstance(body, list):
            raise PermanentError(f"GET {path}: expected a list, got {type(body).__name__}", 200, "bad_reply")
        return [pb for pb in body if isinstance(pb, dict)]

    def delete_playback(self, playback_id: int) -> bool:
        """True when the playback is gone (deleted now, or already gone: 404)."""
        reply = self._call("DELETE", f"/sync/playback/{int(playback_id)}", accept=(404,))
        return reply.status in (200, 204, 404)

    def get_activities(self) -> dict[str, Any]:
        return self._expect_dict(self._call("GET", "/sync/activities"), "/sync/activities")

    def pin_start(self) -> dict[str, Any]:
        return self._expect_dict(self._call("GET", "/oauth/pin", auth=False), "/oauth/pin")

    def pin_poll(self, user_code: str) -> dict[str, Any]:
        return self._expect_dict(self._call("GET", f"/oauth/pin/{user_code}", auth=False), "/oauth/pin/{code}")

    # -- transport ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
              *, auth: bool = True, accept: tuple[int, ...] = ()) -> _Reply:
        what = f"{method} {path}"
        attempt = 0
        while True:
            try:
                reply = self._send(method, path, body, params, auth)
                error = _error_id(reply.body)
                if reply.status < 300 or reply.status in accept:
                    self._answered = True
                    return reply
                if reply.status == 401:
                    raise AuthError(f"{what}: Simkl rejected the token (401 {error or 'unauthorized'}); "
                                    "the account must log in again with `simkl-bridge login`")
                if reply.status == 412 and error == "client_id_failed" and not self._answered:
                    raise PermanentError(f"{what}: Simkl does not know this app's client id (412 client_id_failed); "
                                         "check `simkl.client_id` in the config", 412, error)
                if reply.status in (403, 412, 423):
                    # A client id Simkl took before is not wrong now: a 412 then is its total limit.
                    raise self._throttled(method, QuotaError(
                        f"{what}: Simkl refuses requests for its API limits ({reply.status} {error or 'no error id'})",
                        _retry_after(reply.headers)))
                if reply.status == 429:
                    raise self._throttled(method, TransientError(f"{what}: rate limited (429)", _retry_after(reply.headers)))
                if reply.status == 400 and error == "RATE_LIMIT":
                    raise TransientError(f"{what}: another scrobble of this user is in progress (400 RATE_LIMIT)",
                                         LOCK_RETRY_SECONDS)
                if reply.status >= 500:
                    raise TransientError(f"{what}: Simkl answered {reply.status}", _retry_after(reply.headers))
                raise PermanentError(f"{what}: Simkl refused it ({reply.status} {error or 'no error id'})",
                                     reply.status, error or str(reply.status))
            except TransientError as exc:
                attempt += 1
                # A write is retried by the sender's one backoff per account, never here as well:
                # in-call retries on top of it multiplied the POSTs an outage costs. A quota lasts
                # too long to wait out within a call.
                if attempt > self.config.max_retries or method == "POST" or isinstance(exc, QuotaError):
                    raise
                delay = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
                log.debug("%s; retrying in %.1f s (attempt %d)", exc, delay, attempt)
                self._sleep(delay)

    def _throttled(self, method: str, exc: TransientError) -> TransientError:
        """Simkl's POST throttle blocks the token until Retry-After, and a POST during the block
        extends it: none is sent before then."""
        if method == "POST" and exc.retry_after is not None:
            self._posts_blocked_until = max(self._posts_blocked_until, self._clock() + exc.retry_after)
        return exc

    def _backoff(self, attempt: int) -> float:
        return delay(attempt - 1, self.config.backoff_base, self.config.backoff_cap, self._rng)

    def _send(self, method: str, path: str, body: Any, params: dict[str, str] | None, auth: bool) -> _Reply:
        cfg = self.config
        query = {"client_id": cfg.client_id, "app-name": cfg.app_name, "app-version": cfg.app_version, **(params or {})}
        headers = {"simkl-api-key": cfg.client_id, "User-Agent": f"{cfg.app_name}/{cfg.app_version}",
                   "Accept": "application/json"}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        if auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        url = cfg.base_url.rstrip("/") + path
        if method == "GET":
            return self._request(method, url, path, query, headers, None)
        # A DELETE is a write too, paced like a POST: pacing one costs nothing, a 429 costs a retry.
        # Simkl counts the spacing between POSTs as it receives them. Spacing from when the previous
        # reply arrived (it was received before it was answered) keeps network jitter from ever
        # making two POSTs land closer than the limit.
        with self._post_lock:
            blocked = self._posts_blocked_until - self._clock()
            if blocked > 0:
                raise TransientError(f"POST {path}: Simkl blocks this account's POSTs for {blocked:.0f} s more; "
                                     "not sent", blocked)
            wait = self._last_post + cfg.post_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
            try:
                return self._request(method, url, path, query, headers, body)
            finally:
                self._last_post = self._clock()

    def _request(self, method: str, url: str, path: str, query: dict[str, str], headers: dict[str, str],
                 body: Any) -> _Reply:
        cfg = self.config
        began = time.monotonic()
        try:
            resp = self._session.request(method, url, params=query, headers=headers, json=body,
                                         timeout=(cfg.connect_timeout, cfg.read_timeout))
        except requests.RequestException as exc:
            if self._on_reply is not None:
                self._on_reply(method, path, None, time.monotonic() - began)
            # requests' messages can include the URL (no token there) but never headers.
            raise TransientError(f"{method} {path}: {type(exc).__name__}") from None
        if self._on_reply is not None:
            self._on_reply(method, path, resp.status_code, time.monotonic() - began)
        return _Reply(resp.status_code, _json(resp), dict(resp.headers))

    def _post(self, path: str, body: dict[str, Any], params: dict[str, str] | None = None) -> dict[str, Any]:
        return self._expect_dict(self._call("POST", path, body, params), path)

    @staticmethod
    def _expect_dict(reply: _Reply, what: str) -> dict[str, Any]:
        if not isinstance(reply.body, dict):
            raise PermanentError(f"{what}: Simkl's reply is not a JSON object", reply.status, "bad_reply")
        return reply.body


def _json(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def _error_id(body: Any) -> str:
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def _retry_after(headers: dict[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
