"""The Jellyfin webhook plugin's route on the bridge's HTTP endpoint.

The plugin's Generic destination posts to `/jellyfin/<name>` (or `/jellyfin`, served by the first
server with webhooks on), with the bridge's secret, one notification per request: of every type,
for every user. What is not a play of a followed user in a followed library is answered 200 with
the reason; a body that cannot be read, 400 with the field; a play, 202.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bridge.adapters.jellyfin.api import JellyfinError
from bridge.adapters.jellyfin.map import NotMatched, norm_id, parse_webhook_body, webhook_event, webhook_state, webhook_user
from bridge.events import EventError
from bridge.http import HttpError, HttpServer, Request

if TYPE_CHECKING:
    from bridge.adapters.jellyfin.adapter import JellyfinAdapter


def add_routes(http: HttpServer, adapter: JellyfinAdapter) -> None:
    """`POST /jellyfin/<name>` for this server; the first server also answers `/jellyfin`."""
    route = functools.partial(receive, adapter)
    http.add_route("POST", f"/jellyfin/{adapter.cfg.name}", route, secret=True)
    if ("POST", "/jellyfin") not in http.routes:
        http.add_route("POST", "/jellyfin", route, secret=True)


def receive(adapter: JellyfinAdapter, request: Request) -> tuple[int, Any]:
    try:
        body = parse_webhook_body(request.body())
        # Decided before any lookup: the plugin posts every notification type, for every user.
        if webhook_state(body) is None:
            return 200, {"accepted": False, "reason": "not a playback notification"}
        if not adapter.users.wanted(webhook_user(body), body.get("UserId")):
            return 200, {"accepted": False, "reason": "another user's play"}
        if _lookup(adapter, lambda item: adapter.excluded(item, body.get("UserId")), norm_id(body.get("ItemId"))):
            return 200, {"accepted": False, "reason": "excluded library"}
        # The webhook carries only the episode's ids; the show's make it the item the socket reports.
        series = _lookup(adapter, adapter.api.series, body.get("SeriesId")) if body.get("ItemType") == "Episode" else None
        event = webhook_event(body, server=adapter.cfg.name, at=adapter.clock(), series=series)
    except NotMatched as exc:
        adapter.skip(norm_id(body.get("ItemId")) or str(exc), exc)
        return 200, {"accepted": False, "reason": str(exc)}
    except EventError as exc:
        raise HttpError(400, str(exc)) from None
    if event is not None:
        adapter._send(event)
    return 202, {"accepted": True}


def _lookup(adapter: JellyfinAdapter, call: Callable[[str], Any], key: Any) -> Any:
    """A lookup a webhook can do without: on failure, logged, and the webhook goes on without it."""
    if not key:
        return None
    try:
        return call(str(key))
    except JellyfinError as exc:
        adapter.log.warning("%s: webhook: %s", adapter.name, exc)
        return None
