"""The library sync's read of a Jellyfin server: a generated library of 5,000 movies and 50,000
episodes (1,000 shows of 5 seasons of 10), a third of it watched, served by the Jellyfin stand-in in
a process of its own, read by JellyfinAdapter.read_library. Run by hand:
`python3 bench/jellyfin_library.py [page] [version]` (page: items per request, by default the
adapter's PAGE; version one of the stand-in's VERSIONS, by default the newest).

Prints the bridge's CPU seconds for the read (this process only: the stand-in's are its own), its
peak RSS before and after the read, the requests and the items read.
"""

from __future__ import annotations

import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MOVIES, SHOWS, SEASONS, EPISODES = 5_000, 1_000, 5, 10
T = 1_717_200_000.0


def serve(version: str) -> None:
    """The stand-in with the generated library, until stdin closes."""
    from tests.adapters.jellyfin.standin import ALICE, JellyfinStandIn, stamp

    with JellyfinStandIn(version) as jf:
        for n in range(MOVIES):
            movie = jf.add_movie(f"Movie {n}", {"Tmdb": str(100_000 + n), "Imdb": f"tt{1_000_000 + n}"}, year=1950 + n % 70)
            if n % 3 == 0:
                jf.data(ALICE, movie).update(Played=True, PlayCount=1, LastPlayedDate=stamp(T - n * 3600))
        for s in range(SHOWS):
            show = jf.add_series(f"Show {s}", {"Tvdb": str(300_000 + s), "Tmdb": str(50_000 + s)}, year=1990 + s % 30)
            for season in range(1, SEASONS + 1):
                for number in range(1, EPISODES + 1):
                    episode = jf.add_episode(show, season, number, {"Tvdb": str(5_000_000 + s * 100 + season * 10 + number)})
                    if (s + number) % 3 == 0:
                        jf.data(ALICE, episode).update(Played=True, PlayCount=1, LastPlayedDate=stamp(T - s * 60))
        print(jf.url, flush=True)
        sys.stdin.read()


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2])
        return
    from bridge.adapters.jellyfin.adapter import JellyfinAdapter
    from bridge.adapters.jellyfin.library import PAGE
    from bridge.config import JellyfinServer
    from tests.adapters.jellyfin.standin import API_KEY, VERSIONS

    page = int(sys.argv[1]) if len(sys.argv) > 1 else PAGE
    version = sys.argv[2] if len(sys.argv) > 2 else VERSIONS[-1]
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, __file__, "--serve", version], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout is not None and child.stdin is not None
    url = child.stdout.readline().strip()
    print(f"stand-in {version}: {MOVIES:,} movies and {SHOWS * SEASONS * EPISODES:,} episodes generated in "
          f"{time.monotonic() - started:.1f} s")
    try:
        adapter = JellyfinAdapter(JellyfinServer(name="bench", url=url, api_key=API_KEY, user="alice"), timeout=60.0)
        adapter.page = page
        requests = []
        adapter.api.http.hooks["response"].append(lambda reply, *a, **kw: requests.append(reply.url))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cpu = time.process_time()
        wall = time.monotonic()
        entries = adapter.read_library()
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        child.stdin.close()
        child.wait()
    print(f"page {page}: {len(entries):,} items ({sum(e.watched for e in entries):,} watched) in {len(requests)} requests; "
          f"bridge CPU {cpu:.2f} s (wall {wall:.1f} s, the stand-in's time included); "
          f"peak RSS {rss_before:.0f} MB before the read, {rss_after:.0f} MB after")


if __name__ == "__main__":
    main()
