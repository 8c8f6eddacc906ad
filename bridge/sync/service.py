"""The library sync as the daemon and `simkl-bridge sync` run it: which server libraries belong to
which Simkl account (the same `users:` rules as plays, through each adapter's `resume_owner`), the
options each server's config gives, one account at a time, and the matching report.

A Simkl error ends that account's run before anything is planned (a revoked token never reads as
an empty library, so nothing is ever unwatched or dropped because of it), with one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bridge.adapters.base import Adapter
from bridge.config import Config, JellyfinServer, KodiHost, PlexServer
from bridge.library import LibraryHolder, TitleHolder
from bridge.outbox import Outbox
from bridge.simkl.client import SimklError
from bridge.sync.baseline import Baseline
from bridge.sync.plan import Options
from bridge.sync.runner import Report, SimklReads, sync_account
from bridge.sync.titles_plan import TitleOptions

log = logging.getLogger("bridge.sync")

DIRECTIONS = ("to-simkl", "from-simkl", "both")
REPORT_FILE = "sync-unmatched.txt"


@dataclass(frozen=True)
class Request:
    account: str | None = None  # None: every account
    server: str | None = None  # "<source>/<name>"; None: every server
    direction: str | None = None  # None: to Simkl, and from Simkl where the server's config says so
    dry_run: bool = False


class SyncService:
    def __init__(self, config: Config, outbox: Outbox, baseline: Baseline, adapters: list[Adapter],
                 client_for: Callable[[str], SimklReads | None], resolve: Callable[[str, str, str], str | None],
                 clock: Callable[[], float] = time.time, queued: Callable[[], object] = lambda: None,
                 paused: Callable[[str], object] = lambda account: None,
                 follow: Callable[[str], object] = lambda account: None):
        self.config, self.outbox, self.baseline, self.adapters = config, outbox, baseline, adapters
        self.client_for, self.resolve, self.clock = client_for, resolve, clock
        self.queued = queued  # wakes the sender for what a run put in the outbox
        self.paused = paused  # an account's Simkl playbacks moved: its resume points, now
        self.follow = follow  # an account's additions were queued: their delivery is followed (sync/progress.py)

    def holders(self, account: str, request: Request) -> list[tuple[LibraryHolder, Options]]:
        return [(holder, self._options(adapter.name, request.direction))
                for adapter in self._owned(account, request) if (holder := adapter.library()) is not None]

    def titles(self, account: str, request: Request) -> dict[str, tuple[TitleHolder, TitleOptions]]:
        """The account's servers that sync ratings or lists, by their library holder's name."""
        found = {}
        for adapter in self._owned(account, request):
            holder, options = adapter.titles(), self._title_options(adapter.name, request.direction)
            if holder is not None and options.active:
                found[holder.name] = (holder, options)
        return found

    def _owned(self, account: str, request: Request) -> Iterator[Adapter]:
        """The adapters whose owner (the `users:` rules on their `resume_owner`) is the account's, as asked."""
        for adapter in self.adapters:
            owner = adapter.resume_owner()
            if owner is not None and self.resolve(*owner) == account and request.server in (None, adapter.name):
                yield adapter

    def _server(self, name: str) -> PlexServer | JellyfinServer | KodiHost | None:
        servers = {f"{kind}/{s.name}": s for kind, group in (("plex", self.config.plex), ("jellyfin", self.config.jellyfin),
                                                              ("kodi", self.config.kodi)) for s in group}
        return servers.get(name)

    def _options(self, name: str, direction: str | None) -> Options:
        server = self._server(name)
        opted_in = server is not None and server.sync_from_simkl
        sync = self.config.sync
        return Options(to_simkl=direction in (None, "to-simkl", "both"),
                       from_simkl=direction in ("from-simkl", "both") or (direction is None and opted_in),
                       unwatch=sync.unwatch, unwatch_limit=sync.unwatch_limit)

    def _title_options(self, name: str, direction: str | None) -> TitleOptions:
        server, sync = self._server(name), self.config.sync
        if server is None:
            return TitleOptions()
        # The Discover watchlist is a Plan to Watch list of the server's too (the adapter reads it as one).
        lists = frozenset(server.lists) | ({"plantowatch"} if isinstance(server, PlexServer) and server.watchlist else set())
        return TitleOptions(ratings=server.ratings, rating_removal=sync.rating_removal, lists=lists,
                            list_removal=sync.list_removal, removal_limit=sync.unwatch_limit,
                            to_simkl=direction != "from-simkl", to_server=direction != "to-simkl")

    def run_once(self, request: Request = Request()) -> list[Report]:
        reports = []
        for account in [request.account] if request.account else list(self.config.accounts):
            holders = self.holders(account, request)
            if not holders:
                continue
            client = self.client_for(account)
            if client is None:
                log.warning("sync %s: not logged in; run: simkl-bridge login --account %s", account, account)
                continue
            try:
                reports.append(sync_account(account, client, self.baseline, self.outbox, holders, now=self.clock(),
                                            dry_run=request.dry_run, queued=partial(self._queued, account),
                                            titles=self.titles(account, request)))
                if reports[-1].playback_moved and not request.dry_run:
                    self.paused(account)
            except SimklError as exc:
                log.warning("sync %s: Simkl could not be read (%s); nothing was changed, the next run tries again",
                            account, exc)
        self._write_report(reports)
        return reports

    def _queued(self, account: str) -> None:
        self.follow(account)  # before the sender is woken: it counts from the first addition waiting
        self.queued()

    def _write_report(self, reports: list[Report]) -> None:
        """Every item that could not be matched, with why: never dropped silently."""
        rows = [(r.account, server, entry.item.kind.value, entry.title or "?", entry.ref, why)
                for r in reports for server, p in r.plans.items() for entry, why in p.skipped]
        rows += [(r.account, server, title.item.kind.value, title.title or "?", title.ref, why)
                 for r in reports for server, t in r.titles.items() for title, why in t.skipped]
        # A title is a server's free text: a tab or a line break in it would split its row.
        lines = ["\t".join(" ".join(field.split()) for field in row) for row in rows]
        if reports:
            path = Path(self.config.state_dir).expanduser() / REPORT_FILE
            part = path.with_suffix(".part")  # replaced whole: `status` never reads half a report
            part.write_text("".join(line + "\n" for line in lines))
            part.replace(path)
            if lines:
                log.info("sync: %d item(s) could not be matched; listed in %s", len(lines), path)

    def run(self, stop: threading.Event) -> None:
        """At start-up, then every `sync.every_hours`, until `stop`."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the sync thread must outlive any surprise of a server
                log.error("sync: %s: %s", type(exc).__name__, exc)
            stop.wait(self.config.sync.every_hours * 3600.0)
