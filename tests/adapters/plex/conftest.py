"""Fixtures of the Plex tests: the Plex stand-in with a small library, and a started Bridge whose
only adapter listens to it."""

from __future__ import annotations

import pytest

from tests.adapters.plex.helpers import EPISODE_MS, MATRIX_MS, adapter_for
from tests.adapters.plex.standin import PlexStandIn


@pytest.fixture
def plex():
    standin = PlexStandIn()
    standin.add("100", "movie", "The Matrix", "1", "plex://movie/5d7768313c3c2a001fbcd1f0",
                ("imdb://tt0133093", "tmdb://603"), duration=MATRIX_MS, year=1999)
    standin.add("200", "show", "Breaking Bad", "2", "com.plexapp.agents.thetvdb://81189?lang=en", year=2008)
    standin.add("202", "episode", "Cat's in the Bag...", "2", "com.plexapp.agents.thetvdb://81189/1/2?lang=en",
                duration=EPISODE_MS, parentIndex=1, index=2, grandparentRatingKey="200", grandparentTitle="Breaking Bad")
    standin.add("203", "episode", "...And the Bag's in the River", "2",
                "com.plexapp.agents.thetvdb://81189/1/3?lang=en", duration=EPISODE_MS, parentIndex=1, index=3,
                grandparentRatingKey="200", grandparentTitle="Breaking Bad")
    standin.add("300", "show", "Cowboy Bebop", "4", "com.plexapp.agents.hama://anidb-23?lang=en")
    standin.add("305", "episode", "Honky Tonk Women", "4", "com.plexapp.agents.hama://anidb-23/1/5?lang=en",
                duration=1_440_000, parentIndex=1, index=5, grandparentRatingKey="300", grandparentTitle="Cowboy Bebop")
    standin.add("400", "movie", "Birthday 2019", "3", "plex://movie/5d776b59ad5437001f79c6f8",
                ("tmdb://105",), duration=3_600_000)
    standin.add("500", "show", "The Office", "2", "plex://show/5d9c086c46115600200aa2fe",
                ("tvdb://73244", "tmdb://2316"))
    standin.add("503", "episode", "Health Care", "2", "plex://episode/5d9c0e13cb3ffa001f1c91a3",
                ("tvdb://300000",), duration=1_320_000, parentIndex=1, index=3, grandparentRatingKey="500",
                grandparentTitle="The Office")
    standin.add("600", "movie", "Holiday 2023", "1", "local://600", duration=3_600_000)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def running(plex, bridge_for):
    """A started bridge whose only adapter listens to the stand-in (start scrobbles off unless
    `starts=True`)."""
    def make(connect: bool = True, starts: bool = False, **cfg):
        adapter = adapter_for(plex, **cfg)
        # Without start scrobbles most plays make one Simkl POST, which keeps these tests short.
        bridge = bridge_for("" if starts else "engine: {send_start: false}", adapters=[adapter])
        bridge.start(reconcile=False)
        if adapter.cfg.alerts and connect:
            plex.wait_connected()
        return bridge, adapter
    return make
