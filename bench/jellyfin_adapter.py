"""Jellyfin adapter figures, against the Jellyfin stand-in and the Simkl emulator on 127.0.0.1.
Run by hand: `python3 bench/jellyfin_adapter.py [trials] [idle_seconds] [version]` (version one of the
stand-in's VERSIONS, by default the newest; 10.10.7 is a server that pushes no sessions to an API key).

(a) Detection delay: from the stand-in taking a client's report (a pause or a resume) to the
    emulator receiving the resulting /scrobble write, through a running Bridge (engine, outbox with
    its fsync, sender thread). Median and worst over the trials. On 10.10.7 the report is found by
    the read of /Sessions every 5 s while the socket is up.
(b) Idle: CPU time of the adapter's listener and worker threads (from /proc, so the stand-in and the
    bridge's other threads are not counted) with one connected server and nothing playing, with
    the production intervals (keep-alive at half the server's 60 s ForceKeepAlive or 30 s, 5 s reads
    while no push proved the subscription), and the requests the server got meanwhile.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.adapters.jellyfin.adapter import JellyfinAdapter, pushes_sessions
from bridge.config import JellyfinServer, default_config
from bridge.daemon import Bridge
from bridge.emulator import DEFAULT_CLIENT_ID, Emulator
from bridge.simkl.auth import TokenStore
from bridge.simkl.client import ClientConfig, SimklClient
from tests.adapters.jellyfin.standin import ALICE, API_KEY, VERSIONS, JellyfinStandIn

TOKEN = "bench-token-0123456789"
PACE = 0.02


def thread_cpu(threads: list[threading.Thread]) -> float:
    """utime + stime of these threads of this process, in seconds."""
    total = 0
    for thread in threads:
        fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_for(probe, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.01)


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    version = sys.argv[3] if len(sys.argv) > 3 else VERSIONS[-1]
    with (tempfile.TemporaryDirectory() as tmp, Emulator(post_interval=0.0) as emulator,
          JellyfinStandIn(version) as jf):
        emulator.start()
        emulator.add_token(TOKEN, "alice")
        received: list[tuple[str, float]] = []

        class Stamped(list):
            """The emulator's request log, noting when each call arrived."""

            def append(self, entry):
                received.append((entry["path"], time.perf_counter()))
                super().append(entry)

        emulator.requests = Stamped()
        movie = jf.add_movie("The Matrix", {"Tmdb": "603"}, minutes=136)
        config = default_config(Path(tmp) / "state", emulator.url, DEFAULT_CLIENT_ID, account="alice")
        TokenStore(config.state_dir).put("alice", TOKEN)
        adapter = JellyfinAdapter(JellyfinServer(name="home", url=jf.url, api_key=API_KEY))
        client = SimklClient(ClientConfig(base_url=emulator.url, client_id=DEFAULT_CLIENT_ID, post_interval=PACE), TOKEN)
        bridge = Bridge(config, adapters=[adapter], client_factory=lambda account, token: client)
        bridge.start(reconcile=False)
        try:
            wait_for(lambda: adapter.supervisor.connected.is_set())
            jf.play("s1", ALICE, movie, 600)
            wait_for(lambda: any(p.startswith("/scrobble/start") for p, _ in received))
            delays = []
            wait_for(lambda: adapter.subscribed or not pushes_sessions(jf.release), 30)
            for i in range(trials):
                time.sleep(0.3)
                before = len(received)
                position = 600 + 60 * (i + 1)
                pushed = jf.pause("s1", position) if i % 2 == 0 else jf.resume("s1", position)
                wait_for(lambda before=before: len(received) > before, 30)
                delays.append(received[before][1] - pushed)
            jf.stop("s1")
            time.sleep(1.0)

            mine = [t for t in threading.enumerate() if t.name in (f"adapter-{adapter.name}", f"{adapter.name}-worker")]
            cpu0, proc0, wall0 = thread_cpu(mine), time.process_time(), time.perf_counter()
            asked0 = len(jf.server.requests)
            time.sleep(idle)
            cpu1, proc1, wall1 = thread_cpu(mine), time.process_time(), time.perf_counter()
            asked = jf.server.requests[asked0:]
        finally:
            bridge.stop()
    ms = sorted(d * 1000 for d in delays)
    print(f"Jellyfin {version}; the socket {'pushes' if pushes_sessions(jf.release) else 'pushes no'} sessions")
    print(f"(a) session update -> write received by the emulator, {len(ms)} trials (pause/resume alternating):")
    print(f"    median {statistics.median(ms):.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms")
    span = wall1 - wall0
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    print(f"(b) idle, one connected server, {span:.0f} s: adapter listener + worker threads {1000 * (cpu1 - cpu0):.0f} ms CPU "
          f"(resolution {tick:.0f} ms) "
          f"({100 * (cpu1 - cpu0) / span:.3f}% of one core); whole process incl. stand-in, emulator and bridge "
          f"{1000 * (proc1 - proc0):.0f} ms ({100 * (proc1 - proc0) / span:.2f}%); "
          f"{sum(r.path == '/Sessions' for r in asked)} reads of /Sessions, {len(asked)} requests in all")


if __name__ == "__main__":
    main()
