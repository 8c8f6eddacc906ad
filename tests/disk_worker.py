"""A bridge whose state dir is on a disk the test fills up: `python3 -m tests.disk_worker DIR URL`.

Run by tests/test_durable.py inside a private mount namespace (`unshare -m`) where DIR is a small
tmpfs, so that the disk is really full: SQLite meets ENOSPC as it would on a user's machine. It
posts the same stops to `POST /event` (as the Kodi addon does) while the disk is full and again
once a file is deleted, delivers to the emulator at URL, and prints what it saw as one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import requests

from bridge.daemon import Bridge
from bridge.simkl.auth import TokenStore
from tests.conftest import SECRET, TOKEN, config_for, make_client

# Films the emulator's catalog knows, by their TMDB ids.
FILMS = (603, 27205, 157336, 129, 105, 45745)
STOPS = len(FILMS)


def stop(n: int) -> dict[str, object]:
    return {"kind": "movie", "state": "stopped", "ids": {"tmdb": FILMS[n]}, "user": "alice", "session": str(n),
            "position": 95, "duration": 100, "at": 1_700_000_000 + n, "title": f"Film {n} " + "x" * 2000}


def main(directory: Path, url: str) -> None:
    emulator = SimpleNamespace(url=url)
    config = config_for(emulator, directory)  # type: ignore[arg-type]
    TokenStore(config.state_dir).put("alice", TOKEN)
    bridge = Bridge(config, adapters=[], client_factory=lambda account, token: make_client(emulator, token=token))  # type: ignore[arg-type]
    assert bridge.http is not None
    bridge.http.start()
    try:
        endpoint = f"{bridge.http.url}/{SECRET}/event"
        filler = directory / "filler"
        # dd stops at ENOSPC: every block of the file system is taken.
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True, check=False)
        full = [requests.post(endpoint, json=stop(n), timeout=10) for n in range(STOPS)]
        filler.unlink()
        again = [requests.post(endpoint, json=stop(n), timeout=10).status_code for n in range(STOPS)]
        pending = bridge.outbox.pending()
        bridge.flush()
        print(json.dumps({"full": [r.status_code for r in full], "reasons": [r.json().get("error", "") for r in full],
                          "again": again, "pending": pending, "left": bridge.outbox.pending()}))
    finally:
        bridge.http.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
