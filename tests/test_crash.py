"""kill -9 of a real bridge process at random points during enqueue and flush loses nothing and
duplicates nothing on Simkl."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.simkl.emulator import Emulator
from tests.conftest import TOKEN

WORKER = Path(__file__).with_name("crash_worker.py")
TRIALS = 30
PER_TRIAL = 12


@pytest.mark.slow
def test_kill_minus_nine_at_random_points_loses_and_duplicates_nothing(tmp_path) -> None:
    rng = random.Random(20261124)
    db = tmp_path / "outbox.sqlite"
    acknowledged: set[int] = set()
    attempted: set[int] = set()
    kills = 0
    with Emulator(post_interval=0.005) as emulator:
        url = emulator.start()
        emulator.add_token(TOKEN, "alice")
        for trial in range(TRIALS):
            first = 1 + trial * PER_TRIAL
            attempted.update(range(first, first + PER_TRIAL))
            proc = subprocess.Popen([sys.executable, str(WORKER), str(db), url, TOKEN, str(first), str(PER_TRIAL)],
                                    stdout=subprocess.PIPE, text=True)
            time.sleep(rng.uniform(0.15, 0.9))  # python start-up is ~0.15 s: kill anywhere after it
            if proc.poll() is None:
                proc.kill()
                kills += 1
            out, _ = proc.communicate(timeout=30)
            acknowledged.update(int(line.split()[1]) for line in out.splitlines() if line.startswith("ack "))
        finish = subprocess.run([sys.executable, str(WORKER), str(db), url, TOKEN, "0", "0"],
                                capture_output=True, text=True, timeout=120)
        assert finish.stdout.strip().endswith("done"), finish.stderr
        watched = [w["number"] for w in emulator.state()["users"]["alice"]["watches"]]
    assert kills >= TRIALS // 3, f"only {kills} of {TRIALS} workers were killed mid-run; the test did not test much"
    assert len(watched) == len(set(watched)), "an episode was marked twice"
    assert acknowledged <= set(watched), f"lost: {sorted(acknowledged - set(watched))}"
    assert set(watched) <= attempted
