"""What a write costs as the backlog grows, what an idle daemon costs with a backlog, and what an
outage costs Simkl. Run by hand: `python3 bench/outbox_scale.py [--sizes 1000,10000,100000,1000000]
[--idle SECONDS] [--instructions]`.

1. Per-call CPU of enqueue, due (one batch of 500), mark_sent (one batch) and start-up (the engine's
   seed from `marks_since`) with 1k ... 1M writes pending, each measured over many calls. With
   --instructions and valgrind installed, the same calls are also counted in instructions by
   callgrind (a run with the calls minus a run without them), which does not depend on the load.
2. Idle CPU of `simkl-bridge run` (no media server, the HTTP endpoint on) over --idle seconds, with
   an empty outbox and with 100k writes waiting for an account that is not logged in.
3. POSTs per simulated minute while Simkl answers 503 for ten minutes with 20 batches waiting.
4. The outbox file's size, day by day, over two simulated weeks of a busy shared server: 200
   sessions at once, each a 45-minute viewing after another of a 2,000-item library, for 4 accounts;
   every write delivered, pruned hourly by the daemon's rule (delivered writes after 7 days, marks
   after 90). Durability is off for this part (it measures bytes, not commits).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.emulator import Emulator  # noqa: E402
from bridge.engine import Engine  # noqa: E402
from bridge.item import Ids, Item, Kind  # noqa: E402
from bridge.outbox import Outbox  # noqa: E402
from bridge.sender import Sender  # noqa: E402
from bridge.simkl.client import ClientConfig, SimklClient  # noqa: E402
from bridge.writes import HISTORY, Write  # noqa: E402

T0 = 1_700_000_000.0


def write(i: int, account: str = "alice") -> Write:
    item = Item(Kind.MOVIE, Ids(tmdb=1 + i))
    body = {"movies": [{"ids": {"tmdb": 1 + i}, "watched_at": "2023-11-14T22:13:20Z"}]}
    return Write(account, HISTORY, item, f"bench:{account}:{i}", body, T0 + i)


def fill(path: Path, n: int, account: str = "alice") -> None:
    """n pending history writes (and their marks), inserted in bulk as enqueue would leave them."""
    Outbox(path).close()
    db = sqlite3.connect(path)
    rows = ((account, "history", f"movie/tmdb:{1 + i}", f"bench:{account}:{i}",
             json.dumps({"movies": [{"ids": {"tmdb": 1 + i}, "watched_at": "2023-11-14T22:13:20Z"}]}), T0 + i)
            for i in range(n))
    db.executemany("INSERT INTO writes (account, kind, item_key, idem_key, body, at) VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO marks (write_id, account, item_key, idem_key, item, at) SELECT id, account, item_key, idem_key, "
               "json_object('kind', 'movie', 'ids', json_object('tmdb', id), 'numbering', 'tv', 'season', NULL, "
               "'episodes', json_array(), 'by_episode_ids', json('false')), at FROM writes")
    db.commit()
    db.close()


def per_call(path: Path, op: str, calls: int) -> float:
    """CPU seconds per call of `op` on the outbox at `path` (a copy: the calls change it)."""
    box = Outbox(path)
    engine = Engine(lambda *_: "alice")
    extra = iter(range(10**8, 10**9))
    batches = [[e.id for e in box.due("alice", T0 * 2, 500, kind=HISTORY)]] if op == "mark_sent" else []
    newest = max((at for _, _, at in box.marks_since(0)[-1:]), default=T0) if op == "startup" else T0
    start = time.process_time()
    for _ in range(calls):
        if op == "enqueue":
            box.enqueue(write(next(extra)))
        elif op == "due":
            box.due("alice", T0 * 2, 500, kind=HISTORY)
        elif op == "mark_sent":
            box.mark_sent(batches[0], T0)  # the same 500 rows each time: the cost of one batch
        elif op == "startup":
            engine.seed_marks(box.marks_since(newest - 1000))  # the last 1,000 marks, however many are older
    cpu = (time.process_time() - start) / calls
    box.close()
    return cpu


def instructions(path: Path, op: str, calls: int) -> float | None:
    """Instructions per call by callgrind: a run with calls + 1 calls minus a run with one (the same
    start-up and opening), divided by calls."""
    if shutil.which("valgrind") is None:
        return None
    counts = []
    for n in (1, calls + 1):
        copy = path.with_suffix(f".cg{n}")
        shutil.copy(path, copy)
        out = copy.with_suffix(".out")
        code = (f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'bench')!r}]; import pathlib, outbox_scale as b; "
                f"b.per_call(pathlib.Path({str(copy)!r}), {op!r}, {n})")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code],
                       capture_output=True, check=True)
        summary = next(line for line in out.read_text().splitlines() if line.startswith("summary:"))
        counts.append(int(summary.split()[1]))
    return (counts[1] - counts[0]) / calls


def scale(sizes: list[int], with_instructions: bool) -> None:
    print("per-call cost by pending writes (CPU time; instructions by callgrind where asked)")
    print(f"{'pending':>9} {'op':>10} {'CPU us/call':>12} {'Minstr/call':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            base = Path(tmp) / f"base-{n}.sqlite"
            fill(base, n)
            for op, calls in (("enqueue", 300), ("due", 200), ("mark_sent", 20), ("startup", 20)):
                copy = Path(tmp) / "copy.sqlite"
                shutil.copy(base, copy)
                cpu = statistics.median(per_call(copy, op, calls) for _ in range(3))
                ins = instructions(copy, op, calls) if with_instructions else None
                print(f"{n:>9,} {op:>10} {cpu * 1e6:>12.1f} {'' if ins is None else f'{ins / 1e6:>12.3f}'}")
                for leftover in Path(tmp).glob("copy.sqlite*"):
                    leftover.unlink()
            for leftover in Path(tmp).glob(f"base-{n}.sqlite*"):
                leftover.unlink()


def idle_cpu(seconds: float) -> None:
    print(f"idle CPU of `simkl-bridge run` (no media server, HTTP endpoint on), over {seconds:g} s each")
    for pending in (0, 100_000):
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "state"
            state.mkdir(mode=0o700)
            if pending:
                fill(state / "outbox.sqlite", pending, account="carol")  # never logged in: it all waits
            config = Path(tmp) / "config.yaml"
            config.write_text(f"state_dir: {state}\nsimkl: {{client_id: emulator-client, api_url: 'http://127.0.0.1:9'}}\n"
                              "accounts: {carol: {}}\nusers: [{user: carol, account: carol}]\n"
                              "http: {listen: '127.0.0.1:0', secret: a-secret-of-24-characters}\n")
            proc = subprocess.Popen([sys.executable, "-m", "bridge", "run", "-c", str(config)], cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(5)  # start-up (imports, opening the outbox) is not idle time
            before = cpu_of(proc.pid)
            time.sleep(seconds)
            used = cpu_of(proc.pid) - before
            proc.terminate()
            proc.wait(10)
            print(f"  {pending:>7,} writes waiting: {used / seconds * 3600:.2f} CPU-s per hour")


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def outage() -> None:
    print("an outage: Simkl answers 503 for 10 simulated minutes, 20 batches of 500 waiting")
    with tempfile.TemporaryDirectory() as tmp, Emulator(post_interval=0.0) as emulator:
        emulator.start()
        emulator.add_token("bench-token", "alice")
        box = Outbox(Path(tmp) / "o.sqlite")
        for i in range(20 * 500):
            box.enqueue(write(i))
        client = SimklClient(ClientConfig(base_url=emulator.url, client_id="emulator-client", post_interval=0), "bench-token")
        now = [T0]
        sender = Sender(box, lambda account: client, clock=lambda: now[0])
        emulator.fault("down")
        per_minute = [0] * 10
        while now[0] < T0 + 600:
            per_minute[int((now[0] - T0) // 60)] += sender.flush_once().requests
            now[0] += 1
        print(f"  POSTs per minute: {per_minute} (total {sum(per_minute)}; one per backoff step, 20 batches waiting)")


def weeks(days: int = 14) -> None:
    import random

    from bridge.daemon import RECONCILE_LOOKBACK
    from bridge.engine import MARK_MEMORY
    from bridge.item import Numbering
    from bridge.writes import PAUSE, START

    print(f"outbox size over {days} simulated days: 200 sessions at once, 2,000 items, 4 accounts")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "o.sqlite"
        box = Outbox(path)
        box._db.execute("PRAGMA synchronous=OFF")
        now, n, sizes = T0, 0, []
        for hour in range(days * 24):
            for _ in range(200 * 60 // 45):  # viewings that end this hour
                account, number = f"user{rng.randrange(4)}", rng.randrange(2000)
                item = Item(Kind.EPISODE, Ids(tvdb=70000 + number // 20), Numbering.TV, 1, (1 + number % 20,))
                at = now + rng.uniform(0, 3600)
                for kind in (START, PAUSE, START, HISTORY):  # play, pause, resume, watched
                    n += 1
                    box.enqueue(Write(account, kind, item, f"{kind}:{account}:{item.key}:{at!r}:{n}",
                                      {"progress": 50} if kind != HISTORY else {"shows": [{"ids": {"tvdb": 1}}]}, at))
            now += 3600
            for account in box.accounts_with_due(now + 3600):
                ids = [e.id for kind in (HISTORY, PAUSE, START) for e in box.due(account, now + 3600, 10**6, kind=kind)]
                box.mark_sent(ids, now)
            box.prune(sent_before=now - 7 * 86400, marks_before=now - max(MARK_MEMORY, RECONCILE_LOOKBACK))
            if hour % 24 == 23:
                box._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                sizes.append(path.stat().st_size)
        print("  size at the end of each day (MB): " + " ".join(f"{b / 1e6:.1f}" for b in sizes))
        print(f"  writes made: {n:,}; rows kept: {box._db.execute('SELECT COUNT(*) FROM writes').fetchone()[0]:,} "
              f"writes, {box._db.execute('SELECT COUNT(*) FROM marks').fetchone()[0]:,} marks")


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the outage's one warning per backoff step is not a figure
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--instructions", action="store_true")
    args = parser.parse_args()
    scale([int(s) for s in args.sizes.split(",")], args.instructions)
    idle_cpu(args.idle)
    outage()
    weeks()


if __name__ == "__main__":
    main()
