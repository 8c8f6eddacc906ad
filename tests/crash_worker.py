"""A bridge process for the kill -9 test: enqueue watched episodes and flush them to the emulator.

Usage: crash_worker.py DB URL TOKEN FIRST COUNT
Prints `ready` once started, `ack <n>` once episode n's write is committed (enqueue returned), `done` when the outbox is
empty. COUNT 0 only finishes what an earlier, killed worker left behind.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.events import Ids, Kind, Numbering, PlayEvent, State  # noqa: E402
from bridge.outbox import Outbox  # noqa: E402
from bridge.sender import Sender  # noqa: E402
from bridge.simkl.bodies import history_body, iso  # noqa: E402
from bridge.simkl.client import ClientConfig, SimklClient  # noqa: E402
from bridge.writes import HISTORY, Write  # noqa: E402

PACE = 0.005


def write_for(n: int) -> Write:
    ev = PlayEvent("kodi", "lr", "alice", str(n), Kind.EPISODE, Ids(anidb=69), State.STOPPED, season=1, episodes=(n,),
                   numbering=Numbering.ANIDB, title="One Piece")
    at = 1_700_000_000.0 + n * 60
    return Write("alice", HISTORY, ev.item_key, f"{HISTORY}:alice:{ev.item_key}:{iso(at)}", history_body(ev, iso(at)), at)


def main() -> None:
    db, url, token, first, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    outbox = Outbox(db)
    client = SimklClient(ClientConfig(base_url=url, client_id="emulator-client", post_interval=PACE), token)
    sender = Sender(outbox, lambda account: client, batch_size=4, backoff_base=0.01, backoff_cap=0.05)
    print("ready", flush=True)
    for n in range(first, first + count):
        outbox.enqueue(write_for(n))
        print(f"ack {n}", flush=True)
        if n % 2:
            sender.flush_once()
    while outbox.pending():
        sender.flush_once(now=1e12)
    print("done", flush=True)


if __name__ == "__main__":
    main()
