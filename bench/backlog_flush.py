"""Requests needed to flush a backlog of watched items (after an outage), through the real outbox,
sender and client against the Simkl emulator. Run by hand: `python3 bench/backlog_flush.py [items]`.

Simkl allows 1 POST per second per token, so the request count is also the flush time in seconds
against the real service; the emulator here is paced faster so the benchmark runs quickly.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.emulator import Emulator
from bridge.events import Ids, Kind, PlayEvent, State
from bridge.outbox import Outbox
from bridge.sender import Sender
from bridge.simkl.bodies import history_body
from bridge.simkl.client import ClientConfig, SimklClient
from bridge.times import iso
from bridge.writes import HISTORY, Write

PACE = 0.02


def backlog(n: int) -> list[Write]:
    """n watched episodes of the catalog's shows, each with its own watched_at."""
    writes = []
    t0 = 1_700_000_000.0
    for i in range(n):
        ev = PlayEvent("plex", "home", "alice", str(i), Kind.EPISODE, Ids(tvdb=81189), State.STOPPED,
                       season=1 + i % 5, episodes=(1 + i % 7,), title="Breaking Bad")
        at = t0 + i * 3 * 86400  # days apart, so that every one is a distinct watch on Simkl
        writes.append(Write("alice", HISTORY, ev.item, f"bench:{i}", history_body(ev, iso(at)), at))
    return writes


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp, Emulator(post_interval=PACE) as emulator:
        base = emulator.start()
        emulator.add_token("bench-token", "alice")
        outbox = Outbox(Path(tmp) / "outbox.sqlite")
        for w in backlog(n):
            outbox.enqueue(w)
        client = SimklClient(ClientConfig(base_url=base, client_id="emulator-client", post_interval=PACE), "bench-token")
        sender = Sender(outbox, lambda account: client, batch_size=500)
        started = time.perf_counter()
        while outbox.pending():
            sender.flush_once(now=1e12)  # far future: every write is due, whatever its backoff
        elapsed = time.perf_counter() - started
        posts = [r for r in emulator.requests if r["method"] == "POST" and r["path"].startswith("/sync/history")]
    print(f"backlog: {n} watched items")
    print(f"requests: {len(posts)} POST /sync/history ({len(posts) / n * 1000:.1f} per 1,000 items; target: 10,000 in <= 20)")
    print(f"flush time here: {elapsed:.1f} s; against Simkl's 1 POST/s: about {len(posts)} s")


if __name__ == "__main__":
    main()
