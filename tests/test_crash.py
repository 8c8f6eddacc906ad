"""kill -9 of a real bridge process at random points during enqueue and flush loses nothing and
duplicates nothing on Simkl."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.emulator import Emulator
from tests.conftest import TOKEN

WORKER = Path(__file__).with_name("crash_worker.py")
TRIALS = 30
PER_TRIAL = 12


def start(db: Path, url: str, first: int, count: int) -> subprocess.Popen:
    """A worker, returned once it is past Python's start-up (a kill before that tests nothing)."""
    proc = subprocess.Popen([sys.executable, str(WORKER), str(db), url, TOKEN, str(first), str(count)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def acks(out: str) -> set[int]:
    return {int(line.split()[1]) for line in out.splitlines() if line.startswith("ack ")}


@pytest.mark.slow
def test_kill_minus_nine_at_random_points_loses_and_duplicates_nothing(tmp_path) -> None:
    rng = random.Random(20261124)
    db = tmp_path / "outbox.sqlite"
    kills = 0
    with Emulator(post_interval=0.005) as emulator:
        url = emulator.start()
        emulator.add_token(TOKEN, "alice")
        # How long one worker's enqueue-and-flush takes on this machine: kills land inside it.
        began = time.monotonic()
        calibration = start(db, url, 1, PER_TRIAL)
        acknowledged = acks(calibration.communicate(timeout=60)[0])
        work = time.monotonic() - began
        attempted = set(range(1, 1 + PER_TRIAL))
        for trial in range(1, TRIALS + 1):
            first = 1 + trial * PER_TRIAL
            attempted.update(range(first, first + PER_TRIAL))
            proc = start(db, url, first, PER_TRIAL)
            time.sleep(rng.uniform(0, work))
            if proc.poll() is None:
                proc.kill()
                kills += 1
            acknowledged |= acks(proc.communicate(timeout=30)[0])
        finish = subprocess.run([sys.executable, str(WORKER), str(db), url, TOKEN, "0", "0"],
                                capture_output=True, text=True, timeout=120)
        assert finish.stdout.strip().endswith("done"), finish.stderr
        watched = [w["number"] for w in emulator.state()["users"]["alice"]["watches"]]
    assert kills >= TRIALS * 2 // 3, f"only {kills} of {TRIALS} workers were killed mid-run; the test did not test much"
    assert len(watched) == len(set(watched)), "an episode was marked twice"
    assert acknowledged <= set(watched), f"lost: {sorted(acknowledged - set(watched))}"
    assert set(watched) <= attempted
