"""`/metrics` in Prometheus' text format, through prometheus_client.

Two kinds of figures: counters the bridge bumps as things happen (events heard, Simkl requests
and their latency), and figures read from the bridge's own state at each scrape (the outbox, the
sender's totals, the servers' connections, a sync's additions on their way and its matching
report), so that nothing is counted twice over.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge.events import PlayEvent

if TYPE_CHECKING:
    from bridge.daemon import Bridge

PREFIX = "simkl_bridge"
# Ids and PIN codes in a path would make a new series per request.
_VARIABLE = re.compile(r"/(?:\d+|[A-Z0-9]{5,8})(?=/|$)")
# Simkl answers in tens of milliseconds to seconds; a stalled request waits out the read timeout.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self, bridge: Bridge):
        self.registry = CollectorRegistry()
        self._events = Counter(f"{PREFIX}_events", "Play events heard from the media servers and /event",
                               ["source", "kind", "state"], registry=self.registry)
        self._simkl = Histogram(f"{PREFIX}_simkl_request_seconds", "Simkl API requests by endpoint and outcome",
                                ["method", "endpoint", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_State(bridge))

    def event(self, event: PlayEvent) -> None:
        self._events.labels(event.source, event.kind.value, event.state.value).inc()

    def simkl_reply(self, method: str, path: str, status: int | None, seconds: float) -> None:
        endpoint = _VARIABLE.sub("/{id}", path)
        self._simkl.labels(method, endpoint, "no reply" if status is None else str(status)).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _State(Collector):
    """Figures read from the running bridge at each scrape."""

    def __init__(self, bridge: Bridge):
        self.bridge = bridge

    def collect(self) -> Iterator[Metric]:
        from bridge.web.report import servers, unmatched

        b = self.bridge
        totals = b.sender.totals
        writes = CounterMetricFamily(f"{PREFIX}_writes", "Writes delivered to Simkl, failed (to be retried) and parked",
                                     labels=["result"])
        for result, n in (("sent", totals.sent), ("failed", totals.retried), ("parked", totals.parked)):
            writes.add_metric([result], n)
        yield writes
        depth = GaugeMetricFamily(f"{PREFIX}_outbox_writes", "Writes in the outbox by account and state",
                                  labels=["account", "state"])
        for account, c in sorted(b.view.counts().items()):
            for state in ("pending", "sent", "parked"):
                depth.add_metric([account, state], getattr(c, state))
        yield depth
        oldest = b.view.oldest_pending(b.config.accounts, b.clock())
        yield GaugeMetricFamily(f"{PREFIX}_outbox_oldest_pending_age_seconds",
                                "How long the longest-waiting write has waited for Simkl (0: none waits)",
                                value=max(0.0, oldest[1]) if oldest is not None else 0.0)
        connected = GaugeMetricFamily(f"{PREFIX}_server_connected", "1 while the live connection to a server is up",
                                      labels=["server"])
        reconnects = CounterMetricFamily(f"{PREFIX}_server_reconnects", "Connections to a server that dropped",
                                         labels=["server"])
        for s in servers(b):
            if s["connected"] is not None:
                connected.add_metric([s["name"]], 1.0 if s["connected"] else 0.0)
                reconnects.add_metric([s["name"]], s["disconnects"])
        yield connected
        yield reconnects
        blocked = GaugeMetricFamily(f"{PREFIX}_account_blocked", "1 while Simkl refuses the account's token",
                                    labels=["account"])
        for account in b.config.accounts:
            blocked.add_metric([account], 1.0 if account in b.sender.blocked else 0.0)
        yield blocked
        yield GaugeMetricFamily(f"{PREFIX}_sessions", "Plays in progress", value=len(b.playing()))
        delivering = b.progress.read()
        pending = GaugeMetricFamily(f"{PREFIX}_sync_pending_writes", "A library sync's additions still waiting for Simkl",
                                    labels=["account"])
        for account in b.config.accounts:
            pending.add_metric([account], delivering[account].pending if account in delivering else 0.0)
        yield pending
        # A gauge, not a counter: each sync replaces the report, and the next may list fewer.
        report = unmatched(b.config.state_dir)
        items = GaugeMetricFamily(f"{PREFIX}_sync_unmatched_items", "Items the last library sync could not match, by reason",
                                  labels=["account", "reason"])
        for count in report["counts"] if report is not None else []:
            items.add_metric([count["account"], count["reason"]], count["items"])
        yield items
