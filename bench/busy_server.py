"""A busy shared server: N concurrent sessions reporting every 10 s for an hour of simulated time, through
the Plex stand-in, the real Plex adapter, the engine and the outbox (tests/load.py). Prints events per
second (wall, and per CPU-second of the adapter's threads), CPU and RSS.

Run by hand: `python3 bench/busy_server.py [sessions] [minutes]` (defaults: 200 sessions, 60 minutes).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.load import busy_server


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        print(busy_server(Path(tmp) / "state", sessions=sessions, minutes=minutes).line())


if __name__ == "__main__":
    main()
