"""Simkl resume points -> Kodi: which point to set (pure), Kodi's time zone, and setting them
through a scripted Kodi and a real one (Debian's package, headless on Xvfb)."""

from __future__ import annotations

import calendar
import logging
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.adapters.kodi.api import CLOCK_LABELS
from bridge.adapters.kodi.resume import find_by_ids, kodi_utc_offset, numbers_agree, resume_point
from bridge.events import Ids, Kind, Resume
from tests.adapters.kodi.payloads import MOVIE, SHOW
from tests.adapters.kodi.real import KODI_TZ, eventually, kodi, kodi_bridge, real_kodi  # noqa: F401 - fixtures
from tests.adapters.kodi.standin import scripted  # noqa: F401 - fixtures
from tests.conftest import make_client

NOON_UTC = calendar.timegm((2026, 11, 20, 12, 0, 0))


def resume(progress: float = 35.0, paused_at: float = NOON_UTC) -> Resume:
    return Resume("alice", Kind.MOVIE, Ids(tmdb=603), progress, paused_at)


def library_movie(lastplayed: str = "", position: float = 0.0, total: float = 8000.0, runtime: int = 8160):
    return dict(MOVIE, movieid=1, lastplayed=lastplayed, resume={"position": position, "total": total}, runtime=runtime)


def test_simkls_pause_becomes_kodis_resume_point() -> None:
    assert resume_point(library_movie(), resume(35), utc_offset=0) == {"position": 2800.0, "total": 8000.0}


def test_without_a_resume_total_the_runtime_gives_the_length() -> None:
    assert resume_point(library_movie(total=0), resume(50), utc_offset=0) == {"position": 4080.0, "total": 8160.0}
    assert resume_point(library_movie(total=0, runtime=0), resume(50), utc_offset=0) is None


def test_kodi_already_resuming_there_is_left_alone() -> None:
    assert resume_point(library_movie(position=2800.4), resume(35), utc_offset=0) is None


@pytest.mark.parametrize("lastplayed, pushed", [
    ("2026-11-20 11:59:58", True),   # Kodi played it before Simkl's pause
    ("2026-11-20 12:00:00", False),  # the same second: maybe later, and Kodi's own state is kept
    ("2026-11-20 12:00:01", False),  # after
])
def test_kodi_played_after_simkls_pause_keeps_its_own_resume_point(lastplayed, pushed) -> None:
    point = resume_point(library_movie(lastplayed, position=600), resume(paused_at=NOON_UTC + 0.4), utc_offset=0)
    assert (point is not None) is pushed


def test_lastplayed_is_read_in_kodis_time_zone() -> None:
    # A Kodi 3.5 h west of UTC played it at 09:00 local = 12:30 UTC, after Simkl's pause at noon UTC.
    kodi_west = library_movie("2026-11-20 09:00:00", position=600)
    assert resume_point(kodi_west, resume(), utc_offset=-3.5 * 3600) is None
    # A Kodi 2 h east played it at 13:30 local = 11:30 UTC, before the pause.
    kodi_east = library_movie("2026-11-20 13:30:00", position=600)
    assert resume_point(kodi_east, resume(), utc_offset=2 * 3600) is not None


@pytest.mark.parametrize("simkl_ids, kodi_show_ids, agree", [
    (Ids(tvdb=81189, imdb="tt0903747"), {"tvdb": "81189"}, True),
    (Ids(mal=1575, tvdb=79481), {"tvdb": "79481"}, False),  # Simkl's anime numbers vs Kodi's TVDB seasons
    (Ids(anidb=4563), {"anidb": "4563"}, True),              # both count the AniDB way
])
def test_an_anime_resume_point_goes_only_to_a_show_numbered_the_same_way(simkl_ids, kodi_show_ids, agree) -> None:
    resume = Resume("alice", Kind.EPISODE, simkl_ids, 40.0, NOON_UTC, season=1, episode=14)
    assert numbers_agree(dict(SHOW, uniqueid=kodi_show_ids, imdbnumber=""), resume) is agree


@pytest.mark.parametrize("clock, offset", [
    ("08:30:00 AM", -3.5 * 3600),  # Newfoundland, 12-hour clock
    ("12:00:02 PM", 0.0),
    ("12:00:00 AM", 12 * 3600),    # the next day's midnight, labels say 2026-11-20 -> date below
    ("13:59:58", 2 * 3600),        # 24-hour clock: no meridiem
])
def test_kodis_utc_offset_comes_from_its_clock_labels(clock, offset) -> None:
    date = "2026-11-21" if clock == "12:00:00 AM" else "2026-11-20"
    labels = {CLOCK_LABELS[0]: date, CLOCK_LABELS[1]: clock}
    assert kodi_utc_offset(labels, NOON_UTC + 1.7) == offset


@pytest.mark.parametrize("labels", [
    {CLOCK_LABELS[0]: "2026-11-20", CLOCK_LABELS[1]: "08:30:00 nachm."},  # a meridiem we cannot read
    {CLOCK_LABELS[0]: "Friday, November 20, 2026", CLOCK_LABELS[1]: "12:00:00"},
    {}, None, "12:00",
])
def test_an_unreadable_kodi_clock_gives_no_offset(labels) -> None:
    assert kodi_utc_offset(labels, NOON_UTC) is None


def test_library_objects_are_found_by_any_shared_id() -> None:
    other = dict(MOVIE, movieid=2, uniqueid={"tmdb": "604"}, imdbnumber="604")
    matrix = dict(MOVIE, movieid=1, uniqueid={"tmdb": "603", "imdb": "tt0133093"})
    assert find_by_ids([other, matrix], Ids(imdb="tt0133093")) is matrix
    assert find_by_ids([other, matrix], Ids(tvdb=603)) is None


# -- through Kodi ----------------------------------------------------------------------------------


def test_resume_points_are_set_one_by_one_and_a_refused_one_does_not_stop_the_rest(scripted, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.kodi")
    kodi, adapter, _ = scripted()
    never_played = {"lastplayed": "", "resume": {"position": 0.0, "total": 0.0}, "runtime": 8000}
    kodi.library = {
        "XBMC.GetInfoLabels": lambda p: {CLOCK_LABELS[0]: time.strftime("%Y-%m-%d", time.gmtime()),
                                         CLOCK_LABELS[1]: time.strftime("%H:%M:%S", time.gmtime())},
        "VideoLibrary.GetMovies": lambda p: {"movies": [dict(never_played, movieid=1, title="Locked", uniqueid={"tmdb": "603"}),
                                                        dict(never_played, movieid=2, title="Open", uniqueid={"tmdb": "604"})]},
        "VideoLibrary.SetMovieDetails": lambda p: None if p["movieid"] == 1 else "OK",
    }
    eventually(adapter.supervisor.connected.is_set, "the adapter to connect")
    paused = time.time() - 60
    done = adapter.apply_resume([Resume("alice", Kind.MOVIE, Ids(tmdb=603), 50.0, paused),
                                 Resume("alice", Kind.MOVIE, Ids(tmdb=604), 25.0, paused),
                                 Resume("alice", Kind.MOVIE, Ids(tmdb=999), 25.0, paused)])  # not in this library
    assert done == 1
    sets = [r["params"] for r in kodi.fake.requests if r["method"] == "VideoLibrary.SetMovieDetails"]
    assert sets[-1] == {"movieid": 2, "resume": {"position": 2000.0, "total": 8000.0}}
    (refused,) = [r.getMessage() for r in caplog.records if "not set" in r.getMessage()]
    assert "tmdb:603" in refused and "Failed to execute method" in refused


@real_kodi
def test_startup_puts_simkls_paused_position_into_kodi_unless_kodis_is_newer(kodi, kodi_bridge, emulator) -> None:
    (movie,) = kodi.rpc("VideoLibrary.GetMovies")["movies"]

    def set_movie(**details):
        return kodi.rpc("VideoLibrary.SetMovieDetails", {"movieid": movie["movieid"], **details})

    set_movie(lastplayed="2001-01-01 00:00:00", resume={"position": 0.0, "total": 0.0})
    simkl = make_client(emulator)  # one client: its pacing keeps the two POSTs within Simkl's rate limit
    simkl.scrobble("pause", {"progress": 35, "movie": {"ids": {"tmdb": 603}}})
    simkl.scrobble("pause", {"progress": 50, "show": {"ids": {"tvdb": 81189}}, "episode": {"season": 1, "number": 2}})
    bridge, _ = kodi_bridge()
    assert bridge.reconcile().pushed == 2
    assert library_resume(kodi, "movie") == {"position": pytest.approx(7.0, abs=0.2), "total": 20}
    assert library_resume(kodi, "episode") == {"position": pytest.approx(10.0, abs=0.2), "total": 20}
    # Kodi played the movie after Simkl's pause: Kodi's own resume point stays. Its lastplayed is in
    # Kodi's time zone (3.5 h west of UTC here), which the adapter must not take for its own.
    kodi_now = datetime.now(ZoneInfo(KODI_TZ)).strftime("%Y-%m-%d %H:%M:%S")
    set_movie(lastplayed=kodi_now, resume={"position": 12.0, "total": 20.0})
    assert bridge.reconcile().pushed == 0
    assert library_resume(kodi, "movie")["position"] == 12.0
    set_movie(resume={"position": 0.0, "total": 0.0})
    (episode,) = kodi.rpc("VideoLibrary.GetEpisodes")["episodes"]
    kodi.rpc("VideoLibrary.SetEpisodeDetails", {"episodeid": episode["episodeid"], "resume": {"position": 0.0, "total": 0.0}})


def library_resume(kodi, kind: str) -> dict:
    (item,) = kodi.rpc(f"VideoLibrary.Get{kind.title()}s", {"properties": ["resume"]})[f"{kind}s"]
    return item["resume"]
