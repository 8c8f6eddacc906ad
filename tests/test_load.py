"""Outage and load in simulated time: a multi-hour Simkl outage keeps the bridge's memory flat (the
backlog is on disk) and costs one request per backoff step, then everything is delivered once; a busy
shared server's every alert reaches the engine and every finished viewing is one watch."""

from __future__ import annotations

import gc
import subprocess
import sys
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from bridge.daemon import Bridge
from bridge.emulator import DEFAULT_CLIENT_ID
from bridge.events import Ids, Kind, Numbering, PlayEvent, State
from bridge.simkl.auth import TokenStore
from bridge.simkl.client import ClientConfig, SimklClient
from bridge.writes import HISTORY
from tests.conftest import PACE, TOKEN, config_for
from tests.crash_worker import ANIDB, SHOW
from tests.load import T0, Clock, busy_server

ROOT = Path(__file__).resolve().parent.parent

HOURS = 6
VIEWERS = 40


def episode(viewer: int, number: int, state: State, position: float, at: float) -> PlayEvent:
    """Viewer n watches episodes of their own (1000 n + 1, ...), one 20-minute episode after another."""
    return PlayEvent("plex", "home", "alice", f"v{viewer}", Kind.EPISODE, Ids(anidb=ANIDB), state, position=position,
                     duration=1200.0, season=1, episodes=(1000 * viewer + number,), numbering=Numbering.ANIDB,
                     title="Crash Test", at=at)


def python_heap() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.fixture
def simkl_apart():
    """The emulator in a process of its own: its request log (every body the bridge sent, as a judge
    keeps it) is then not counted as the bridge's memory. Controlled over HTTP."""
    code = ("import sys, time; from bridge.emulator import Emulator; e = Emulator(post_interval=0.02); "
            "print(e.start(), flush=True); time.sleep(3600)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = proc.stdout.readline().strip()
        requests.post(f"{url}/_emulator/token", json={"token": TOKEN, "user": "alice"}, timeout=10).raise_for_status()
        requests.post(f"{url}/_emulator/catalog", json={"item": SHOW}, timeout=10).raise_for_status()
        yield url
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.slow
def test_a_six_hour_outage_keeps_memory_flat_asks_once_per_backoff_step_and_then_delivers_everything(
        simkl_apart, tmp_path) -> None:
    clock = Clock()
    config = config_for(SimpleNamespace(url=simkl_apart), tmp_path)
    TokenStore(config.state_dir).put("alice", TOKEN)
    client = SimklClient(ClientConfig(base_url=simkl_apart, client_id=DEFAULT_CLIENT_ID, post_interval=PACE, max_retries=0),
                         TOKEN)
    bridge = Bridge(config, adapters=[], client_factory=lambda account, token: client, clock=clock)
    control = f"{simkl_apart}/_emulator"
    requests.post(f"{control}/fault", json={"kind": "down"}, timeout=10).raise_for_status()
    tracemalloc.start()
    try:
        heap = {}
        ended = 0
        for second in range(0, HOURS * 3600, 10):  # every viewer reports every 10 s
            clock.now = T0 + second
            for viewer in range(VIEWERS):
                number, position = divmod(second + viewer * 30, 1200)
                state = State.PAUSED if position == 600 else State.PLAYING
                bridge.sink(episode(viewer, number + 1, state, float(position), clock.now))
                if position == 1190:
                    bridge.sink(episode(viewer, number + 1, State.STOPPED, 1200.0, clock.now))
                    ended += 1
            if second % 30 == 0:
                bridge.flush()  # the sender's own gate decides whether to ask Simkl
            if second % 900 == 0:
                bridge.tick()
            if second in (3600, HOURS * 3600 - 10):
                heap[second] = python_heap()
        grown = heap[HOURS * 3600 - 10] - heap[3600]
    finally:
        tracemalloc.stop()
    asked = requests.get(f"{control}/state", timeout=10).json()["requests"]
    pending = bridge.outbox.pending("alice")
    # ~35 backoff steps in 6 hours (5 s doubling to 15 min), each one request; the backlog is on disk.
    assert sum(asked.values()) <= 40 and pending >= ended
    assert grown < 1_000_000, f"the bridge's memory grew {grown} bytes over {HOURS - 1} hours of outage"
    requests.post(f"{control}/recover", json={}, timeout=10).raise_for_status()
    clock.now += 3600  # past the last backoff step
    while bridge.outbox.pending("alice"):
        bridge.flush()
        clock.now += 60
    marked = requests.get(f"{control}/state", timeout=10).json()["users"]["alice"]["watches"]
    assert len(marked) == ended == len({w["number"] for w in marked})
    print(f"{HOURS} h outage, {VIEWERS} viewers: {sum(asked.values())} requests while down, {pending} writes waited, "
          f"Python heap grew {grown / 1024:.0f} kB from hour 1 to hour {HOURS}; {ended} watches delivered once after")


@pytest.mark.slow
def test_a_busy_shared_server_s_every_alert_reaches_the_engine_and_every_end_is_one_watch(tmp_path) -> None:
    figures = busy_server(tmp_path / "state", sessions=200, minutes=3, episode_minutes=2)
    assert figures.events >= 200 * 18  # a report per session every 10 s, and the starts and stops
    assert figures.viewings == 200 and figures.writes[HISTORY] == figures.viewings
    print(figures.line())
