"""Nothing acknowledged is lost when the outbox cannot commit (a really full disk, SQLite's own page
limit, files made unwritable): the bridge answers 503 with a one-line reason, so a sender that keeps
its events (the Kodi addon) sends them again; the engine forgets what it decided, so the events sent
again are stored and reach Simkl once."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from bridge.events import Ids, Kind, PlayEvent, State
from bridge.http import HttpError
from tests.conftest import SECRET, watches
from tests.disk_worker import FILMS, STOPS

ROOT = Path(__file__).resolve().parent.parent
NO_LIMIT = 1073741823  # SQLite's default max_page_count


def stop(n: int, title_size: int = 5000) -> dict[str, object]:
    # A title longer than a page: storing it needs a new page, which the page limit refuses.
    return {"kind": "movie", "state": "stopped", "ids": {"tmdb": FILMS[n]}, "user": "alice", "session": str(n),
            "position": 95, "duration": 100, "at": 1_700_000_000 + n, "title": "x" * title_size}


def limit_pages(bridge, pages: int | None = None) -> None:
    """SQLite's own limit on the file's size, on the bridge's connection: None = as big as it is now."""
    db = bridge.outbox._db
    db.execute(f"PRAGMA max_page_count={pages or db.execute('PRAGMA page_count').fetchone()[0]}")


def watched_once(emulator, films: int) -> bool:
    """Simkl holds `films` different watches, each once."""
    seen = [w["simkl"] for w in watches(emulator)]
    return len(seen) == len(set(seen)) == films


def test_at_the_page_limit_events_get_503_and_once_resent_are_delivered_once(emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO)
    bridge = bridge_for()
    bridge.http.start()
    url = f"{bridge.http.url}/{SECRET}/event"
    limit_pages(bridge)
    refused = [requests.post(url, json=stop(n), timeout=5) for n in range(STOPS)]
    assert [r.status_code for r in refused] == [503] * STOPS
    assert all(r.json()["error"].startswith("not stored, send it again later: ") and "database or disk is full" in
               r.json()["error"] and r.headers["Retry-After"] == "60" for r in refused)
    lines = [r for r in caplog.records if "not stored" in r.getMessage()]
    assert len(lines) == STOPS and not [r for r in caplog.records if r.exc_info]  # one line each, no traceback
    assert bridge.outbox.pending() == 0 and bridge.engine.marks == {}
    limit_pages(bridge, NO_LIMIT)
    assert [requests.post(url, json=stop(n), timeout=5).status_code for n in range(STOPS)] == [202] * STOPS
    assert bridge.outbox.pending() == STOPS
    bridge.flush()
    assert watched_once(emulator, STOPS)


def test_a_stop_heard_while_the_outbox_is_full_is_closed_by_the_ticker_once_it_has_room(emulator, bridge_for, caplog) -> None:
    """A media server's socket cannot send an event again: the session stays open in the engine
    instead, and the ticker closes it from its last stored position once a commit works; said once."""
    caplog.set_level(logging.INFO, logger="bridge.daemon")
    bridge = bridge_for()
    t = 1_700_000_000.0
    film = PlayEvent("plex", "home", "alice", "1", Kind.MOVIE, Ids(tmdb=603), State.PLAYING, 0, 100, title="The Matrix", at=t)
    bridge.sink(film)
    limit_pages(bridge)
    # A socket reports the position as it plays. Titles far longer than the start's: the pages the
    # superseded start leaves free cannot hold a write about them.
    film = replace(film, title="x" * 20000)
    bridge.sink(replace(film, position=93, at=t + 93))
    with pytest.raises(HttpError) as refused:
        bridge.sink(replace(film, state=State.STOPPED, position=95, at=t + 95))
    assert refused.value.status == 503
    for minute in range(1, 4):  # the ticker meets the full outbox again and again
        bridge.tick(now=t + 1800 + 60 * minute)
    assert bridge.outbox.pending() == 1 and len(bridge.engine.sessions) == 1  # only the start was stored
    failures = [r.getMessage() for r in caplog.records if r.name == "bridge.daemon" and "outbox:" in r.getMessage()]
    assert len(failures) == 1 and "database or disk is full" in failures[0]
    limit_pages(bridge, NO_LIMIT)
    bridge.tick(now=t + 2100)
    assert any(r.getMessage() == "outbox: commits work again" for r in caplog.records)
    bridge.flush()
    (watch,) = watches(emulator)
    assert watch["title"] == "The Matrix" and watch["watched_at"] == "2023-11-14T22:14:53Z"  # when last heard


def _mounts() -> str | None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare(1) for a private mount namespace"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_mounts() is not None, reason=str(_mounts()))
def test_on_a_really_full_disk_plays_get_503_and_once_resent_are_delivered_once(emulator, tmp_path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    # A 2 MB tmpfs seen only by the worker (its own mount namespace), which fills it up with dd.
    script = f'mount -t tmpfs -o size=2m tmpfs "{disk}" && exec "{sys.executable}" -m tests.disk_worker "{disk}" "{emulator.url}"'
    run = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["full"] == [503] * STOPS and all("database or disk is full" in r for r in seen["reasons"]), seen
    assert seen["again"] == [202] * STOPS and seen["pending"] == STOPS and seen["left"] == 0
    assert watched_once(emulator, STOPS)
    said = run.stderr.strip().splitlines()
    assert len(said) == STOPS and all("not stored, send it again later" in line for line in said), said


def _immutable(path: Path) -> str | None:
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        return "needs root and chattr(1)"
    probe = path / "probe"
    probe.touch()
    made = subprocess.run(["chattr", "+i", str(probe)], capture_output=True)
    subprocess.run(["chattr", "-i", str(probe)], capture_output=True)
    return None if made.returncode == 0 else "the file system has no immutable flag"


@pytest.mark.parametrize("files", [("outbox.sqlite-wal",), ("outbox.sqlite", "outbox.sqlite-wal")])
def test_an_outbox_made_unwritable_refuses_with_503_and_loses_nothing(emulator, bridge_for, tmp_path, files) -> None:
    if (why := _immutable(tmp_path)) is not None:
        pytest.skip(why)
    bridge = bridge_for()
    bridge.http.start()
    url = f"{bridge.http.url}/{SECRET}/event"
    assert requests.post(url, json=stop(0, 10), timeout=5).status_code == 202
    state = Path(bridge.config.state_dir)
    for name in files:
        subprocess.run(["chattr", "+i", str(state / name)], check=True)
    try:
        refused = requests.post(url, json=stop(1, 10), timeout=5)
    finally:
        for name in files:
            subprocess.run(["chattr", "-i", str(state / name)], check=True)
    assert refused.status_code == 503 and "not stored" in refused.json()["error"]
    assert requests.post(url, json=stop(1, 10), timeout=5).status_code == 202
    bridge.flush()
    assert watched_once(emulator, 2)
