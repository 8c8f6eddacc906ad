"""Events per second through normalize -> engine -> outbox on one core, and the outbox's commit
cost per write. Run by hand: `python3 bench/engine_throughput.py [sessions]`.

The event mix is what servers really send: per viewing a play, a progress report every 10 s of a
45-minute episode (most events change nothing), a pause, a resume, a stop past the threshold.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.engine import Engine
from bridge.events import from_json
from bridge.outbox import Outbox


def viewing(n: int, t0: float) -> list[str]:
    base = {"source": "plex", "server": "home", "user": f"user{n % 4}", "session": str(n), "kind": "episode",
            "ids": {"tvdb": 80000 + n}, "season": 1, "episodes": [n % 20 + 1], "duration": 2700, "title": f"Show {n}"}
    events = [dict(base, state="playing", position=0, at=t0)]
    events += [dict(base, state="playing", position=p, at=t0 + p) for p in range(10, 1200, 10)]
    events += [dict(base, state="paused", position=1200, at=t0 + 1200), dict(base, state="playing", position=1200, at=t0 + 1500)]
    events += [dict(base, state="playing", position=p, at=t0 + 300 + p) for p in range(1210, 2700, 10)]
    events += [dict(base, state="stopped", position=2650, at=t0 + 3000)]
    return [json.dumps(e) for e in events]


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    payloads = [p for n in range(sessions) for p in viewing(n, 1_700_000_000 + n * 4000)]
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "outbox.sqlite")
        engine = Engine(lambda source, server, user: user)
        writes = 0
        t = time.process_time()
        for payload in payloads:
            for write in engine.handle(from_json(json.loads(payload))):
                outbox.enqueue(write)
                writes += 1
        cpu = time.process_time() - t

        # The commit cost alone: one acknowledged (fsynced) write at a time.
        probe = Engine(lambda source, server, user: user)
        extra = [w for n in range(sessions, sessions + 500) for p in viewing(n, 1_800_000_000 + n * 4000)
                 for w in probe.handle(from_json(json.loads(p)))]
        t0 = time.perf_counter()
        for w in extra:
            outbox.enqueue(w)
        commit = (time.perf_counter() - t0) / len(extra)

    print(f"events: {len(payloads)}  writes: {writes}  ({writes / len(payloads):.3f} writes per event)")
    print(f"throughput: {len(payloads) / cpu:,.0f} events/s on one core (CPU time {cpu:.2f} s; target >= 5,000)")
    print(f"per event: {cpu / len(payloads) * 1e6:.1f} us CPU, normalize -> engine -> outbox")
    print(f"outbox commit: {commit * 1e3:.3f} ms wall per acknowledged write ({len(extra)} writes, WAL, synchronous=FULL)")


if __name__ == "__main__":
    main()
