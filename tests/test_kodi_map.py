"""Kodi JSON-RPC results -> PlayEvents and resume points (pure functions, no Kodi needed).

The payloads are shaped like what Kodi 20 really returns (see shared/kodi-headless.md §6).
"""

from __future__ import annotations

import calendar
import json
from pathlib import Path

import pytest

from bridge.adapters.kodi_map import (CLOCK_LABELS, NotInLibrary, event_from_item, find_by_ids, kodi_utc_offset,
                                      numbers_agree, resume_point, seconds)
from bridge.cli import main as cli
from bridge.events import EventError, Ids, Kind, Numbering, Resume, State
from bridge.simkl.bodies import history_body

MOVIE = {"episode": -1, "file": "/media/movies/TheMatrix/The.Matrix.1999.mp4", "id": 1, "imdbnumber": "603",
         "label": "The Matrix", "runtime": 8160, "season": -1, "showtitle": "", "title": "The Matrix", "tvshowid": -1,
         "type": "movie", "uniqueid": {"tmdb": "603"}, "year": 1999}
EPISODE = {"episode": 2, "file": "/media/tv/Show/Season 01/Show.S01E02.mkv", "id": 7, "imdbnumber": "349232",
           "label": "Second Episode", "runtime": 2880, "season": 1, "showtitle": "Test Show", "title": "Second Episode",
           "tvshowid": 1, "type": "episode", "uniqueid": {"imdb": "tt1054724", "tmdb": "62086", "tvdb": "349232"}, "year": 1970}
SHOW = {"imdbnumber": "81189", "label": "Test Show", "title": "Test Show", "tvshowid": 1, "year": 2008,
        "uniqueid": {"imdb": "tt0903747", "tmdb": "1396", "tvdb": "81189"}}
LOOSE = {"episode": -1, "file": "/media/loose/direct.mp4", "imdbnumber": "", "label": "direct.mp4", "runtime": 0,
         "season": -1, "showtitle": "", "title": "", "tvshowid": -1, "type": "unknown", "year": 0}
PAUSED_AT_40 = {"percentage": 40.0, "speed": 0, "time": {"hours": 0, "minutes": 19, "seconds": 12, "milliseconds": 0},
                "totaltime": {"hours": 0, "minutes": 48, "seconds": 0, "milliseconds": 0}}


def event(item, **kw):
    return event_from_item(item, server="lr", user="alice", session="lr-1", state=State.PAUSED, at=1000.0, **kw)


# -- items ----------------------------------------------------------------------------------------


def test_imdbnumber_holding_a_tmdb_id_is_not_sent_as_imdb() -> None:
    e = event(MOVIE)
    assert e.kind is Kind.MOVIE and e.ids == Ids(tmdb=603)
    assert (e.title, e.year, e.duration) == ("The Matrix", 1999, 8160)


def test_imdbnumber_is_used_when_it_really_is_an_imdb_id() -> None:
    e = event(dict(MOVIE, imdbnumber="tt0133093", uniqueid={}))
    assert e.ids == Ids(imdb="tt0133093") and "imdb" in e.matched_by


def test_an_episode_carries_the_shows_ids_and_keeps_its_own_apart() -> None:
    e = event(EPISODE, tvshow=SHOW, properties=PAUSED_AT_40)
    assert e.kind is Kind.EPISODE
    assert e.ids == Ids(imdb="tt0903747", tmdb=1396, tvdb=81189)
    assert e.episode_ids == Ids(imdb="tt1054724", tmdb=62086, tvdb=349232)
    assert (e.season, e.episodes, e.numbering) == (1, (2,), Numbering.TV)
    assert (e.title, e.year) == ("Test Show", 2008)
    # Kodi's player position wins over the library runtime; progress matches Kodi's percentage.
    assert (e.position, e.duration, e.progress) == (1152.0, 2880.0, 40.0)


def test_an_episode_without_its_show_is_not_matched_by_its_own_ids() -> None:
    with pytest.raises(NotInLibrary, match="show has no uniqueid"):
        event(EPISODE, tvshow={"title": "Test Show", "uniqueid": {}})


@pytest.mark.parametrize("item, reason", [
    (LOOSE, "'unknown' is not a library movie or episode"),
    (dict(MOVIE, uniqueid={}, imdbnumber=""), "no uniqueid"),
    (dict(MOVIE, type="song"), "'song' is not a library movie or episode"),
])
def test_items_without_ids_are_not_in_the_library(item, reason) -> None:
    with pytest.raises(NotInLibrary, match=reason) as err:
        event(item)
    assert "\n" not in str(err.value)


def test_a_loose_file_is_never_matched_by_its_title_or_name() -> None:
    named_like_a_movie = dict(LOOSE, title="The Matrix", label="The.Matrix.1999.mp4", file="/m/The.Matrix.1999.mp4")
    with pytest.raises(NotInLibrary):
        event(named_like_a_movie)


def test_a_multi_episode_file_marks_every_episode() -> None:
    e = event(EPISODE, tvshow=SHOW, same_file=(2, 3))
    assert e.episodes == (2, 3)
    (show,) = history_body(e)["shows"]
    assert show["seasons"] == [{"number": 1, "episodes": [{"number": 2}, {"number": 3}]}]


@pytest.mark.parametrize("uniqueid, numbering", [
    ({"anidb": "4563"}, Numbering.ANIDB),
    ({"anidb": "4563", "mal": "1575"}, Numbering.ANIDB),
    ({"anidb": "4563", "tvdb": "79481"}, Numbering.TV),  # TVDB ids next to it: TVDB numbering
])
def test_a_show_known_only_by_anime_ids_counts_episodes_the_anidb_way(uniqueid, numbering) -> None:
    e = event(dict(EPISODE, uniqueid={}), tvshow=dict(SHOW, uniqueid=uniqueid, imdbnumber=""))
    assert e.numbering is numbering and e.ids.anidb == 4563


@pytest.mark.parametrize("season, number", [(-1, 2), (1, -1), ("1", 2), (1, 0), (None, None)])
def test_an_episode_without_usable_numbers_is_refused(season, number) -> None:
    with pytest.raises(EventError, match="season/episode") as err:
        event(dict(EPISODE, season=season, episode=number), tvshow=SHOW)
    assert not isinstance(err.value, NotInLibrary)


def test_malformed_ids_are_dropped_not_sent() -> None:
    e = event(dict(MOVIE, uniqueid={"tmdb": "six-o-three", "imdb": "tt0133093", "unknown": "x"}))
    assert e.ids == Ids(imdb="tt0133093")


def test_kodi_time_objects_become_seconds() -> None:
    assert seconds({"hours": 1, "minutes": 2, "seconds": 3, "milliseconds": 500}) == 3723.5
    assert seconds(None) == 0 and seconds({"hours": "1"}) == 0 and seconds({"seconds": True}) == 0
    assert seconds({"hours": 0, "minutes": 0, "seconds": 0, "milliseconds": -120}) == 0  # just after a start


def test_library_objects_are_found_by_any_shared_id() -> None:
    other = dict(MOVIE, movieid=2, uniqueid={"tmdb": "604"}, imdbnumber="604")
    matrix = dict(MOVIE, movieid=1, uniqueid={"tmdb": "603", "imdb": "tt0133093"})
    assert find_by_ids([other, matrix], Ids(imdb="tt0133093")) is matrix
    assert find_by_ids([other, matrix], Ids(tvdb=603)) is None


# -- resume points --------------------------------------------------------------------------------

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


# -- simkl-bridge map --from kodi -------------------------------------------------------------------


def run_map(tmp_path: Path, capsys, payload) -> tuple[int, str, str]:
    path = tmp_path / "kodi.json"
    path.write_bytes(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    code = cli(["map", "--from", "kodi", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_map_prints_the_event_and_the_history_body_of_a_saved_getitem_reply(tmp_path, capsys) -> None:
    saved = {"id": 22, "jsonrpc": "2.0", "result": {"item": EPISODE, "tvshow": SHOW, "properties": PAUSED_AT_40}}
    code, out, err = run_map(tmp_path, capsys, saved)
    assert code == 0, err
    printed = json.loads(out)
    assert printed["event"]["ids"] == {"imdb": "tt0903747", "tmdb": 1396, "tvdb": 81189}
    assert printed["event"]["episode_ids"]["tvdb"] == 349232 and printed["event"]["position"] == 1152.0
    (episode,) = printed["history"]["shows"][0]["seasons"][0]["episodes"]
    assert episode == {"number": 2, "ids": {"imdb": "tt1054724", "tmdb": 62086, "tvdb": 349232}}


def test_map_of_a_movie(tmp_path, capsys) -> None:
    code, out, _ = run_map(tmp_path, capsys, {"item": MOVIE})
    assert code == 0
    assert json.loads(out)["history"] == {"movies": [{"title": "The Matrix", "year": 1999, "ids": {"tmdb": 603}}]}


@pytest.mark.parametrize("payload, message", [
    (b"{not json", "not JSON"),
    ([1, 2], "expected a Player.GetItem result"),
    ({"item": "The Matrix"}, "expected a Player.GetItem result"),
    ({"item": LOOSE}, "not a library movie or episode"),
    ({"item": EPISODE}, "show has no uniqueid"),
])
def test_map_refuses_garbage_with_one_line_and_exit_2(tmp_path, capsys, payload, message) -> None:
    code, out, err = run_map(tmp_path, capsys, payload)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err
