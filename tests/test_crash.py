"""kill -9 of a real bridge process during enqueue and flush loses nothing and duplicates nothing on Simkl.

Each trial's worker kills itself at a point the test names (tests/crash_worker.py), so every kill lands
mid-run whatever the machine's speed; the trials enumerate the points and arrivals, seeded."""

from __future__ import annotations

import multiprocessing
import random
import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from bridge.emulator import Emulator
from tests import crash_worker
from tests.conftest import TOKEN

# Workers are forked from a server process that has imported the bridge once (and runs no threads, so
# a fork is safe): a trial costs its work, not a Python start-up.
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(["tests.crash_worker"])
PER_TRIAL = 12
# A worker of PER_TRIAL writes flushes after each odd one (6 flushes) and once more at the end, each
# sending at least one POST: every point below its reach is passed in every trial.
POSTS_AT_LEAST = PER_TRIAL // 2 + 1
REACH = {"enqueue": PER_TRIAL, "committed": PER_TRIAL, "ack": PER_TRIAL, "commit": PER_TRIAL + POSTS_AT_LEAST,
         "request": POSTS_AT_LEAST, "answered": POSTS_AT_LEAST, "marked": POSTS_AT_LEAST}
POSITIONS = 5  # per crash point: 35 trials
RANDOM_TRIALS = 8


def start(db: Path, url: str, first: int, count: int, crash: str | None = None) -> tuple[BaseProcess, Connection]:
    """A worker, returned once it is set up (a kill before that tests nothing), with the end it speaks on."""
    lines, theirs = FORKS.Pipe(duplex=False)
    proc = FORKS.Process(target=crash_worker.forked, args=(theirs, str(db), url, TOKEN, first, count, crash))
    proc.start()
    theirs.close()  # the worker holds the only write end: its death is the end of what it says
    said = lines.recv() if lines.poll(60) else "nothing in 60 s"
    assert said == "ready", f"the worker did not start: {said}"
    return proc, lines


def finish(proc: BaseProcess, lines: Connection) -> tuple[int | None, list[str]]:
    """Everything the worker said until it ended, and its exit code (-9: killed)."""
    said = []
    while lines.poll(60):
        try:
            said.append(lines.recv())
        except EOFError:
            break
    proc.join(60)
    return proc.exitcode, said


def acks(said: list[str]) -> set[int]:
    return {int(line.split()[1]) for line in said if line.startswith("ack ")}


def crash_plan(rng: random.Random) -> list[str]:
    """Every crash point at POSITIONS arrivals within its reach, in a shuffled order so that each
    trial starts from what a different kind of crash left behind."""
    assert set(REACH) == set(crash_worker.CRASH_POINTS)
    plan = [f"{point}:{n}" for point, reach in REACH.items() for n in sorted(rng.sample(range(1, reach + 1), POSITIONS))]
    rng.shuffle(plan)
    return plan


def check(emulator: Emulator, db: Path, url: str, acknowledged: set[int], attempted: set[int]) -> None:
    """A last worker finishes what the killed ones left; then Simkl has each acknowledged write once."""
    code, said = finish(*start(db, url, 0, 0))
    assert code == 0 and said[-1:] == ["done"], said
    watched = [w["number"] for w in emulator.state()["users"]["alice"]["watches"]]
    assert len(watched) == len(set(watched)), f"marked twice: {sorted(n for n in set(watched) if watched.count(n) > 1)}"
    assert acknowledged <= set(watched), f"lost: {sorted(acknowledged - set(watched))}"
    assert set(watched) <= attempted


@pytest.mark.slow
def test_kill_minus_nine_at_every_crash_point_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "outbox.sqlite"
    acknowledged: set[int] = set()
    attempted: set[int] = set()
    with Emulator(post_interval=0.005) as emulator:
        url = emulator.start()
        emulator.add_token(TOKEN, "alice")
        for trial, crash in enumerate(crash_plan(random.Random(20261124))):
            first = 1 + trial * PER_TRIAL
            attempted.update(range(first, first + PER_TRIAL))
            code, said = finish(*start(db, url, first, PER_TRIAL, crash))
            assert code == -signal.SIGKILL, (
                f"trial {trial} ({crash}: {crash_worker.CRASH_POINTS[crash.partition(':')[0]]}) was not killed mid-run: "
                f"exit {code}, said {said}")
            acknowledged |= acks(said)
        check(emulator, db, url, acknowledged, attempted)


@pytest.mark.slow
def test_kill_minus_nine_at_random_instants_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """A smoke test of kills the crash points cannot reach (inside SQLite, mid-request). How many
    land mid-run depends on the machine's load, so it is printed, not asserted."""
    rng = random.Random(20261125)
    db = tmp_path / "outbox.sqlite"
    acknowledged: set[int] = set()
    attempted: set[int] = set()
    killed = 0
    with Emulator(post_interval=0.005) as emulator:
        url = emulator.start()
        emulator.add_token(TOKEN, "alice")
        # How long one worker works after `ready` on this machine: the kills land inside that.
        attempted.update(range(1, 1 + PER_TRIAL))
        calibration = start(db, url, 1, PER_TRIAL)
        began = time.monotonic()
        acknowledged |= acks(finish(*calibration)[1])
        work = time.monotonic() - began
        for trial in range(1, RANDOM_TRIALS + 1):
            first = 1 + trial * PER_TRIAL
            attempted.update(range(first, first + PER_TRIAL))
            proc, lines = start(db, url, first, PER_TRIAL)
            time.sleep(rng.uniform(0, work))
            if proc.is_alive():
                proc.kill()
                killed += 1
            acknowledged |= acks(finish(proc, lines)[1])
        check(emulator, db, url, acknowledged, attempted)
    print(f"{killed} of {RANDOM_TRIALS} workers killed mid-run at a random instant")
