"""A busy shared server in simulated time, for tests/test_load.py and bench/busy_server.py.

`busy_server(...)` runs N concurrent sessions on the Plex stand-in, each reporting its position every
`interval` s as Plex's alert socket does (a pause now and then, the next episode once one ends), through the
real PlexAdapter (socket, worker, mapping), the bridge's sink (engine and outbox) and its ticker. The clock
is simulated: a minute of viewing costs what its events cost. Every alert is waited for until the adapter
has taken it in, so the figures are per event, whatever the machine's speed.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.adapters.plex.adapter import PlexAdapter
from bridge.backoff import Backoff
from bridge.config import PlexServer, parse
from bridge.daemon import Bridge
from bridge.writes import HISTORY, PAUSE
from tests.adapters.plex.standin import TOKEN, PlexStandIn
from tests.conftest import eventually

T0 = 1_700_000_000.0
SHOWS, EPISODES = 10, 30  # the library: 300 episodes to spread the sessions over


class Clock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Figures:
    sessions: int
    simulated: float  # seconds of viewing simulated
    events: int = 0  # PlayEvents that reached the engine
    wall: float = 0.0  # seconds the run took
    bridge_cpu: float = 0.0  # CPU seconds of the adapter's threads (mapping, engine, outbox)
    process_cpu: float = 0.0  # CPU seconds of the whole process (the stand-in included)
    rss_start: int = 0  # kB, once every session was resolved
    rss_end: int = 0
    viewings: int = 0  # played to the end
    pauses: int = 0
    writes: dict[str, int] = field(default_factory=dict)  # outbox rows by kind

    def line(self) -> str:
        return (f"{self.sessions} sessions x {self.simulated / 60:.0f} simulated min: {self.events} events in "
                f"{self.wall:.1f} s = {self.events / self.wall:.0f} events/s; bridge threads {self.bridge_cpu:.1f} CPU-s "
                f"({self.events / max(self.bridge_cpu, 1e-9):.0f} events per CPU-s), whole process {self.process_cpu:.1f} "
                f"CPU-s; RSS {self.rss_start / 1024:.1f} -> {self.rss_end / 1024:.1f} MB; {self.viewings} viewings "
                f"ended, {self.pauses} pauses; outbox {self.writes}")


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def thread_cpu(threads: list[threading.Thread]) -> float:
    """CPU seconds the given threads used so far (Linux: /proc/self/task/<tid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for t in threads:
        fields = Path(f"/proc/self/task/{t.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def library(plex: PlexStandIn, episode_ms: int) -> list[str]:
    keys = []
    for s in range(SHOWS):
        show = str(1000 + s)
        plex.add(show, "show", f"Show {s}", "2", f"plex://show/{show}", (f"tvdb://{70000 + s}",))
        for e in range(1, EPISODES + 1):
            key = str(10000 + s * 100 + e)
            plex.add(key, "episode", f"Episode {e}", "2", f"plex://episode/{key}", (f"tvdb://{800000 + s * 100 + e}",),
                     duration=episode_ms, parentIndex=1, index=e, grandparentRatingKey=show, grandparentTitle=f"Show {s}",
                     parentRatingKey=str(50000 + s))
            keys.append(key)
    return keys


def busy_server(state_dir: Path, sessions: int = 200, minutes: float = 60, interval: int = 10,
                episode_minutes: float = 45) -> Figures:
    episode_ms = int(episode_minutes * 60_000)
    figures = Figures(sessions, minutes * 60)
    clock = Clock()
    with PlexStandIn() as plex:
        keys = library(plex, episode_ms)
        config = parse(f"""
state_dir: {state_dir}
simkl: {{client_id: emulator-client, api_url: "http://127.0.0.1:9"}}
accounts: {{alice: {{}}, bob: {{}}}}
users: [{{user: alice, account: alice}}, {{user: bob, account: bob}}]
""")
        adapter = PlexAdapter(PlexServer(name="home", url=plex.url, token=TOKEN, webhooks=False), clock=clock,
                              backoff=Backoff(0.05, 0.2), poll_interval=0.2, ping_interval=5.0, watchdog=120.0)
        bridge = Bridge(config, adapters=[adapter], clock=clock)
        handled = [0]
        handle = adapter._handle

        def counted(kind: str, data: Any) -> None:
            handle(kind, data)
            if kind == "alert":
                handled[0] += 1

        adapter._handle = counted  # type: ignore[method-assign]
        sink = bridge.sink

        def sink_counted(event: Any) -> None:
            figures.events += 1
            sink(event)

        adapter.start(sink_counted)
        try:
            plex.wait_connected()
            sent = 0
            offsets, items = {}, {}
            for n in range(sessions):
                items[n] = n % len(keys)
                offsets[n] = (n * 37 * interval * 1000) % (episode_ms // 2)  # sessions begin at different points
                plex.play(str(n), keys[items[n]], offset=offsets[n], user="alice" if n % 2 else "bob",
                          user_id=1 if n % 2 else 2)
                sent += 1
            eventually(lambda: handled[0] == sent and len(adapter.plays) == sessions, "every session resolved", 120)
            threads = [t for t in threading.enumerate() if t.name.startswith(f"{adapter.name}-worker")
                       or t.name == f"adapter-{adapter.name}"]
            cpu0, process0, began = thread_cpu(threads), time.process_time(), time.monotonic()
            figures.rss_start = rss_kb()
            for step in range(int(minutes * 60 // interval)):
                clock.now += interval
                for n in range(sessions):
                    offsets[n] += interval * 1000
                    if offsets[n] >= episode_ms:  # the end: the stop, then the next episode
                        plex.alert(str(n), "stopped", episode_ms)
                        items[n] = (items[n] + sessions) % len(keys)
                        offsets[n] = 0
                        plex.play(str(n), keys[items[n]], user="alice" if n % 2 else "bob", user_id=1 if n % 2 else 2)
                        figures.viewings += 1
                        sent += 2
                    elif (step + n) % 120 == 60:  # every 20 minutes a pause of one report
                        plex.alert(str(n), "paused", offsets[n])
                        figures.pauses += 1
                        sent += 1
                    else:
                        plex.alert(str(n), "playing", offsets[n])
                        sent += 1
                eventually(lambda sent=sent: handled[0] >= sent, f"the adapter to take in {sent} alerts", 120)
                if step % max(1, 15 // interval) == 0:
                    bridge.tick()
            figures.wall = time.monotonic() - began
            figures.bridge_cpu = thread_cpu(threads) - cpu0
            figures.process_cpu = time.process_time() - process0
            figures.rss_end = rss_kb()
            counts = bridge.outbox._db.execute("SELECT kind, COUNT(*) FROM writes GROUP BY kind").fetchall()
            figures.writes = {kind: n for kind, n in counts}
        finally:
            adapter.stop()
            bridge.outbox.close()
    assert set(figures.writes) <= {HISTORY, PAUSE, "start"}
    return figures
