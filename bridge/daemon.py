"""`simkl-bridge run`: wires adapters -> engine -> outbox -> sender -> Simkl, and keeps it running.

Threads: each adapter owns its listener threads and calls `Bridge.sink`; one sender thread drains
the outbox; one ticker closes silent sessions; the optional HTTP endpoint serves webhooks. The
engine is not thread-safe, so `sink` and the ticker take one lock around it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge import logs
from bridge.accounts import AccountMap
from bridge.adapters.base import Adapter
from bridge.config import Config
from bridge.config.changes import changed, needs_restart
from bridge.engine import MARK_MEMORY, Engine
from bridge.events import EventError, PlayEvent, from_json
from bridge.http import HttpError, HttpServer, Request
from bridge.outbox import Outbox
from bridge.outbox_guard import OutboxError
from bridge.outbox_view import OutboxView
from bridge.reconcile import Summary, marks_for, reconcile_account
from bridge.sender import Sender
from bridge.simkl.auth import TokenStore, login_hint, token_for
from bridge.simkl.client import ClientConfig, SimklClient, SimklError
from bridge.state import OUTBOX, create_private
from bridge.sync.baseline import Baseline
from bridge.sync.progress import Drains
from bridge.sync.service import SyncService
from bridge.web import Metrics, register
from bridge.web.report import report
from bridge.writes import Write

log = logging.getLogger("bridge.daemon")

TICK_SECONDS = 15.0
# Simkl keeps playbacks up to 90 days (VIP); marks older than that cannot make one stale.
RECONCILE_LOOKBACK = 90 * 86400.0
PRUNE_EVERY = 3600.0
SYNC_BASELINE = "sync.sqlite"
# How long a stop waits for the threads, all together: a request to Simkl still in flight then is
# abandoned, and its writes, still pending in the outbox, are sent at the next start.
STOP_GRACE = 4.0

ClientFactory = Callable[[str, str], SimklClient]  # (account, token) -> client


class Bridge:
    def __init__(
        self,
        config: Config,
        *,
        adapters: list[Adapter] | None = None,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.clock = clock
        state_dir = Path(config.state_dir).expanduser()
        state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(state_dir, 0o700)
        self.tokens = TokenStore(state_dir)
        create_private(state_dir / OUTBOX)
        create_private(state_dir / SYNC_BASELINE)
        self.outbox = Outbox(state_dir / OUTBOX)
        self.view = OutboxView(state_dir / OUTBOX)
        self.metrics = Metrics(self)
        self.client_factory = client_factory or self._default_client
        self._clients: dict[str, tuple[str, SimklClient]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pruned_at = float("-inf")
        self._tick_failed = ""  # the outbox failure the ticker last met, said once
        self.engine = self._make_engine(config)
        self.engine.seed_marks(self.outbox.marks_since(clock() - MARK_MEMORY))
        self.sender = Sender(self.outbox, self.client_for, batch_size=config.outbox.batch_size,
                             track_rewatches=self._tracks_rewatches)
        self.adapters: list[Adapter] = adapters if adapters is not None else build_adapters(config)
        self.progress = Drains(self.view, lambda: self.sender.batch_size)  # a sync's additions on their way
        self.sync = SyncService(config, self.outbox, Baseline(state_dir / SYNC_BASELINE), self.adapters, self.client_for,
                                lambda *owner: self.engine.resolve_account(*owner), clock, self._wake.set,
                                lambda account: self.reconcile([account]), self.progress.follow)
        self.http = self._make_http(config)

    # -- wiring ---------------------------------------------------------------------------------

    @staticmethod
    def _make_engine(config: Config) -> Engine:
        accounts = AccountMap(config.users, config.catch_all)
        return Engine(
            accounts.resolve,
            threshold=config.engine.watched_threshold,
            session_timeout=config.engine.session_timeout,
            send_start=config.engine.send_start,
        )

    def _make_http(self, config: Config) -> HttpServer | None:
        if config.http is None:
            return None
        host, _, port = config.http.listen.rpartition(":")
        server = HttpServer(host or "127.0.0.1", int(port), config.http.secret)
        for adapter in self.adapters:
            adapter.register_routes(server, self._accept)
        server.add_route("GET", "/status", lambda _req: (200, self.status()), secret=True)
        server.add_route("POST", "/event", self._event_route, secret=True)
        register(server, self)
        return server

    def _event_route(self, request: Request) -> tuple[int, Any]:
        """A normalized event as JSON (scripts, the Kodi addon): mapped exactly like `map --from event`."""
        try:
            event = from_json(request.json())
        except EventError as exc:
            raise HttpError(400, str(exc)) from None
        self._accept(event)
        return 202, {"accepted": True}

    def _default_client(self, account: str, token: str) -> SimklClient:
        simkl = self.config.simkl
        cfg = ClientConfig(base_url=simkl.api_url, client_id=simkl.client_id, app_name=simkl.app_name,
                           read_timeout=simkl.timeout)
        return SimklClient(cfg, token, on_reply=self.metrics.simkl_reply)

    def token_env(self, account: str) -> str | None:
        settings = self.config.accounts.get(account)
        return settings.token_env if settings is not None else None

    def _tracks_rewatches(self, account: str) -> bool:
        settings = self.config.accounts.get(account)  # the current config: a reload applies at once
        return settings is not None and settings.track_rewatches

    def token_for(self, account: str) -> str | None:
        return token_for(self.tokens, account, self.token_env(account))[0]

    def client_for(self, account: str) -> SimklClient | None:
        """The client for an account's current token; a new token (after `login`) gets a new client."""
        token = self.token_for(account)
        if token is None:
            return None
        cached = self._clients.get(account)
        if cached is None or cached[0] != token:
            cached = (token, self.client_factory(account, token))
            self._clients[account] = cached
            self.sender.unblock(account)
        return cached[1]

    # -- the data path --------------------------------------------------------------------------

    def _accept(self, event: PlayEvent) -> None:
        """What adapters and /event hand over: counted for /metrics, then the engine's."""
        self.metrics.event(event)
        self.sink(event)

    def sink(self, event: PlayEvent) -> None:
        """Adapters call this from their own threads for every normalized event. It returns once the
        event's writes are committed; when they cannot be, the engine forgets the event and the
        sender is told 503 (HttpError), so nothing is acknowledged that a restart would not find."""
        with self._lock:
            writes = self.engine.handle(event)
            try:
                self._store(writes)
            except OutboxError as exc:
                raise HttpError(503, f"not stored, send it again later: {exc}", {"Retry-After": "60"}) from None

    def _store(self, writes: list[Write]) -> None:
        """Commit one decision's writes together, or undo the decision (OutboxError)."""
        if not writes:
            return
        try:
            self.outbox.enqueue_many(writes)
        except OutboxError:
            self.engine.revert()
            raise
        self._wake.set()

    def tick(self, now: float | None = None) -> None:
        """Close silent sessions; hourly, prune and check the outbox. A failure is said once (it is
        tried again at the next tick, with the sessions still open), and so is the recovery."""
        now = self.clock() if now is None else now
        try:
            with self._lock:
                self._store(self.engine.tick(now))
            if now - self._pruned_at >= PRUNE_EVERY:
                # Marks outlive the writes they came from for as long as dedupe and reconciliation look back.
                self.outbox.prune(sent_before=now - self.config.outbox.keep_sent_days * 86400.0,
                                  marks_before=now - max(MARK_MEMORY, RECONCILE_LOOKBACK))
                problem = self.outbox.verify()
                if problem:
                    raise OutboxError(problem)
                self.outbox.renew_seal()
                self._pruned_at = now
        except (OutboxError, OSError) as exc:
            if not self._tick_failed:
                log.error("outbox: %s; silent sessions close once it works again, events that write get 503", exc)
            self._tick_failed = str(exc)
            return
        if self._tick_failed:
            log.info("outbox: commits work again")
            self._tick_failed = ""

    def flush(self) -> Any:
        """Send what is due now (tests and the demo call this; the sender thread does it in `run`)."""
        return self.sender.flush_once(self.clock())

    def reconcile(self, accounts: list[str] | None = None) -> Summary:
        """Simkl's paused positions to the servers' resume points: at start-up for every account,
        and for one whose playbacks moved when the sync sees it."""
        summary = Summary()
        outbox_marks = self.outbox.marks_since(self.clock() - RECONCILE_LOOKBACK)
        for account in self.config.accounts if accounts is None else accounts:
            client = self.client_for(account)
            if client is None:
                log.warning("account %r is not logged in: %s", account, login_hint(account, self.token_env(account)))
                continue
            holders = [a for a in self.adapters if self._resume_account(a) == account]
            try:
                reconcile_account(account, client, marks_for(account, outbox_marks), holders, summary)
            except SimklError as exc:
                log.warning("account %r: could not reconcile playbacks now: %s", account, exc)
        log.info(summary.line())
        return summary

    def _resume_account(self, adapter: Adapter) -> str | None:
        """The Simkl account whose playbacks become this adapter's resume points (fail-closed)."""
        try:
            owner = adapter.resume_owner()
        except Exception as exc:  # a server that cannot say whose it is gets nobody's
            log.warning("%s: resume points not pushed: %s: %s", adapter.name, type(exc).__name__, exc)
            return None
        return self.engine.resolve_account(*owner) if owner else None

    def reconfigure(self, config: Config) -> tuple[list[str], list[str]]:
        """A reloaded config: (the keys applied now, the keys that wait for a restart). Who is whom,
        the engine, accounts, Simkl's settings, the log level and the secret apply now; servers,
        the endpoint's address and the state dir are held by what was started with them."""
        keys = changed(self.config, config)
        with self._lock:
            self.config = self.sync.config = config
            self.engine.reconfigure(
                AccountMap(config.users, config.catch_all).resolve,
                threshold=config.engine.watched_threshold,
                session_timeout=config.engine.session_timeout,
                send_start=config.engine.send_start,
            )
        logs.set_level(config.log_level)
        self.sender.batch_size = config.outbox.batch_size
        if any(k.startswith("simkl.") for k in keys):
            self._clients.clear()  # the next send builds clients with the new settings
        if self.http is not None and config.http is not None:
            self.http.secret = config.http.secret
        self._wake.set()  # an account may have gained a token (token_env)
        return [k for k in keys if not needs_restart(k)], [k for k in keys if needs_restart(k)]

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, reconcile: bool = True) -> None:
        for adapter in self.adapters:
            adapter.start(self.sink)
        if self.http is not None:
            self.http.start()
        if reconcile:
            # Off the main thread: a Simkl outage at startup must not hold up listening.
            # Only reads Simkl and sets resume points: a stop does not wait for it.
            threading.Thread(target=self.reconcile, name="bridge-reconcile", daemon=True).start()
        self._spawn("sender", lambda: self.sender.run(self._stop, self._wake))
        self._spawn("ticker", self._tick_loop)
        if self.config.sync.enabled:
            # What a sync decided is in the outbox as it goes: a stop does not wait for the rest.
            threading.Thread(target=self.sync.run, args=(self._stop,), name="bridge-sync", daemon=True).start()
            threading.Thread(target=self.progress.run, args=(self._stop,), name="bridge-progress", daemon=True).start()

    def _spawn(self, name: str, target: Callable[[], Any]) -> None:
        """A thread that holds work: a stop waits for it (STOP_GRACE)."""
        thread = threading.Thread(target=target, name=f"bridge-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.tick()

    def stop(self, grace: float = STOP_GRACE) -> list[str]:
        """Stop listening, let the threads finish what they hold within `grace` seconds in all;
        the names of those that did not (their work is pending in the outbox)."""
        self._stop.set()
        self._wake.set()
        for adapter in self.adapters:
            try:
                adapter.stop()
            except Exception as exc:
                log.warning("%s: stop failed: %s", adapter.name, exc)
        if self.http is not None:
            self.http.stop()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return [t.name for t in self._threads if t.is_alive()]

    def status(self) -> dict[str, Any]:
        return {
            "outbox": self.outbox.counts(),
            "blocked_accounts": sorted(self.sender.blocked),
            "sessions": len(self.engine.sessions),
            "adapters": [a.name for a in self.adapters],
            **report(self),
        }

    def retry_parked(self, ids: list[int] | None = None, account: str | None = None) -> int:
        """Queue parked writes again (the status page's button, `simkl-bridge queue retry`)."""
        n = self.outbox.requeue_parked(account, ids=ids)
        self._wake.set()
        return n

    def playing(self) -> list[tuple[str, PlayEvent]]:
        """(account, latest event) of each open session, for the status page."""
        with self._lock:
            return [(s.account, s.event) for s in self.engine.sessions.values()]


def build_adapters(config: Config) -> list[Adapter]:
    """One adapter per configured server. Imports are local: a Kodi-only user never loads plexapi."""
    adapters: list[Adapter] = []
    plex_servers, jellyfin_servers = [s for s in config.plex if s.enabled], [s for s in config.jellyfin if s.enabled]
    kodi_hosts = [s for s in config.kodi if s.enabled]
    if plex_servers:
        from bridge.adapters.plex import adapters_from_config as plex

        adapters += plex(tuple(plex_servers))
    if jellyfin_servers:
        from bridge.adapters.jellyfin import adapters_from_config as jellyfin

        adapters += jellyfin(tuple(jellyfin_servers))
    if kodi_hosts:
        from bridge.adapters.kodi import adapters_from_config as kodi

        adapters += kodi(tuple(kodi_hosts))
    return adapters
