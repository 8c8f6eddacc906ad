"""kill -9 of a real bridge process at every named crash point loses nothing and duplicates nothing on Simkl.

Each trial's worker (tests/crash_worker.py) plays a scripted scenario with the daemon's own Bridge and kills
itself at a point the test names, so every kill lands mid-run whatever the machine's speed. A census run of each
scenario (not killed) counts how often it reaches each point; the trials take arrivals within those counts,
seeded, in a shuffled order, so that each trial starts from what another kind of crash left behind: the next
worker, and a last one at the end, carry on with the same outbox and the same Simkl. Arrivals only grow with what
an earlier trial left (more pending writes, more stale playbacks), so a census count is always reached.

`BRIDGE_LONG=1` runs the long form by hand: every arrival of every point of every scenario, round after
round, until at least LONG_TRIALS trials were killed."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from bridge.emulator import Emulator
from bridge.outbox import Outbox
from bridge.simkl.client import ClientConfig, SimklClient
from tests import crash_worker
from tests.crash_worker import BLOCK, FILMS, RECONCILED, SHOW, TOKEN

# Workers are forked from a server process that has imported the bridge once (and runs no threads, so
# a fork is safe): a trial costs its work, not a Python start-up.
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(["tests.crash_worker"])
SCENARIOS = ("watches", "pauses", "outage", "parked", "reconcile")
POSITIONS = 10  # arrivals per scenario and crash point, or all when fewer
LONG = os.environ.get("BRIDGE_LONG") == "1"
LONG_TRIALS = 2000
RANDOM_TRIALS = 8


def start(state: Path, url: str, scenario: str, trial: int, crash: str | None = None) -> tuple[BaseProcess, Connection]:
    """A worker, returned once it is set up (a kill before that tests nothing), with the end it speaks on."""
    lines, theirs = FORKS.Pipe(duplex=False)
    proc = FORKS.Process(target=crash_worker.forked, args=(theirs, str(state), url, scenario, trial, crash))
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


@dataclass
class Ledger:
    """What the workers were acknowledged, and what they could have written. Items are `ep:N` (episode N of
    the crash show) and `film:N`."""

    watched: set[str] = field(default_factory=set)  # acknowledged watches
    parked: set[str] = field(default_factory=set)  # acknowledged writes about a show Simkl does not know
    paused: dict[str, list[float]] = field(default_factory=dict)  # acknowledged pauses, in order
    may_watch: set[str] = field(default_factory=set)  # every watch a worker could have written
    kept: set[str] = field(default_factory=set)  # films paused elsewhere and never watched: reconciliation keeps them
    trials: int = 0
    killed: int = 0

    def attempt(self, scenario: str, trial: int) -> None:
        base = BLOCK * trial
        watch = {"watches": range(1, 9), "outage": range(1, 7), "parked": range(1, 7, 2)}
        self.may_watch.update(f"ep:{base + n}" for n in watch.get(scenario, ()))
        if scenario == "reconcile":
            self.may_watch.update(f"film:{base + n}" for n in RECONCILED[:-1])
            self.kept.add(f"film:{base + RECONCILED[-1]}")

    def hear(self, said: list[str]) -> None:
        for line in said:
            what, *rest = line.split()
            if what != "ack":
                continue
            kind, item = rest[0], rest[1]
            if kind == "watch":
                self.watched.add(item)
            elif kind == "parked":
                self.parked.add(item)
            else:
                self.paused.setdefault(item, []).append(float(rest[2]))


def census(state: Path, url: str, ledger: Ledger) -> dict[str, dict[str, int]]:
    """How often each scenario reaches each crash point, run once each without a kill."""
    counts = {}
    for scenario in SCENARIOS:
        ledger.attempt(scenario, ledger.trials)
        code, said = finish(*start(state, url, scenario, ledger.trials))
        ledger.trials += 1
        assert code == 0 and said[-1:] == ["done"], said
        ledger.hear(said)
        counts[scenario] = json.loads(next(line for line in said if line.startswith("seen "))[5:])
    return counts


def crash_plan(rng: random.Random, counts: dict[str, dict[str, int]], exhaustive: bool) -> list[tuple[str, str]]:
    """(scenario, POINT:N) for every point each scenario reaches: POSITIONS arrivals within its count, or all."""
    assert {p for seen in counts.values() for p in seen} == set(crash_worker.CRASH_POINTS)
    plan = []
    for scenario, seen in counts.items():
        for point, reach in seen.items():
            arrivals = range(1, reach + 1)
            chosen = arrivals if exhaustive or reach <= POSITIONS else sorted(rng.sample(arrivals, POSITIONS))
            plan += [(scenario, f"{point}:{n}") for n in chosen]
    rng.shuffle(plan)
    return plan


def kill_trials(state: Path, url: str, ledger: Ledger, plan: list[tuple[str, str]]) -> None:
    for scenario, crash in plan:
        trial = ledger.trials
        ledger.trials += 1
        ledger.attempt(scenario, trial)
        code, said = finish(*start(state, url, scenario, trial, crash))
        point = crash.partition(":")[0]
        assert code == -signal.SIGKILL, (
            f"trial {trial} ({scenario} {crash}: {crash_worker.CRASH_POINTS[point]}) was not killed mid-run: "
            f"exit {code}, said {said}")
        ledger.killed += 1
        ledger.hear(said)


def check(emulator: Emulator, state: Path, url: str, ledger: Ledger) -> Counter[str]:
    """A last worker finishes what the killed ones left; then Simkl holds each acknowledged write once."""
    code, said = finish(*start(state, url, "finish", ledger.trials))
    assert code == 0 and said[-1:] == ["done"], said
    user = emulator.state()["users"]["alice"]
    watched = [f"ep:{w['number']}" if w["simkl"] == SHOW["ids"]["simkl"] else f"film:{w['simkl'] - FILMS}"
               for w in user["watches"]]
    duplicated = sorted(item for item, times in Counter(watched).items() if times > 1)
    lost = sorted(ledger.watched - set(watched))
    assert not duplicated, f"marked twice: {duplicated}"
    assert not lost, f"lost: {lost}"
    assert set(watched) <= ledger.may_watch
    outbox = Outbox(state / "outbox.sqlite", create=False)
    assert outbox.pending() == 0
    parked = {f"ep:{ep['number']}" for e in outbox.parked() for show in e.body["anime"] for season in show["seasons"]
              for ep in season["episodes"]}
    assert ledger.parked <= parked and not ledger.parked & set(watched)
    playbacks: dict[str, list[float]] = {}
    reader = SimklClient(ClientConfig(base_url=url, client_id="emulator-client", post_interval=0), TOKEN)
    for playback in reader.get_playback():  # what every Simkl client of the account is offered to resume
        if playback["type"] == "movie":
            playbacks.setdefault(f"film:{playback['movie']['ids']['simkl'] - FILMS}", []).append(playback["progress"])
    assert all(len(p) == 1 for p in playbacks.values()), f"several playbacks of one film: {playbacks}"
    for item, progresses in ledger.paused.items():
        if progresses[-1] == 60:  # its last write acknowledged: what Simkl must show
            assert playbacks.get(item) == [60], f"{item}: acknowledged pause at 60%, Simkl has {playbacks.get(item)}"
    assert all(playbacks.get(item) == [40] for item in ledger.kept), "reconciliation removed a playback never watched"
    stale = sorted(item for item in ledger.watched if item in playbacks)
    assert not stale, f"playbacks of watched films left on Simkl: {stale}"
    return Counter({"writes lost": len(lost), "writes duplicated": len(duplicated), "watches": len(watched)})


@pytest.fixture
def simkl():
    with Emulator(post_interval=0) as emulator:
        url = emulator.start()
        emulator.add_token(TOKEN, "alice")
        emulator.add_catalog(SHOW)
        yield emulator, url


@pytest.mark.slow
@pytest.mark.timeout(3 * 3600 if LONG else 300)
def test_kill_minus_nine_at_every_crash_point_of_every_scenario_loses_and_duplicates_nothing(simkl, tmp_path) -> None:
    emulator, url = simkl
    state = tmp_path / "state"
    ledger = Ledger()
    counts = census(state, url, ledger)
    rng = random.Random(20261124)
    kill_trials(state, url, ledger, crash_plan(rng, counts, exhaustive=False))
    while LONG and ledger.killed < LONG_TRIALS:
        kill_trials(state, url, ledger, crash_plan(rng, counts, exhaustive=True))
    figures = check(emulator, state, url, ledger)
    assert ledger.killed >= (LONG_TRIALS if LONG else 200)
    print(f"{ledger.killed} workers killed at crash points over {len(SCENARIOS)} scenarios ({ledger.trials} runs); "
          f"{figures['watches']} watches on Simkl, {figures['writes lost']} lost, {figures['writes duplicated']} duplicated")


@pytest.mark.slow
def test_kill_minus_nine_at_random_instants_loses_and_duplicates_nothing(simkl, tmp_path) -> None:
    """A smoke test of kills the crash points cannot reach (inside SQLite, mid-request). How many
    land mid-run depends on the machine's load, so it is printed, not asserted."""
    emulator, url = simkl
    rng = random.Random(20261125)
    state = tmp_path / "state"
    ledger = Ledger()
    killed = 0
    # How long one worker works after `ready` on this machine: the kills land inside that.
    ledger.attempt("watches", 0)
    calibration = start(state, url, "watches", 0)
    began = time.monotonic()
    ledger.hear(finish(*calibration)[1])
    work = time.monotonic() - began
    for trial in range(1, RANDOM_TRIALS + 1):
        ledger.attempt("watches", trial)
        proc, lines = start(state, url, "watches", trial)
        time.sleep(rng.uniform(0, work))
        if proc.is_alive():
            proc.kill()
            killed += 1
        ledger.hear(finish(proc, lines)[1])
    ledger.trials = RANDOM_TRIALS + 1
    check(emulator, state, url, ledger)
    print(f"{killed} of {RANDOM_TRIALS} workers killed mid-run at a random instant")
