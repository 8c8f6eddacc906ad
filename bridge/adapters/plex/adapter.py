"""Plex Media Server: websocket alerts and webhooks -> PlayEvents; Simkl resume points -> Plex.

One adapter per configured server, on the adapter skeleton (`AdapterBase`): under the Supervisor
the listener reads the notifications socket (`alerts.AlertSocket`) and only queues; the worker
handles each alert, because that needs HTTP calls (`api.PlexApi`: the item's metadata, the
session's user) that must not hold up pongs. While the socket is down the Supervisor polls
`/status/sessions`.

A `playing` alert names a session and an item but no user, ids or duration: the first alert of
a session resolves the item's metadata (and its show's, for an episode) and the user from
`/status/sessions`, once; later alerts only move its state and position (`sessions.step`). An
episode's season is read too: the episodes whose Media part is the played file are one
multi-episode file, all marked. A play missing from any sessions list read (those polls, the read
on reconnecting, the read for a new session) ended without its `stopped` alert reaching us and is
closed at its last known position.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bridge.adapters.base import AdapterBase
from bridge.adapters.plex import sessions
from bridge.adapters.plex.alerts import AlertSocket, playing
from bridge.adapters.plex.api import ERRORS, READ_ERRORS, PlexApi
from bridge.adapters.plex.discover import Discover
from bridge.adapters.plex.library import PlexLibrary
from bridge.adapters.plex.map import (
    WEBHOOK_STATES,
    NotMatched,
    event_from_metadata,
    in_excluded_library,
    to_read,
    webhook_event,
)
from bridge.adapters.plex.resume import ResumeWriter
from bridge.adapters.plex.sessions import Live, Play
from bridge.adapters.plex.titles import PlexTitles
from bridge.adapters.plex.webhook import register as register_webhook
from bridge.backoff import Backoff
from bridge.config import PlexServer
from bridge.events import EventError, PlayEvent, Resume, State
from bridge.http import HttpError, HttpServer
from bridge.library import LibraryHolder, LibraryItem, Title, TitleHolder

log = logging.getLogger("bridge.adapters.plex")


class NotTheOwner(Exception):
    """resume_user names another user than the token's: their library is not this token's to read."""


class PlexAdapter(AdapterBase):
    source = "plex"
    expected_errors = ERRORS

    def __init__(self, cfg: PlexServer, *, clock: Callable[[], float] = time.time, backoff: Backoff | None = None,
                 poll_interval: float = 10.0, ping_interval: float = 20.0, watchdog: float = 45.0,
                 timeout: float = 10.0):
        super().__init__(cfg.name, log=log, backoff=backoff, poll_interval=poll_interval)
        self.cfg = cfg
        self.clock = clock
        self.ping_interval, self.watchdog, self.timeout = ping_interval, watchdog, timeout
        self.api = PlexApi(self.name, cfg.url, cfg.token, timeout=timeout)
        self._library = PlexLibrary(self.api, self.name, cfg.exclude_libraries, log)
        discover = Discover(cfg.discover_url, cfg.token, timeout=timeout) if cfg.watchlist else None
        self._titles = PlexTitles(self.api, self._library, cfg.lists, discover, log)
        self.plays: dict[str, Play] = {}  # by sessionKey
        self._skipped: dict[str, str] = {}  # sessionKey -> ratingKey not sent (excluded, no id)
        self._socket: AlertSocket | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def listens(self) -> bool:
        return self.cfg.alerts  # off: webhooks only, nothing to listen to

    def _add_routes(self, http: HttpServer) -> None:
        if self.cfg.webhooks:
            register_webhook(http, self)

    def identify(self) -> str | None:
        return self.api.identify()

    def _listen(self, stop: threading.Event, connected: threading.Event) -> None:
        self.api.reconnect()
        sock = AlertSocket(self.api.notifications_url(), ping_interval=self.ping_interval, watchdog=self.watchdog,
                           connect_timeout=self.timeout)
        sock.open()
        self._socket = sock

        def alive() -> None:
            connected.set()
            log.info("%s: listening to %s notifications", self.name, self.cfg.url)
            self._post("connected")

        try:
            sock.serve(lambda container: self._post("alert", container), stop, alive)
        finally:
            sock.close()

    def _abort(self) -> None:
        if self._socket is not None:
            self._socket.abort()

    def _poll(self) -> None:
        """While disconnected (Supervisor thread): read the sessions list, let the worker act on it."""
        self._post("sessions", self.api.sessions())

    # -- the worker -----------------------------------------------------------------------------

    def _handle(self, kind: str, data: Any) -> None:
        if kind == "alert":
            self._alert(data)
        else:
            self._catch_up(self.api.sessions() if kind == "connected" else data)

    def _alert(self, container: dict[str, Any]) -> None:
        reports, problems = playing(container)
        for problem in problems:
            log.warning("%s: playing alert ignored: %s", self.name, problem)
        for report in reports:
            self._update(report.session, report.rating_key, report.state, report.position, None)

    def _update(self, key: str, rating_key: str, state: State, position: float, live: Live | None) -> None:
        now = self.clock()
        step = sessions.step(self.plays.get(key), self._skipped.get(key), rating_key, state, position, now)
        if step.close is not None:
            del self.plays[key]  # the player moved on to the next item in the same session
            self._send(step.close)
        if step.forget:
            self._skipped.pop(key, None)
            self._forget(f"user:{key}")
        event = step.event
        if step.begin:
            begun = self._begin(key, rating_key, live)
            event = replace(begun, state=state, position=position, at=now) if begun is not None else None
        if event is None:
            return
        if state is State.STOPPED:
            del self.plays[key]
        else:
            self.plays[key] = Play(event, rating_key)
        self._send(event)

    def _begin(self, key: str, rating_key: str, live: Live | None) -> PlayEvent | None:
        """Resolve a new session's item and user once; None when it is not to be sent."""
        if live is None:
            listed = self.api.sessions()
            # The list is fresh anyway: plays whose `stopped` alert never came are closed now, not
            # left to the core's silence timeout (and kept here forever).
            self._close_ended(listed)
            live = listed.get(key)
        if live is None or live.rating_key != rating_key:
            self._once(f"user:{key}", logging.INFO,
                       "session %s is not in /status/sessions (yet): its user is unknown; waiting", key)
            return None
        try:
            meta = self.api.metadata(rating_key)
            if in_excluded_library(meta, self.cfg.exclude_libraries):
                raise NotMatched(f"plex item {rating_key} {meta.get('title')!r} is in excluded library "
                                 f"{meta.get('librarySectionTitle')!r}")
            self._inline(meta, show_needed=True)
            event = event_from_metadata(meta, server=self.cfg.name, user=live.user, session=key,
                                        state=live.state, position=live.position, at=self.clock())
        except EventError as exc:
            self._skipped[key] = rating_key
            level = logging.INFO if isinstance(exc, NotMatched) else logging.WARNING
            self._once(f"item:{rating_key}", level, "not sent: %s", exc)
            return None
        self._forget(f"user:{key}")  # said for this session; kept, the set would grow with every play
        return event

    def _catch_up(self, listed: dict[str, Live]) -> None:
        """A fresh sessions list: close plays that ended unseen, carry on or begin the others."""
        self._close_ended(listed)
        for key, entry in listed.items():
            self._update(key, entry.rating_key, entry.state, entry.position, entry)

    def _close_ended(self, listed: dict[str, Live]) -> None:
        """Close the plays a sessions list no longer holds, at their last known position."""
        now = self.clock()
        for key in sessions.ended(self.plays, listed):
            log.info("%s: session %s ended unreported; closing it at its last known position", self.name, key)
            self._send(sessions.stopped(self.plays.pop(key), now))
        for key in sessions.gone(self._skipped, listed):
            del self._skipped[key]

    def _inline(self, meta: dict[str, Any], *, show_needed: bool) -> None:
        """Put into an episode's metadata what mapping it needs from the server: its show's (the
        ids of a new agent's episode) and its season's episodes (a multi-episode file). Without its
        season it is its one episode; without its show, a webhook's episode may still map by its
        own ids (`show_needed=False`)."""
        show, season = to_read(meta)
        if show is not None:
            try:
                meta["grandparent"] = self.api.show(show, self.clock())
            except READ_ERRORS as exc:
                if show_needed:
                    raise
                self._once(f"show:{show}", logging.WARNING, "could not read show %s from the server: %s", show, exc)
        if season is not None:
            try:
                meta["season"] = {"Metadata": self.api.season(season, self.clock())}
            except READ_ERRORS as exc:
                log.debug("%s: season %s of plex item %s not read (%s): marked as its one episode",
                          self.name, season, meta.get("ratingKey"), exc)

    # -- webhooks -------------------------------------------------------------------------------

    def webhook(self, payload: dict[str, Any]) -> tuple[int, Any]:
        """One webhook's payload (already parsed by `webhook.read_payload`); HTTP reply for it."""
        meta = payload.get("Metadata")
        if isinstance(meta, dict):
            if in_excluded_library(meta, self.cfg.exclude_libraries):
                return 200, {"ignored": "excluded library"}
            if payload.get("event") in WEBHOOK_STATES:  # nothing to read for library.new, media.rate, …
                self._inline(meta, show_needed=False)
        try:
            event = webhook_event(payload, server=self.cfg.name, at=self.clock())
        except NotMatched as exc:
            self._once(f"item:{meta.get('ratingKey') if isinstance(meta, dict) else '?'}", logging.INFO, "not sent: %s", exc)
            return 200, {"ignored": str(exc)}
        except EventError as exc:
            raise HttpError(400, str(exc)) from None
        if event is None:
            return 200, {"ignored": f"{payload.get('event')} is not a playback event"}
        self._send(event)
        return 202, {"accepted": True}

    # -- resume points --------------------------------------------------------------------------

    def apply_resume(self, resumes: list[Resume]) -> int:
        """Set the resume_user's view offsets from Simkl's playbacks of that user's account. The token
        sets its own user's: the owner's, for the admin token the bridge asks for."""
        user = self.cfg.resume_user
        if not resumes or not user:
            return 0
        if (other := self._not_the_owner(user)) is not None:
            self._once("resume-user", logging.WARNING, "%s: setting %r's resume points needs that user's own token; "
                       "skipped", other, user)
            return 0
        return ResumeWriter(self.name, self.api, self.cfg.exclude_libraries).apply(resumes)

    def _not_the_owner(self, user: str) -> str | None:
        """Why `user` is not the server's owner, the token's user (None when they are)."""
        name, email = self.api.owner()
        if user.casefold() in {name.casefold(), email.casefold()}:
            return None
        return f"resume_user {user!r} is not the server's owner {name or email!r}"

    def resume_owner(self) -> tuple[str, str, str] | None:
        """The resume_user by the name plays show (what `users:` rules match), also when it is given as
        the owner's plex.tv e-mail."""
        user = self.cfg.resume_user
        if not user:
            return None
        try:
            name, email = self.api.owner()
        except ERRORS as exc:
            log.warning("%s: the server's owner not read (%s); resume points go to %r", self.name, exc, user)
            return ("plex", self.cfg.name, user)
        return ("plex", self.cfg.name, name if name and user.casefold() == email.casefold() else user)

    # -- the library (bridge/library.py LibraryHolder) -------------------------------------------

    def library(self) -> LibraryHolder | None:
        """The watched state a listing shows is the token's user's, the owner's: the sync gives it to
        the account resume_user (the owner) maps to, so without one it is nobody's."""
        return self if self.cfg.resume_user else None

    def read_library(self) -> list[LibraryItem]:
        if (why := self._not_the_owners()) is not None:
            raise NotTheOwner(why)
        return self._library.read()

    def mark_watched(self, marks: list[tuple[LibraryItem, float | None]]) -> int:
        return self._library.mark_watched(marks) if self._owners_to_mark(len(marks), "marked watched") else 0

    def mark_unwatched(self, entries: list[LibraryItem]) -> int:
        return self._library.mark_unwatched(entries) if self._owners_to_mark(len(entries), "marked unwatched") else 0

    # -- ratings and lists (bridge/library.py TitleHolder) -----------------------------------------

    def titles(self) -> TitleHolder | None:
        """Ratings and collections are the token's user's too: offered as the library is."""
        return self if self.cfg.resume_user else None

    def read_titles(self, buckets: frozenset[str]) -> list[Title]:
        if (why := self._not_the_owners()) is not None:
            raise NotTheOwner(why)
        return self._titles.read(buckets)

    def rate(self, changes: list[tuple[Title, int | None, float | None]]) -> int:
        return self._titles.rate(changes) if self._owners_to_mark(len(changes), "rated") else 0

    def set_listed(self, bucket: str, add: list[Title], remove: list[Title]) -> int:
        return self._titles.set_listed(bucket, add, remove) if self._owners_to_mark(len(add) + len(remove), "listed") else 0

    def _not_the_owners(self) -> str | None:
        user = self.cfg.resume_user or ""
        other = self._not_the_owner(user)
        return None if other is None else (f"{other}: this token reads and marks the owner's library; {user}'s "
                                           "needs their own token, in a server entry of its own")

    def _owners_to_mark(self, count: int, what: str) -> bool:
        try:
            why = self._not_the_owners()
        except ERRORS as exc:
            why = f"the server's owner could not be read: {exc}"
        if why is not None and count:
            log.warning("%s: %d items not %s: %s", self.name, count, what, why)
        return why is None
