"""Kodi's library for the sync: read page by page, mapped like live plays, dates in Kodi's zone, and
Simkl's watched state written back per item. First against a scripted Kodi whose library answers
the way Kodi's JSON-RPC does (paging, an item that changes under the reader, a refused write, a
link that drops), then against a real Kodi with `sync_account` and the Simkl emulator.
"""

from __future__ import annotations

import calendar
import logging
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.adapters.kodi import KodiAdapter
from bridge.adapters.kodi.api import RpcError
from bridge.adapters.kodi.library import library_item
from bridge.config import KodiHost
from bridge.item import Ids, Kind, Numbering
from bridge.library import LibraryItem
from bridge.outbox import Outbox
from bridge.sync.baseline import Baseline
from bridge.sync.plan import Options
from bridge.sync.runner import sync_account
from bridge.times import iso
from bridge.writes import HISTORY
from tests.adapters.kodi.real import KODI_TZ, eventually, kodi, real_kodi  # noqa: F401 - fixtures
from tests.adapters.kodi.standin import KODI_OFFSET, Library, scripted  # noqa: F401 - fixtures
from tests.conftest import make_client


def utc(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S")))


def movie(movieid: int, title: str, uniqueid: dict[str, str], playcount: int = 0, lastplayed: str = "") -> dict[str, Any]:
    return {"movieid": movieid, "label": title, "title": title, "year": 1999, "imdbnumber": next(iter(uniqueid.values()), ""),
            "uniqueid": uniqueid, "playcount": playcount, "lastplayed": lastplayed}


def episode(episodeid: int, tvshowid: int, season: int, number: int, playcount: int = 0, lastplayed: str = "",
            file: str = "") -> dict[str, Any]:
    return {"episodeid": episodeid, "tvshowid": tvshowid, "season": season, "episode": number, "title": f"E{number}",
            "showtitle": "", "label": f"{season}x{number:02d}", "uniqueid": {}, "playcount": playcount,
            "lastplayed": lastplayed, "file": file or f"/tv/{tvshowid}/{season}x{number}.mkv"}


SHOWS = [{"tvshowid": 1, "title": "Breaking Bad", "year": 2008, "imdbnumber": "81189",
          "uniqueid": {"tvdb": "81189", "tmdb": "1396", "imdb": "tt0903747"}},
         {"tvshowid": 2, "title": "Cowboy Bebop", "year": 1998, "imdbnumber": "23", "uniqueid": {"anidb": "23"}},
         {"tvshowid": 3, "title": "Home Videos", "year": 1970, "imdbnumber": "", "uniqueid": {}}]


def library() -> Library:
    movies = [movie(1, "The Matrix", {"tmdb": "603", "imdb": "tt0133093"}, 2, "2024-03-01 20:00:00"),
              movie(2, "Inception", {"imdb": "tt1375666"}),
              movie(3, "Holiday 2019", {})]
    episodes = [episode(10, 1, 1, 1, 1, "2024-05-31 23:30:00"),
                episode(11, 1, 1, 2, 1, "2024-05-31 23:30:00", file="/tv/bb/S01E02-E03.mkv"),  # one file, two episodes
                episode(12, 1, 1, 3, 1, "2024-05-31 23:30:00", file="/tv/bb/S01E02-E03.mkv"),
                episode(20, 2, 1, 5),
                episode(30, 3, 1, 1, 1, "2024-01-01 10:00:00")]
    return Library(movies, episodes, SHOWS)


def started(scripted, lib: Library, page: int = 2) -> tuple[Any, KodiAdapter]:
    kodi, adapter, _ = scripted()
    kodi.library = lib.handlers()
    adapter._library.page = page
    eventually(adapter.supervisor.connected.is_set, "the adapter to connect")
    return kodi, adapter


def by_ref(entries: list[LibraryItem]) -> dict[str, LibraryItem]:
    return {e.ref: e for e in entries}


# -- reading ---------------------------------------------------------------------------------------


def test_the_library_is_read_page_by_page_with_every_item_watched_or_not(scripted) -> None:
    kodi, adapter = started(scripted, library(), page=2)
    entries = adapter.read_library()
    assert sorted(by_ref(entries)) == ["episode:10", "episode:11", "episode:12", "episode:20", "episode:30",
                                       "movie:1", "movie:2", "movie:3"]
    pages = [(r["method"].split(".")[1], r["params"]["limits"]) for r in kodi.fake.requests
             if r["method"] in ("VideoLibrary.GetMovies", "VideoLibrary.GetEpisodes", "VideoLibrary.GetTVShows")]
    assert pages == [("GetTVShows", {"start": 0, "end": 2}), ("GetTVShows", {"start": 2, "end": 4}),
                     ("GetMovies", {"start": 0, "end": 2}), ("GetMovies", {"start": 2, "end": 4}),
                     ("GetEpisodes", {"start": 0, "end": 2}), ("GetEpisodes", {"start": 2, "end": 4}),
                     ("GetEpisodes", {"start": 4, "end": 6})]
    assert all("sort" not in r["params"] for r in kodi.fake.requests if "limits" in r.get("params", {}))


def test_items_are_mapped_like_live_plays_with_dates_in_kodis_zone(scripted) -> None:
    _, adapter = started(scripted, library())
    got = by_ref(adapter.read_library())
    matrix = got["movie:1"]
    assert (matrix.item.kind, matrix.item.ids, matrix.title, matrix.year) == (Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093"),
                                                                              "The Matrix", 1999)
    # 20:00 on a clock 3.5 h behind UTC is 23:30 UTC; the count of 2 is one watched item, not two.
    assert matrix.watched and matrix.watched_at == utc("2024-03-01 23:30:00")
    assert not got["movie:2"].watched and got["movie:2"].watched_at is None
    first = got["episode:10"]
    assert first.item.ids == Ids(tvdb=81189, tmdb=1396, imdb="tt0903747")  # the show's ids, as a play sends them
    assert (first.item.numbering, first.item.season, first.item.episodes) == (Numbering.TV, 1, (1,))
    assert (first.title, first.year, first.watched_at) == ("Breaking Bad", 2008, utc("2024-06-01 03:00:00"))
    # A two-episode file is two library episodes in Kodi: two items, each its own number.
    assert [got[f"episode:{n}"].item.episodes for n in (11, 12)] == [(2,), (3,)]
    bebop = got["episode:20"]
    assert (bebop.item.ids, bebop.item.numbering, bebop.watched) == (Ids(anidb=23), Numbering.ANIDB, False)


def test_items_without_ids_are_returned_with_none_for_the_matching_report(scripted) -> None:
    _, adapter = started(scripted, library())
    got = by_ref(adapter.read_library())
    home, holiday = got["episode:30"], got["movie:3"]
    assert not home.item.ids and not holiday.item.ids
    assert (home.label, home.watched, holiday.label) == ("Home Videos S01E01", True, "Holiday 2019")


@pytest.mark.parametrize("obj", [
    {"movieid": 4, "title": "Odd", "uniqueid": ["tmdb", "603"], "playcount": "2", "lastplayed": 17},
    {"movieid": "4", "uniqueid": {"tmdb": "x"}, "playcount": -1, "year": "1999"},
    {},
])
def test_a_malformed_movie_is_an_unwatched_item_without_ids(obj) -> None:
    entry = library_item(obj, "movie", None, KODI_OFFSET)
    assert not entry.item.ids and not entry.watched and entry.watched_at is None


def test_an_episode_of_a_show_missing_from_the_list_is_without_ids() -> None:
    entry = library_item(episode(40, 99, 2, 4, 1, "2024-01-01 00:00:00") | {"uniqueid": {"tvdb": "5"}}, "episode", None, 0)
    assert not entry.item.ids and (entry.item.season, entry.item.episodes, entry.watched) == (2, (4,), True)


def test_a_movie_added_while_the_library_is_paged_leaves_no_item_twice(scripted) -> None:
    lib = library()
    real = lib.handlers()["VideoLibrary.GetMovies"]

    def growing(params):
        if params["limits"]["start"] == 2:  # a scan adds a movie at the front between two pages
            lib.lists["movies"].insert(0, movie(9, "New", {"tmdb": "27205"}))
        return real(params)

    kodi, adapter = started(scripted, lib)
    kodi.library["VideoLibrary.GetMovies"] = growing
    movies = [e.ref for e in adapter.read_library() if e.item.kind is Kind.MOVIE]
    assert sorted(movies) == ["movie:1", "movie:2", "movie:3"]  # movie:2 came back on the second page


def test_a_page_kodi_refuses_fails_the_whole_read(scripted) -> None:
    kodi, adapter = started(scripted, library())
    real = kodi.library["VideoLibrary.GetEpisodes"]
    kodi.library["VideoLibrary.GetEpisodes"] = lambda p: None if p["limits"]["start"] == 2 else real(p)
    with pytest.raises(RpcError, match="GetEpisodes: Kodi error"):
        adapter.read_library()


# -- writing ---------------------------------------------------------------------------------------


def test_marks_set_playcount_and_lastplayed_in_kodis_zone(scripted) -> None:
    lib = library()
    kodi, adapter = started(scripted, lib)
    got = by_ref(adapter.read_library())
    done = adapter.mark_watched([(got["movie:2"], utc("2024-02-10 12:00:00")), (got["episode:20"], None)])
    assert done == 2
    assert (lib.find("movie", 2)["playcount"], lib.find("movie", 2)["lastplayed"]) == (1, "2024-02-10 08:30:00")
    assert (lib.find("episode", 20)["playcount"], lib.find("episode", 20)["lastplayed"]) == (1, lib.kodi_now)
    sets = [r["params"] for r in kodi.fake.requests if r["method"].startswith("VideoLibrary.Set")]
    assert sets == [{"movieid": 2, "playcount": 1, "lastplayed": "2024-02-10 08:30:00"}, {"episodeid": 20, "playcount": 1}]
    assert by_ref(adapter.read_library())["movie:2"].watched_at == utc("2024-02-10 12:00:00")  # read back the same


def test_a_mark_never_lowers_a_count_kodi_has_since(scripted) -> None:
    lib = library()
    kodi, adapter = started(scripted, lib)
    inception = by_ref(adapter.read_library())["movie:2"]
    lib.find("movie", 2).update(playcount=3, lastplayed="2024-05-01 21:00:00")  # played on Kodi after the read
    assert adapter.mark_watched([(inception, utc("2020-01-01 00:00:00"))]) == 0
    assert (lib.find("movie", 2)["playcount"], lib.find("movie", 2)["lastplayed"]) == (3, "2024-05-01 21:00:00")
    assert not [r for r in kodi.fake.requests if r["method"] == "VideoLibrary.SetMovieDetails"]


def test_a_refused_mark_is_one_line_and_the_rest_carry_on(scripted, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.kodi")
    lib = library()
    lib.refuse.add(("movie", 2))
    _, adapter = started(scripted, lib)
    got = by_ref(adapter.read_library())
    stray = LibraryItem(got["movie:2"].item, False, title="Inception (old plan)", ref="plex:123")
    assert adapter.mark_watched([(got["movie:2"], 1e9), (stray, 1e9), (got["episode:20"], 1e9)]) == 1
    assert lib.find("episode", 20)["playcount"] == 1
    lines = [r.getMessage() for r in caplog.records if "not marked" in r.getMessage()]
    assert len(lines) == 2
    assert "Inception not marked watched" in lines[0] and "Failed to execute method" in lines[0]
    assert "'plex:123' names no Kodi library item" in lines[1]


def test_unwatching_sets_each_items_count_to_zero_and_clears_its_date(scripted) -> None:
    lib = library()
    kodi, adapter = started(scripted, lib)
    got = by_ref(adapter.read_library())
    assert adapter.mark_unwatched([got["movie:1"], got["episode:11"]]) == 2
    assert [(o["playcount"], o["lastplayed"]) for o in (lib.find("movie", 1), lib.find("episode", 11))] == [(0, ""), (0, "")]
    assert lib.find("episode", 12)["playcount"] == 1  # the other episode of the same file stays watched
    sets = [r["params"] for r in kodi.fake.requests if r["method"].startswith("VideoLibrary.Set")]
    assert sets == [{"movieid": 1, "playcount": 0, "lastplayed": ""}, {"episodeid": 11, "playcount": 0, "lastplayed": ""}]


def test_a_kodi_that_goes_away_mid_run_ends_it_with_one_line(scripted, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.kodi")
    lib = library()
    kodi, adapter = started(scripted, lib)
    got = by_ref(adapter.read_library())
    kodi.library["VideoLibrary.GetEpisodeDetails"] = lambda p: kodi.fake.drop()
    marks = [(got["movie:2"], 1e9), (got["episode:20"], 1e9), (got["movie:3"], 1e9)]
    assert adapter.mark_watched(marks) == 1
    (line,) = [r.getMessage() for r in caplog.records if "not marked" in r.getMessage()]
    assert "2 of 3 items not marked watched" in line and "connection lost" in line
    assert lib.find("movie", 3)["playcount"] == 0
    assert [r["method"] for r in kodi.fake.requests].count("VideoLibrary.GetMovieDetails") == 1


# -- a real Kodi -----------------------------------------------------------------------------------


@pytest.fixture
def kodi_library(kodi):
    """The adapter on the real Kodi, its movie and episode unwatched before and after the test."""
    def reset():
        for kind, libid in (("movie", movieid), ("episode", episodeid)):
            kodi.rpc(f"VideoLibrary.Set{kind.title()}Details", {f"{kind}id": libid, "playcount": 0, "lastplayed": ""})

    (movieid,) = [m["movieid"] for m in kodi.rpc("VideoLibrary.GetMovies")["movies"]]
    (episodeid,) = [e["episodeid"] for e in kodi.rpc("VideoLibrary.GetEpisodes")["episodes"]]
    reset()
    adapter = KodiAdapter(KodiHost(name="lr", port=kodi.tcp_port, http_port=kodi.http_port, user="alice"))
    adapter.start(lambda event: None)
    eventually(adapter.supervisor.connected.is_set, "the adapter to connect")
    yield adapter, movieid, episodeid
    adapter.stop()
    reset()


def kodi_local(ts: float) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(KODI_TZ)).strftime("%Y-%m-%d %H:%M:%S")


def days_ago(days: float) -> float:
    """A whole second about `days` ago on which Kodi's zone is as far from UTC as it is now. Kodi's
    clock shows one offset, today's; a date across a DST change is read an hour off (see report)."""
    zone, now = ZoneInfo(KODI_TZ), int(time.time())
    today = datetime.fromtimestamp(now, zone).utcoffset()
    back = int(days * 86400)
    while datetime.fromtimestamp(now - back, zone).utcoffset() != today:
        back += 86400
    return float(now - back)


def kodi_state(kodi, kind: str, libid: int) -> tuple[int, str]:
    found = kodi.rpc(f"VideoLibrary.Get{kind.title()}Details", {f"{kind}id": libid, "properties": ["playcount", "lastplayed"]})
    details = found[f"{kind}details"]
    return details["playcount"], details["lastplayed"]


@real_kodi
def test_a_real_kodis_library_is_read_with_its_watched_state_and_dates(kodi, kodi_library) -> None:
    adapter, movieid, episodeid = kodi_library
    adapter._library.page = 1  # one item per request: the paging ends where Kodi's list does
    watched_at = days_ago(40)
    kodi.rpc("VideoLibrary.SetEpisodeDetails", {"episodeid": episodeid, "playcount": 2, "lastplayed": kodi_local(watched_at)})
    got = by_ref(adapter.read_library())
    assert sorted(got) == [f"episode:{episodeid}", f"movie:{movieid}"]
    matrix, episode_ = got[f"movie:{movieid}"], got[f"episode:{episodeid}"]
    assert matrix.item.ids == Ids(tmdb=603, imdb="tt0133093") and not matrix.watched and matrix.watched_at is None
    assert episode_.item.ids == Ids(tvdb=81189, tmdb=1396, imdb="tt0903747")
    assert (episode_.item.season, episode_.item.episodes, episode_.title) == (1, (2,), "Test Show")
    assert episode_.episode_ids == Ids(tvdb=349232, tmdb=62086, imdb="tt1054724")
    # Kodi wrote it in its own zone, 3.5 h (2.5 h in summer) west of UTC, not this machine's.
    assert episode_.watched and episode_.watched_at == watched_at


@real_kodi
def test_simkls_watches_are_marked_on_a_real_kodi_by_a_sync(kodi, kodi_library, emulator, tmp_path) -> None:
    adapter, movieid, episodeid = kodi_library
    now = time.time()
    movie_at, episode_at = days_ago(400), days_ago(2)
    simkl = make_client(emulator)
    simkl.add_history({"movies": [{"ids": {"tmdb": 603}, "watched_at": iso(movie_at)}],
                       "shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [
                           {"number": 2, "watched_at": iso(episode_at)}]}]}]})
    box, base = Outbox(tmp_path / "outbox.sqlite"), Baseline(tmp_path / "sync.sqlite")
    report = sync_account("alice", simkl, base, box, [(adapter, Options(from_simkl=True))], now=now)
    marks = [(a.entry.ref, a.watched_at) for a in report.plans[adapter.name].actions]
    assert sorted(marks) == sorted([(f"movie:{movieid}", movie_at), (f"episode:{episodeid}", episode_at)])
    assert kodi_state(kodi, "movie", movieid) == (1, kodi_local(movie_at))
    assert kodi_state(kodi, "episode", episodeid) == (1, kodi_local(episode_at))
    assert box.due("alice", 1e12, kind=HISTORY) == []  # Simkl had them already: nothing to add back
    # The next sync finds nothing to do on either side.
    again = sync_account("alice", simkl, base, box, [(adapter, Options(from_simkl=True))], now=now + 60)
    assert not again.plans[adapter.name].actions
    # Read back from Kodi, the marks are the dates Simkl holds.
    got = by_ref(adapter.read_library())
    assert (got[f"movie:{movieid}"].watched_at, got[f"episode:{episodeid}"].watched_at) == (movie_at, episode_at)
