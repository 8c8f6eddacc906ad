"""The Kodi adapter against a real Kodi (Debian's package, headless on Xvfb) and the Simkl emulator.

One Kodi serves the whole module (starting one costs ~4 s); each test runs its own bridge.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.adapters.kodi import KodiAdapter
from tests.conftest import make_client, watches
from tests.kodi_real import KODI_TZ, RealKodi, available

pytestmark = [pytest.mark.kodi, pytest.mark.slow,
              pytest.mark.skipif(available() is not None, reason=f"real Kodi: {available()}")]


@pytest.fixture(scope="module")
def kodi(tmp_path_factory):
    k = RealKodi(tmp_path_factory.mktemp("kodi"))
    k.build()
    yield k
    k.quit()


@pytest.fixture
def kodi_bridge(kodi, bridge_for):
    """A running bridge whose only adapter is this Kodi, with plays attributed to alice."""
    def make():
        extra = f"kodi: [{{name: lr, port: {kodi.tcp_port}, http_port: {kodi.http_port}, user: alice}}]"
        bridge = bridge_for(extra, adapters=None)
        (adapter,) = bridge.adapters
        assert isinstance(adapter, KodiAdapter)
        bridge.start(reconcile=False)
        eventually(adapter.supervisor.connected.is_set, "the adapter to connect")
        return bridge, adapter
    yield make
    if kodi.ping() and kodi.rpc("Player.GetActivePlayers"):
        kodi.stop()


def eventually(probe, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def playbacks(emulator):
    return emulator.state()["users"].get("alice", {}).get("playbacks", [])


def test_a_movie_played_to_the_end_is_marked_once_with_its_tmdb_id(kodi, kodi_bridge, emulator) -> None:
    bridge, _ = kodi_bridge()
    kodi.play(kodi.movie)
    kodi.seek(90)
    kodi.wait_stopped()
    (watch,) = eventually(lambda: watches(emulator), "the history entry")
    assert watch["title"] == "The Matrix" and watch["type"] == "movie"
    (post,) = [r["body"] for r in emulator.requests if r["method"] == "POST" and r["path"] == "/sync/history"]
    assert post["movies"][0]["ids"] == {"tmdb": 603, "imdb": "tt0133093"}
    time.sleep(1)
    assert len(watches(emulator)) == 1 and bridge.outbox.pending() == 0


def test_a_paused_episode_is_saved_with_the_show_ids_and_kodis_progress(kodi, kodi_bridge, emulator) -> None:
    kodi_bridge()
    kodi.play(kodi.episode)
    kodi.seek(40)
    time.sleep(0.5)
    kodi.set_playing(False)
    eventually(lambda: kodi.position()["speed"] == 0, "Kodi to pause")
    kodi_percent = kodi.position()["percentage"]
    (playback,) = eventually(lambda: playbacks(emulator), "the saved playback")
    assert playback["type"] == "episode"
    assert playback["show"]["ids"]["tvdb"] == 81189
    assert (playback["episode"]["season"], playback["episode"]["number"]) == (1, 2)
    assert abs(playback["progress"] - kodi_percent) <= 2
    kodi.stop()
    time.sleep(1)
    assert watches(emulator) == []  # stopped at 40%: not watched


def test_a_stop_below_the_threshold_is_not_history(kodi, kodi_bridge, emulator) -> None:
    bridge, _ = kodi_bridge()
    kodi.play(kodi.movie)
    kodi.seek(50)
    time.sleep(0.5)
    kodi.stop()
    (playback,) = eventually(lambda: playbacks(emulator), "the resume point")
    assert 45 <= playback["progress"] <= 65
    eventually(lambda: bridge.outbox.pending() == 0, "the outbox to drain")
    assert watches(emulator) == []


def test_a_loose_file_is_not_sent_and_logged_once(kodi, kodi_bridge, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.kodi")
    bridge, _ = kodi_bridge()
    kodi.play(kodi.loose)
    kodi.set_playing(False)
    time.sleep(0.3)
    kodi.set_playing(True)
    kodi.seek(95)
    kodi.wait_stopped()
    time.sleep(0.5)
    lines = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert len(lines) == 1 and "direct.mp4" in lines[0]
    assert bridge.outbox.counts() == {}
    assert watches(emulator) == [] and playbacks(emulator) == []


def test_startup_puts_simkls_paused_position_into_kodi_unless_kodis_is_newer(kodi, kodi_bridge, emulator) -> None:
    (movie,) = kodi.rpc("VideoLibrary.GetMovies")["movies"]
    set_movie = lambda **details: kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movie["movieid"], **details})
    set_movie(lastplayed="2001-01-01 00:00:00", resume={"position": 0.0, "total": 0.0})
    make_client(emulator).scrobble("pause", {"progress": 35, "movie": {"ids": {"tmdb": 603}}})
    bridge, _ = kodi_bridge()
    assert bridge.reconcile().pushed == 1
    assert movie_resume(kodi) == {"position": pytest.approx(7.0, abs=0.2), "total": 20}
    # Kodi played it after Simkl's pause: Kodi's own resume point stays. Kodi's lastplayed is in
    # Kodi's time zone (3.5 h west of UTC here), which the adapter must not take for its own.
    kodi_now = datetime.now(ZoneInfo(KODI_TZ)).strftime("%Y-%m-%d %H:%M:%S")
    set_movie(lastplayed=kodi_now, resume={"position": 12.0, "total": 20.0})
    assert bridge.reconcile().pushed == 0
    assert movie_resume(kodi)["position"] == 12.0
    set_movie(resume={"position": 0.0, "total": 0.0})


def movie_resume(kodi) -> dict:
    (movie,) = kodi.rpc("VideoLibrary.GetMovies", {"properties": ["resume"]})["movies"]
    return movie["resume"]


def test_kodi_killed_mid_play_is_reconnected(kodi, kodi_bridge, emulator, caplog) -> None:
    """Runs last in the module: it restarts the shared Kodi."""
    caplog.set_level(logging.INFO, logger="bridge.adapters.kodi")
    bridge, adapter = kodi_bridge()
    kodi.play(kodi.movie)
    kodi.seek(30)
    time.sleep(1)
    kodi.kill()
    eventually(lambda: not adapter.supervisor.connected.is_set(), "the adapter to see the drop")
    kodi.start()
    eventually(adapter.supervisor.connected.is_set, "the adapter to reconnect", timeout=60)
    # The interrupted viewing is closed where it was when Kodi died: a resume point, not a watch.
    (playback,) = eventually(lambda: playbacks(emulator), "the interrupted play's resume point")
    assert 25 <= playback["progress"] <= 50
    # And the new connection carries plays again.
    kodi.play(kodi.movie)
    kodi.seek(92)
    kodi.wait_stopped()
    (watch,) = eventually(lambda: watches(emulator), "the history entry after the restart")
    assert watch["title"] == "The Matrix"
    assert any("disconnected" in r.getMessage() for r in caplog.records)
