"""Latency from Kodi's OnStop to the watch being on Simkl: a real Kodi (headless, as in the tests),
the whole bridge (Kodi adapter, engine, outbox, sender, client) and the Simkl emulator.

Run by hand: `python3 bench/kodi_latency.py [plays] [post_interval]` (defaults: 20 plays, 1.0 s,
Simkl's own limit of one POST per second per token). Needs kodi, xvfb-run and ffmpeg.

Each play opens the library movie from the start, seeks to 90% and lets it end (OnStop with
end:true). A separate JSON-RPC connection, not the adapter's, timestamps OnStop; the emulator is
polled until it holds one more history entry. Every play must add exactly one watch, which is
checked. Simkl counts a rewatch only two days or more from the last one, so the bridge's clock
(adapter and engine) is set back three days per remaining play: to Simkl the plays are days apart.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.adapters.kodi import KodiAdapter
from bridge.adapters.kodi.api import TcpConnection
from bridge.config import parse
from bridge.daemon import Bridge
from bridge.emulator import DEFAULT_CLIENT_ID, Emulator
from bridge.events import PlayEvent, State
from bridge.simkl.auth import TokenStore
from bridge.simkl.client import ClientConfig, SimklClient
from tests.adapters.kodi.real import RealKodi, available
from tests.conftest import eventually

TOKEN = "bench-token-0123456789abcdef"
DAYS_APART = 3 * 86400.0


class ViewingClock:
    """Wall time shifted back by whole days: each play is stamped days after the previous one."""

    def __init__(self, plays: int):
        self.offset = -plays * DAYS_APART

    def __call__(self) -> float:
        return time.time() + self.offset

    def next_play(self) -> None:
        self.offset += DAYS_APART


def watches(emulator: Emulator) -> int:
    return len(emulator.state()["users"].get("alice", {}).get("watches", []))


def wait(probe, timeout: float, what: str, step: float = 0.002):
    # Polled finely: the wait itself is part of what is measured.
    return eventually(probe, what, timeout, interval=step)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    plays = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    post_interval = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    if (why := available()) is not None:
        sys.exit(f"kodi_latency: a real Kodi cannot run here ({why})")
    with tempfile.TemporaryDirectory() as tmp, Emulator(post_interval=post_interval) as emulator:
        emulator.start()
        emulator.add_token(TOKEN, "alice")
        kodi = RealKodi(Path(tmp) / "kodi")
        kodi.build()
        try:
            config = parse(f"""
state_dir: {tmp}/state
simkl: {{client_id: {DEFAULT_CLIENT_ID}, api_url: "{emulator.url}"}}
accounts: {{alice: {{}}}}
users: [{{user: alice, account: alice}}]
kodi: [{{name: bench, port: {kodi.tcp_port}, http_port: {kodi.http_port}, user: alice}}]
""")
            TokenStore(config.state_dir).put("alice", TOKEN)
            client_cfg = ClientConfig(base_url=emulator.url, client_id=DEFAULT_CLIENT_ID, post_interval=post_interval)
            clock = ViewingClock(plays)
            bridge = Bridge(config, adapters=[KodiAdapter(config.kodi[0], clock=clock)], clock=clock,
                            client_factory=lambda account, token: SimklClient(client_cfg, token))
            results = measure(bridge, kodi, emulator, clock, plays)
        finally:
            kodi.quit()
    report(results, post_interval)


def measure(bridge: Bridge, kodi: RealKodi, emulator: Emulator, clock: ViewingClock, plays: int) -> list[tuple[float, float]]:
    """(OnStop -> stopped PlayEvent at the engine, OnStop -> watch on the emulator) per play."""
    stops: list[float] = []
    stopped_events: list[float] = []
    sink = bridge.sink

    def timed_sink(event: PlayEvent) -> None:
        if event.state is State.STOPPED:
            stopped_events.append(time.monotonic())
        sink(event)

    bridge.sink = timed_sink  # type: ignore[method-assign]
    listener = TcpConnection("127.0.0.1", kodi.tcp_port)
    stop_listening = threading.Event()
    threading.Thread(target=listener.serve, daemon=True, args=(
        lambda method, data: stops.append(time.monotonic()) if method == "Player.OnStop" else None, stop_listening)).start()
    bridge.start(reconcile=False)
    (adapter,) = bridge.adapters
    wait(adapter.supervisor.connected.is_set, 30, "the adapter to connect")  # type: ignore[attr-defined]
    results = []
    try:
        for i in range(plays):
            before = watches(emulator)
            kodi.play(kodi.movie)
            time.sleep(0.5)  # a viewing that starts from the beginning: a rewatch, not a resumed tail
            kodi.seek(90)
            wait(lambda i=i: len(stops) == i + 1, 30, f"OnStop of play {i + 1}", step=0.01)
            wait(lambda before=before: watches(emulator) > before, 30, f"the watch of play {i + 1}")
            landed = time.monotonic()
            if watches(emulator) != before + 1:
                raise SystemExit(f"play {i + 1}: the emulator gained {watches(emulator) - before} watches, not 1")
            wait(lambda i=i: len(stopped_events) == i + 1, 5, "the stopped event")
            results.append((stopped_events[i] - stops[i], landed - stops[i]))
            to_event, to_simkl = results[-1]
            print(f"play {i + 1:2d}: OnStop -> event {to_event * 1000:6.1f} ms, -> on Simkl {to_simkl * 1000:6.1f} ms",
                  flush=True)
            clock.next_play()
            time.sleep(1.2)  # Simkl's one POST per second is not what is being measured here
    finally:
        stop_listening.set()
        listener.close()
        bridge.stop()
    return results


def report(results: list[tuple[float, float]], post_interval: float) -> None:
    for label, values in (("OnStop -> stopped PlayEvent", [r[0] for r in results]),
                          ("OnStop -> history entry on the emulator", [r[1] for r in results])):
        ms = [v * 1000 for v in values]
        print(f"{label}: median {statistics.median(ms):.1f} ms, p90 {percentile(ms, 90):.1f} ms, "
              f"max {max(ms):.1f} ms over {len(ms)} plays")
    print(f"emulator post_interval: {post_interval} s (client paced the same)")


if __name__ == "__main__":
    main()
