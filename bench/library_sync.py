"""The library sync at scale (issue 14): a generated Kodi library of 5,000 movies and 50,000 episodes
(1,000 shows of 5 seasons of 10) synced into an empty Simkl emulator that enforces Simkl's limits.

The Kodi stand-in (tests/adapters/kodi/standin.py, its library answered as test_library.py's
`Library` answers Kodi's JSON-RPC) and the emulator, whose catalog holds every generated movie and
show, run in a process of their own: the CPU seconds and peak RSS printed are the bridge's alone.
The bridge reads Kodi over the stand-in's TCP JSON-RPC link with the real KodiAdapter, and syncs as
the daemon does at start-up: `sync_account` (activities gate, Simkl's reads, Kodi's library, the
plan, the additions committed to the outbox, marks on Kodi, the baseline) with the daemon's sender
thread (`Sender.run`) woken as each chunk of additions is committed, sending batches while the rest
is queued. Logging is at the daemon's default level (info), to a file.

Time is scaled: the emulator allows one POST per `--post-interval` seconds (0.01 by default, 100
times Simkl's 1 s) and the client paces to match; its 10 GET/s is Simkl's own. Requests are
counted, not scaled. The wall time is set against the rate-limit floor at that pace (POSTs x the
interval + GETs / 10 per s). Scaled, the bridge's own seconds dwarf a floor of 1.5 s; they do not
shrink with the pace, so the floor at Simkl's pace plus them bounds a real run from above, and the
run prints the likelier figure too (`--post-interval 1` measures it, in about two minutes).

Then a second sync with nothing changed, and a third after 10 changes on each side: 10 episodes
watched on Kodi, and 10 movies watched on Simkl by another app (its own client id and token, plain
HTTP). Run by hand: `python3 bench/library_sync.py [--post-interval S]`.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import math
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MOVIES, SHOWS, SEASONS, EPISODES = 5_000, 1_000, 5, 10
# The outbox's own default (config outbox.batch_size): what a user's sync sends. Simkl documents no
# per-request maximum (simkl-api.md §10); a request of 500 is about 110 KB, and Simkl's POST limit
# is per request, so a smaller batch only multiplies the requests (ceil(53,900 / 100) = 539 POSTs,
# nine minutes at 1 POST/s, instead of 108 in two).
BATCH = 500
TOKEN, OTHER_APP, OTHER_TOKEN = "bench-token", "other-app", "other-token"
T = 1_717_200_000.0  # 2024-06-01: the generated plays are dated before it
KODI_OFFSET = -3.5 * 3600  # the stand-in's clock (test_library.py's Kodi runs 3.5 h behind UTC)
CHANGES = 10


def movie_watched(n: int) -> bool:
    return n % 50 != 49  # 100 movies unwatched: some of them another app marks on Simkl


def episode_watched(show: int, season: int, number: int) -> bool:
    return (season, number) != (SEASONS, EPISODES)  # each show's last episode unwatched


WATCHED = sum(map(movie_watched, range(MOVIES))) + SHOWS * (SEASONS * EPISODES - 1)


def episode_tvdb(show: int, season: int, number: int) -> int:
    return 5_000_000 + show * 100 + season * 10 + number


def catalog() -> list[dict[str, Any]]:
    """What Simkl knows: every generated movie and show, each episode with its own TVDB id."""
    items: list[dict[str, Any]] = [
        {"type": "movie", "title": f"Movie {n}", "year": 1950 + n % 70, "runtime": 100,
         "ids": {"simkl": 2_000_000 + n, "tmdb": 100_000 + n, "imdb": f"tt{1_000_000 + n}"}} for n in range(MOVIES)]
    for s in range(SHOWS):
        items.append({"type": "show", "title": f"Show {s}", "year": 1990 + s % 30, "runtime": 45,
                      "ids": {"simkl": 3_000_000 + s, "tvdb": 300_000 + s, "tmdb": 50_000 + s},
                      "seasons": {str(season): EPISODES for season in range(1, SEASONS + 1)},
                      "episode_ids": {f"{season}x{n}": {"tvdb": episode_tvdb(s, season, n)}
                                      for season in range(1, SEASONS + 1) for n in range(1, EPISODES + 1)}})
    return items


def kodi_local(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts + KODI_OFFSET))


def kodi_library() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(movies, episodes, tvshows) as Kodi's VideoLibrary lists them, watched ones with a real date."""
    movies = [{"movieid": n + 1, "label": f"Movie {n}", "title": f"Movie {n}", "year": 1950 + n % 70,
               "imdbnumber": f"tt{1_000_000 + n}", "uniqueid": {"tmdb": str(100_000 + n), "imdb": f"tt{1_000_000 + n}"},
               "playcount": int(movie_watched(n)), "lastplayed": kodi_local(T - n * 3600) if movie_watched(n) else ""}
              for n in range(MOVIES)]
    shows = [{"tvshowid": s + 1, "label": f"Show {s}", "title": f"Show {s}", "year": 1990 + s % 30,
              "imdbnumber": str(300_000 + s), "uniqueid": {"tvdb": str(300_000 + s), "tmdb": str(50_000 + s)}}
             for s in range(SHOWS)]
    episodes: list[dict[str, Any]] = []
    for s in range(SHOWS):
        for season in range(1, SEASONS + 1):
            for n in range(1, EPISODES + 1):
                watched = episode_watched(s, season, n)
                episodes.append({
                    "episodeid": len(episodes) + 1, "tvshowid": s + 1, "season": season, "episode": n,
                    "title": f"Episode {n}", "showtitle": f"Show {s}", "label": f"{season}x{n:02d}. Episode {n}",
                    "uniqueid": {"tvdb": str(episode_tvdb(s, season, n))}, "playcount": int(watched),
                    "lastplayed": kodi_local(T - s * 7200 - season * 600 - n * 60) if watched else "",
                    "file": f"/tv/Show {s}/S{season:02d}E{n:02d}.mkv"})
    return movies, episodes, shows


# -- the other process: Kodi and Simkl ---------------------------------------------------------------


def serve(post_interval: float) -> None:
    """The emulator and the Kodi stand-in, driven by lines on stdin until it closes."""
    from bridge.emulator import DEFAULT_CLIENT_ID, Emulator
    from tests.adapters.kodi.standin import ScriptedKodi
    from tests.adapters.kodi.test_library import Library

    made = time.monotonic()
    lib = Library(*kodi_library(), kodi_now=kodi_local(T))
    kodi = ScriptedKodi()
    kodi.library = lib.handlers()
    with Emulator(client_ids=(DEFAULT_CLIENT_ID, OTHER_APP), post_interval=post_interval, catalog=catalog()) as emu:
        emu.add_token(TOKEN, "alice")
        emu.add_token(OTHER_TOKEN, "alice")
        print(json.dumps({"simkl": emu.start(), "kodi": kodi.fake.port, "made": time.monotonic() - made}), flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "watch":  # on Kodi itself, as a person watching there
                for episodeid in json.loads(arg):
                    lib.lists["episodes"][episodeid - 1].update(playcount=1, lastplayed=kodi_local(T + 600))
                reply: Any = "ok"
            else:  # "state"
                watches = emu.state()["users"]["alice"]["watches"]
                bodies = [len(json.dumps(r["body"])) for r in emu.requests if r["method"] == "POST"]
                reply = {"watches": len({(w["simkl"], w["season"], w["number"]) for w in watches}),
                         "requests": Counter(f"{r['method']} {r['path'].split('?')[0]} {r['status']}" for r in emu.requests),
                         "largest_post": max(bodies, default=0),
                         "kodi_watched_movies": sum(1 for m in lib.lists["movies"] if m["playcount"] > 0),
                         "cpu": time.process_time()}
            print(json.dumps(reply), flush=True)
    kodi.fake.close()


# -- the bridge ------------------------------------------------------------------------------------


@dataclass
class Requests:
    """What the bridge's client sent to Simkl, as its on_reply hook sees every request."""

    calls: list[tuple[str, str, int | None, float, float]] = field(default_factory=list)  # + seconds, sent at

    def __call__(self, method: str, path: str, status: int | None, seconds: float) -> None:
        self.calls.append((method, path, status, seconds, time.monotonic() - seconds))


@dataclass
class Run:
    label: str
    calls: list[tuple[str, str, int | None, float, float]]  # this sync's
    cpu: float
    wall: float
    returned: float  # seconds into the run when sync_account returned (the sender carried on)
    queued: int
    steps: Counter[str]  # the plan's actions by step
    started: float  # monotonic

    def count(self, method: str) -> int:
        return sum(1 for m, *_ in self.calls if m == method)

    def listed(self) -> str:
        seen = Counter(f"{m} {path}" for m, path, *_ in self.calls)
        return ", ".join(f"{call}{f' x{n}' if n > 1 else ''}" for call, n in seen.items())

    def waited(self, method: str) -> float:
        """Seconds spent waiting for Simkl's replies to these requests."""
        return sum(seconds for m, _, _, seconds, _ in self.calls if m == method)

    def first_post(self) -> float:
        return min(at for m, _, _, _, at in self.calls if m == "POST") - self.started


class Draining:
    """The daemon's sender thread (Sender.run), woken as the sync commits additions; `drained()`
    waits until it has sent everything."""

    def __init__(self, sender: Any):
        self.sender, self.stop, self.wake, self.empty = sender, threading.Event(), threading.Event(), threading.Event()
        self.thread = threading.Thread(target=sender.run, args=(self.stop, self.wake), name="sender", daemon=True)
        flush = sender.flush_once

        def flush_once(now: float | None = None) -> Any:
            report = flush(now)
            if not sender.outbox.pending():
                self.empty.set()
            return report

        sender.flush_once = flush_once
        self.thread.start()

    def drained(self) -> None:
        self.empty.clear()  # set by a flush that ends after every commit of the sync
        self.wake.set()
        self.empty.wait()

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        self.thread.join()


class Bench:
    """The emulator and the Kodi stand-in, served by `script --serve` in a process of their own."""

    def __init__(self, post_interval: float, script: str = __file__):
        self.post_interval = post_interval
        self.child = subprocess.Popen([sys.executable, script, "--serve", str(post_interval)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        hello = json.loads(self.ask(None))
        self.simkl_url, self.kodi_port, self.made = hello["simkl"], hello["kodi"], hello.get("made", 0.0)

    def ask(self, line: str | None) -> str:
        assert self.child.stdin is not None and self.child.stdout is not None
        if line is not None:
            self.child.stdin.write(line + "\n")
            self.child.stdin.flush()
        return self.child.stdout.readline()

    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.ask("state")))

    def bridge(self, counted: Requests) -> tuple[Any, Any]:
        """The bridge's Simkl client (its requests `counted`) and a started KodiAdapter, both at these servers."""
        from bridge.adapters.kodi import KodiAdapter
        from bridge.config import KodiHost
        from bridge.emulator import DEFAULT_CLIENT_ID
        from bridge.simkl.client import ClientConfig, SimklClient

        client = SimklClient(ClientConfig(base_url=self.simkl_url, client_id=DEFAULT_CLIENT_ID,
                                          app_name="simkl-bridge-bench", post_interval=self.post_interval,
                                          read_timeout=120.0), TOKEN, on_reply=counted)
        adapter = KodiAdapter(KodiHost(name="bench", port=self.kodi_port, http_port=None, user="alice"))
        adapter.start(lambda event: None)
        return client, adapter

    def close(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.close()
        self.child.wait()


def logged_to_file(prefix: str) -> Path:
    """A state dir of its own, the bridge's log (at the daemon's level, info) in it, not on the terminal."""
    from bridge import logs

    state = Path(tempfile.mkdtemp(prefix=prefix))
    logs.setup("info")
    log_file = (state / "bridge.log").open("w", encoding="utf-8")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file)
    return state


def other_app_watches(url: str, movies: list[int]) -> None:
    """Another app of the same user marks movies watched on Simkl: its own client id and token."""
    import requests

    body = {"movies": [{"title": f"Movie {n}", "ids": {"tmdb": 100_000 + n}, "watched_at": "2024-06-01T10:00:00Z"}
                       for n in movies]}
    reply = requests.post(f"{url}/sync/history", json=body, timeout=30,
                          params={"client_id": OTHER_APP, "app-name": "other", "app-version": "1"},
                          headers={"User-Agent": "other/1", "Authorization": f"Bearer {OTHER_TOKEN}"})
    assert reply.status_code == 201 and reply.json()["added"]["movies"] == len(movies), reply.text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--post-interval", type=float, default=0.01, help="seconds per POST (Simkl: 1)")
    parser.add_argument("--profile", type=Path, help="write each sync's cProfile stats (its thread only) here")
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return

    from bridge.outbox import Outbox
    from bridge.sender import Sender
    from bridge.sync.baseline import Baseline
    from bridge.sync.plan import Options
    from bridge.sync.runner import sync_account

    interval = args.post_interval
    state = logged_to_file("library-sync-")
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the modules imported
    bench = Bench(interval)
    print(f"library: {MOVIES:,} movies and {SHOWS * SEASONS * EPISODES:,} episodes of {SHOWS:,} shows, "
          f"{WATCHED:,} watched; emulator and Kodi stand-in made in {bench.made:.1f} s in their own process")
    print(f"time scaled by {1 / interval:g}: one POST per {interval:g} s (Simkl: 1 s); GETs at Simkl's 10 per s")
    counted = Requests()
    client, adapter = bench.bridge(counted)
    outbox, baseline = Outbox(state / "outbox.sqlite"), Baseline(state / "sync.sqlite")
    sender = Draining(Sender(outbox, lambda account: client, batch_size=BATCH))
    servers = [(adapter, Options(to_simkl=True, from_simkl=True))]

    def sync(label: str) -> Run:
        seen = len(counted.calls)
        profile = cProfile.Profile() if args.profile else None
        cpu, started = time.process_time(), time.monotonic()
        if profile is not None:
            profile.enable()
        report = sync_account("alice", client, baseline, outbox, servers, now=time.time(), queued=sender.wake.set)
        returned = time.monotonic() - started
        if profile is not None:
            profile.disable()
            args.profile.mkdir(parents=True, exist_ok=True)
            profile.dump_stats(args.profile / f"{label}.prof")
        # Its figures, not the report: the daemon logs a sync's line and lets its plan go.
        queued, steps = report.queued, Counter(a.step.name for a in report.plans[adapter.name].actions)
        del report
        sender.drained()
        return Run(label, counted.calls[seen:], time.process_time() - cpu, time.monotonic() - started, returned,
                   queued, steps, started)

    try:
        first = sync("first")
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        after_first = bench.state()
        second = sync("second")
        bench.ask(f"watch {json.dumps([n * SEASONS * EPISODES for n in range(1, CHANGES + 1)])}")  # shows' last episodes
        other_app_watches(bench.simkl_url, [n for n in range(MOVIES) if not movie_watched(n)][:CHANGES])
        third = sync("third")
        final = bench.state()
    finally:
        sender.close()
        adapter.stop()
        bench.close()
    report(first, second, third, rss_start, rss_peak, interval, after_first, final)
    checks = {
        "every watched item reached Simkl": after_first["watches"] == WATCHED,
        f"the {CHANGES} + {CHANGES} changes are on both sides": final["watches"] == WATCHED + 2 * CHANGES
        and final["kodi_watched_movies"] == after_first["kodi_watched_movies"] + CHANGES,
        "nothing left in the outbox or parked": outbox.pending() == 0 and not outbox.parked(),
        "no request answered 429": not any(status == 429 for _, _, status, _, _ in counted.calls),
    }
    for what, ok in checks.items():
        print(f"check: {what}: {'yes' if ok else 'NO'}")
    print(f"state dir (outbox, baseline, the bridge's log): {state}")
    sys.exit(0 if all(checks.values()) else 1)


def report(first: Run, second: Run, third: Run, rss_start: float, rss_peak: float, interval: float,
           after_first: dict[str, Any], final: dict[str, Any]) -> None:
    posts, gets = first.count("POST"), first.count("GET")
    floor = posts * interval + gets / 10
    print(f"\nfirst sync, into an empty account: {first.queued:,} additions queued")
    print(f"  POSTs {posts} (at most ceil({WATCHED:,} / {BATCH}) = {math.ceil(WATCHED / BATCH)}: batches of {BATCH}, "
          f"the outbox's default; the largest body {final['largest_post'] / 1000:.0f} KB)")
    print(f"  GETs {gets}: {', '.join(f'{m} {p}' for m, p, *_ in first.calls if m == 'GET')}")
    print(f"  bridge CPU {first.cpu:.2f} s (target < 10 s)")
    print(f"  peak RSS {rss_peak:.0f} MB (target < 200 MB; {rss_start:.0f} MB before, its modules imported)")
    print(f"  wall {first.wall:.2f} s against the rate-limit floor {floor:.2f} s ({posts} x {interval:g} s + {gets} / 10 per s): "
          f"{100 * (first.wall - floor) / floor:+.0f} % (target within 10 %)")
    print(f"    the first POST after {first.first_post():.2f} s (reading Kodi and Simkl, planning, the first additions "
          f"committed); the sync done at {first.returned:.2f} s, the sender still sending; "
          f"{first.waited('POST'):.2f} s in all waiting for the emulator's replies (one request at a time)")
    if interval < 1.0:
        real = posts * 1.0 + gets / 10
        bound = real + first.wall - floor
        likely = first.first_post() + (posts - 1) * 1.0 + first.waited("POST")
        print(f"    at Simkl's 1 POST/s the floor is {real:.1f} s. The {first.wall - floor:.2f} s beyond it here do not "
              f"shrink with the pace: a real run takes at most {bound:.1f} s ({100 * (bound - real) / real:+.1f} %); "
              f"with the bridge's work between two POSTs inside Simkl's second, the first POST's delay, "
              f"{posts - 1} seconds and the replies: {likely:.1f} s ({100 * (likely - real) / real:+.1f} %; "
              f"--post-interval 1 measures it)")
    for run, target in ((second, "at most 2"), (third, "1 POST and only the GETs of the buckets that moved")):
        what = "nothing changed" if run is second else f"{CHANGES} episodes watched on Kodi, {CHANGES} movies on Simkl"
        print(f"{run.label} sync ({what}): {len(run.calls)} requests (target {target}): {run.listed()}; "
              f"{run.steps['ADD']} added to Simkl, {run.steps['MARK']} marked on Kodi; "
              f"bridge CPU {run.cpu:.2f} s, wall {run.wall:.2f} s")
    print(f"emulator (its own process, CPU {after_first['cpu']:.1f} s through the first sync): "
          f"{after_first['watches']:,} watches after the first sync, {final['watches']:,} after the third; "
          f"{final['kodi_watched_movies']:,} movies watched on Kodi (was {after_first['kodi_watched_movies']:,})")
    print(f"requests the emulator counted (the other app's one POST among them): {dict(sorted(final['requests'].items()))}")


if __name__ == "__main__":
    main()
