"""The ratings sync at scale (issue 15): a Kodi library whose 4,000 movies and 1,000 shows are rated
(of 5,000 movies and 1,000 shows) synced into an empty Simkl emulator that enforces Simkl's limits,
with the real KodiAdapter over the stand-in's TCP JSON-RPC link, `sync_account` as the daemon runs
it and the daemon's sender thread. The emulator and the Kodi stand-in run in a process of their
own (bench/library_sync.py's): the CPU seconds and peak RSS printed are the bridge's alone.

Then: the sync after it, which reads back what Simkl filed and dated for the bridge's own writes
(each rated title Simkl did not have moved a bucket and `rated_at`); a re-sync with nothing
changed; and one after 10 ratings changed on Kodi and 10 on Simkl by another app. Time is scaled
as in library_sync.py (one POST per `--post-interval` s; requests counted, not scaled).
Run by hand: `python3 bench/ratings_sync.py [--post-interval S]`.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.library_sync import BATCH, OTHER_APP, OTHER_TOKEN, TOKEN, Bench, Draining, Requests, Run, logged_to_file

MOVIES, SHOWS, RATED_MOVIES = 5_000, 1_000, 4_000
RATED = RATED_MOVIES + SHOWS
CHANGES = 10


def movie_rating(n: int) -> int:
    return n % 10 + 1 if n < RATED_MOVIES else 0


def catalog() -> list[dict[str, Any]]:
    movies = [{"type": "movie", "title": f"Movie {n}", "year": 1950 + n % 70, "runtime": 100,
               "ids": {"simkl": 2_000_000 + n, "tmdb": 100_000 + n, "imdb": f"tt{1_000_000 + n}"}} for n in range(MOVIES)]
    shows = [{"type": "show", "title": f"Show {s}", "year": 1990 + s % 30, "runtime": 45,
              "ids": {"simkl": 3_000_000 + s, "tvdb": 300_000 + s, "tmdb": 50_000 + s}, "seasons": {"1": 10}}
             for s in range(SHOWS)]
    return movies + shows


def kodi_titles() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    movies = [{"movieid": n + 1, "label": f"Movie {n}", "title": f"Movie {n}", "year": 1950 + n % 70,
               "imdbnumber": f"tt{1_000_000 + n}", "uniqueid": {"tmdb": str(100_000 + n), "imdb": f"tt{1_000_000 + n}"},
               "playcount": 0, "lastplayed": "", "userrating": movie_rating(n), "tag": []} for n in range(MOVIES)]
    shows = [{"tvshowid": s + 1, "label": f"Show {s}", "title": f"Show {s}", "year": 1990 + s % 30,
              "imdbnumber": str(300_000 + s), "uniqueid": {"tvdb": str(300_000 + s), "tmdb": str(50_000 + s)},
              "userrating": s % 10 + 1, "tag": []} for s in range(SHOWS)]
    return movies, shows


def serve(post_interval: float) -> None:
    """The emulator and the Kodi stand-in, driven by lines on stdin until it closes."""
    from bridge.emulator import DEFAULT_CLIENT_ID, Emulator
    from tests.adapters.kodi.standin import Library, ScriptedKodi

    movies, shows = kodi_titles()
    lib = Library(movies, [], shows)
    kodi = ScriptedKodi()
    kodi.library = lib.handlers()
    with Emulator(client_ids=(DEFAULT_CLIENT_ID, OTHER_APP), post_interval=post_interval, catalog=catalog()) as emu:
        emu.add_token(TOKEN, "alice")
        emu.add_token(OTHER_TOKEN, "alice")
        print(json.dumps({"simkl": emu.start(), "kodi": kodi.fake.port}), flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "rate":  # on Kodi itself, with its remote
                for movieid, rating in json.loads(arg):
                    lib.lists["movies"][movieid - 1]["userrating"] = rating
                reply: Any = "ok"
            else:  # "state"
                reply = {"ratings": {k: v["rating"] for k, v in emu.state()["users"]["alice"]["ratings"].items()},
                         "kodi": {m["movieid"]: m["userrating"] for m in lib.lists["movies"]},
                         "cpu": time.process_time()}
            print(json.dumps(reply), flush=True)
    kodi.fake.close()


def other_app_rates(url: str, movies: list[int]) -> None:
    """Another app of the same person re-rates movies on Simkl: its own client id and token."""
    import requests

    body = {"movies": [{"ids": {"tmdb": 100_000 + n}, "rating": 10 - movie_rating(n) % 10 or 10,
                        "rated_at": "2024-06-02T10:00:00Z"} for n in movies]}
    reply = requests.post(f"{url}/sync/ratings", json=body, timeout=30,
                          params={"client_id": OTHER_APP, "app-name": "other", "app-version": "1"},
                          headers={"User-Agent": "other/1", "Authorization": f"Bearer {OTHER_TOKEN}"})
    assert reply.status_code in (200, 201) and reply.json()["added"]["movies"] == len(movies), reply.text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--post-interval", type=float, default=0.01, help="seconds per POST (Simkl: 1)")
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return

    from bridge.outbox import Outbox
    from bridge.sender import Sender
    from bridge.sync.baseline import Baseline
    from bridge.sync.plan import Options
    from bridge.sync.runner import sync_account
    from bridge.sync.titles_plan import TitleOptions

    interval = args.post_interval
    state = logged_to_file("ratings-sync-")
    servers = Bench(interval, __file__)
    print(f"Kodi: {MOVIES:,} movies and {SHOWS:,} shows, {RATED:,} of them rated; Simkl empty")
    print(f"time scaled by {1 / interval:g}: one POST per {interval:g} s (Simkl: 1 s); GETs at Simkl's 10 per s")
    counted = Requests()
    client, adapter = servers.bridge(counted)
    outbox, baseline = Outbox(state / "outbox.sqlite"), Baseline(state / "sync.sqlite")
    sender = Draining(Sender(outbox, lambda account: client, batch_size=BATCH))
    titles = {adapter.name: (adapter, TitleOptions(ratings="newer"))}

    def sync(label: str) -> tuple[Run, Counter[str]]:
        seen = len(counted.calls)
        cpu, started = time.process_time(), time.monotonic()
        report = sync_account("alice", client, baseline, outbox, [(adapter, Options())], now=time.time(),
                              queued=sender.wake.set, titles=titles)
        returned = time.monotonic() - started
        steps = Counter(a.step.name for p in report.titles.values() for a in p.actions)
        queued = report.queued
        del report
        sender.drained()
        return Run(label, counted.calls[seen:], time.process_time() - cpu, time.monotonic() - started, returned,
                   queued, Counter(), started), steps

    try:
        (first, first_steps) = sync("first")
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        after_first = servers.state()
        echo, _ = sync("second")
        again, _ = sync("third")
        servers.ask(f"rate {json.dumps([[n + 1, movie_rating(n) % 10 + 1] for n in range(CHANGES)])}")
        other_app_rates(servers.simkl_url, list(range(100, 100 + CHANGES)))
        changed, changed_steps = sync("fourth")
        final = servers.state()
    finally:
        sender.close()
        adapter.stop()
        servers.close()
    posts, gets = first.count("POST"), first.count("GET")
    floor = posts * interval + gets / 10
    print(f"\nfirst sync: {first.queued:,} ratings queued ({dict(first_steps)})")
    print(f"  POSTs {posts} (at most ceil({RATED:,} / {BATCH}) = {math.ceil(RATED / BATCH)}); GETs {gets}: {first.listed()}")
    print(f"  bridge CPU {first.cpu:.2f} s, peak RSS {rss_peak:.0f} MB, wall {first.wall:.2f} s against the floor "
          f"{floor:.2f} s ({100 * (first.wall - floor) / floor:+.0f} %)")
    print(f"second sync (reads back what Simkl filed for the bridge's own ratings): {len(echo.calls)} requests: "
          f"{echo.listed()}; CPU {echo.cpu:.2f} s")
    print(f"third sync (nothing changed): {len(again.calls)} requests (target at most 2): {again.listed()}; "
          f"CPU {again.cpu:.2f} s")
    print(f"fourth sync ({CHANGES} re-rated on Kodi, {CHANGES} on Simkl by another app): {len(changed.calls)} requests: "
          f"{changed.listed()}; {dict(changed_steps)}; CPU {changed.cpu:.2f} s")
    on_simkl = final["ratings"]
    checks = {
        "every rating reached Simkl": len(after_first["ratings"]) == RATED,
        "Kodi's re-ratings are on Simkl": all(on_simkl[str(2_000_000 + n)] == movie_rating(n) % 10 + 1
                                             for n in range(CHANGES)),
        "the other app's re-ratings are on Kodi": all(final["kodi"][str(n + 1)] == (10 - movie_rating(n) % 10 or 10)
                                                      for n in range(100, 100 + CHANGES)),
        "nothing re-sent with nothing changed": again.count("POST") == 0 and len(again.calls) <= 2,
        "one POST for the changes": changed.count("POST") == 1,
        "nothing left in the outbox or parked": outbox.pending() == 0 and not outbox.parked(),
        "no request answered 429": not any(status == 429 for _, _, status, _, _ in counted.calls),
    }
    for what, ok in checks.items():
        print(f"check: {what}: {'yes' if ok else 'NO'}")
    print(f"state dir (outbox, baseline, the bridge's log): {state}")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
