"""Jellyfin adapter figures, against the Jellyfin stand-in and the Simkl emulator on 127.0.0.1.
Run by hand: `python3 bench/jellyfin_adapter.py [trials] [idle_seconds]`.

(a) Detection delay: from the stand-in pushing a `Sessions` update (a pause or a resume) to the
    emulator receiving the resulting /scrobble write, through a running Bridge (engine, outbox with
    its fsync, sender thread). Median and worst over the trials.
(b) Idle CPU: CPU time of the adapter's listener thread (from /proc, so the stand-in and the
    bridge's other threads are not counted) with one connected server and nothing playing, with
    the production intervals (keep-alive at half the server's 60 s ForceKeepAlive, 10 s poll).
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

from bridge.adapters.jellyfin import JellyfinAdapter  # noqa: E402
from bridge.config import JellyfinServer, default_config  # noqa: E402
from bridge.daemon import Bridge  # noqa: E402
from bridge.emulator import DEFAULT_CLIENT_ID, Emulator  # noqa: E402
from bridge.simkl.auth import TokenStore  # noqa: E402
from bridge.simkl.client import ClientConfig, SimklClient  # noqa: E402
from tests.jellyfin_standin import ALICE, API_KEY, JellyfinStandIn  # noqa: E402

TOKEN = "bench-token-0123456789"
PACE = 0.02


def thread_cpu(native_id: int) -> float:
    """utime + stime of one thread of this process, in seconds."""
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(probe, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.01)


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    with tempfile.TemporaryDirectory() as tmp, Emulator(post_interval=0.0) as emulator, JellyfinStandIn() as jf:
        emulator.start()
        emulator.add_token(TOKEN, "alice")
        received: list[tuple[str, float]] = []
        log_request = emulator.log_request

        def stamped(method, path, status, body):
            received.append((path, time.perf_counter()))
            log_request(method, path, status, body)

        emulator.log_request = stamped  # type: ignore[method-assign]
        movie = jf.add_movie("The Matrix", {"Tmdb": "603"}, minutes=136)
        config = default_config(Path(tmp) / "state", emulator.url, DEFAULT_CLIENT_ID, account="alice")
        TokenStore(config.state_dir).put("alice", TOKEN)
        adapter = JellyfinAdapter(JellyfinServer(name="home", url=jf.url, api_key=API_KEY))
        client = SimklClient(ClientConfig(base_url=emulator.url, client_id=DEFAULT_CLIENT_ID, post_interval=PACE), TOKEN)
        bridge = Bridge(config, adapters=[adapter], client_factory=lambda account, token: client)
        bridge.start(reconcile=False)
        try:
            wait_for(lambda: adapter.supervisor.connected.is_set() and jf.subscribers)
            jf.play("s1", ALICE, movie, 600)
            wait_for(lambda: any(p.startswith("/scrobble/start") for p, _ in received))
            delays = []
            for i in range(trials):
                time.sleep(0.3)
                before = len(received)
                position = 600 + 60 * (i + 1)
                pushed = jf.pause("s1", position) if i % 2 == 0 else jf.resume("s1", position)
                wait_for(lambda: len(received) > before)
                delays.append(received[before][1] - pushed)
            jf.stop("s1")
            time.sleep(1.0)

            listener = next(t for t in threading.enumerate() if t.name == f"adapter-{adapter.name}")
            cpu0, proc0, wall0 = thread_cpu(listener.native_id), time.process_time(), time.perf_counter()
            time.sleep(idle)
            cpu1, proc1, wall1 = thread_cpu(listener.native_id), time.process_time(), time.perf_counter()
        finally:
            bridge.stop()
    ms = sorted(d * 1000 for d in delays)
    print(f"(a) session update -> write received by the emulator, {len(ms)} trials (pause/resume alternating):")
    print(f"    median {statistics.median(ms):.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms")
    span = wall1 - wall0
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    print(f"(b) idle, one connected server, {span:.0f} s: adapter listener thread {1000 * (cpu1 - cpu0):.0f} ms CPU "
          f"(resolution {tick:.0f} ms) "
          f"({100 * (cpu1 - cpu0) / span:.3f}% of one core); whole process incl. stand-in, emulator and bridge "
          f"{1000 * (proc1 - proc0):.0f} ms ({100 * (proc1 - proc0) / span:.2f}%)")


if __name__ == "__main__":
    main()
