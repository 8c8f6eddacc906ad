"""Jellyfin's library for the sync: the configured user's movies and episodes read page by page from
the stand-in (which answers as 10.8, 10.10 and 10.11 do, see standin.py), mapped like live plays,
and Simkl's watched state written back with its date on each version's route; then `sync_account`
with the Simkl emulator reading the stand-in's library."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge.adapters.jellyfin.api import JellyfinError
from bridge.adapters.jellyfin.library import library_entries
from bridge.item import Ids, Kind, Numbering
from bridge.library import LibraryItem
from bridge.outbox import Outbox
from bridge.sender import Sender
from bridge.sync.baseline import Baseline
from bridge.sync.plan import Options
from bridge.sync.runner import sync_account
from bridge.times import iso
from bridge.writes import HISTORY
from tests.adapters.jellyfin.helpers import adapter_for
from tests.adapters.jellyfin.standin import ALICE, BOB, TICKS, VERSIONS, JellyfinStandIn, stamp
from tests.conftest import make_client

T = 1_717_200_000.0  # 2024-06-01 00:00 UTC
DAY = 86400.0
MATRIX_AT, BB_AT, HOME_AT = T - 400 * DAY, T - 30 * DAY, T - 9 * DAY
every_version = pytest.mark.parametrize("jf", VERSIONS, indirect=True)


def watched(jf: JellyfinStandIn, item_id: str, at: float, count: int = 1, user: str = ALICE) -> None:
    jf.data(user, item_id).update(Played=True, PlayCount=count, LastPlayedDate=stamp(at))


@pytest.fixture
def jf(request):
    """Alice's server: Movies, Shows, Anime and Kids libraries, some of it watched."""
    with JellyfinStandIn(getattr(request, "param", VERSIONS[-1])) as server:
        s = server
        s.matrix = s.add_movie("The Matrix", {"Tmdb": "603", "Imdb": "tt0133093"}, year=1999)
        s.inception = s.add_movie("Inception", {"Imdb": "tt1375666"}, year=2010)
        s.holiday = s.add_movie("Holiday 2019", {})
        s.interstellar = s.add_movie("Interstellar", {"Tmdb": "157336"}, year=2014)
        s.frozen = s.add_movie("Frozen", {"Tmdb": "109445"}, library="Kids")
        s.bb = s.add_series("Breaking Bad", {"Tvdb": "81189", "Tmdb": "1396", "Imdb": "tt0903747"})
        s.bb1 = s.add_episode(s.bb, 1, 1, {"Tvdb": "349238"})
        s.bb2 = s.add_episode(s.bb, 1, 2, {"Tvdb": "349232"}, number_end=3)  # one file, two episodes
        s.bb4 = s.add_episode(s.bb, 1, 4, {"Tvdb": "349236"}, missing=True)
        s.bebop = s.add_series("Cowboy Bebop", {"AniDB": "23"}, year=1998, library="Anime")
        s.bebop5 = s.add_episode(s.bebop, 1, 5)
        s.home = s.add_series("Home Videos", {}, year=1970)
        s.home1 = s.add_episode(s.home, 1, 1)
        watched(s, s.matrix, MATRIX_AT, count=2)
        watched(s, s.holiday, HOME_AT)
        watched(s, s.frozen, HOME_AT)
        watched(s, s.bb1, BB_AT)
        watched(s, s.bb2, BB_AT)
        watched(s, s.home1, HOME_AT)
        # Started and stopped halfway: a play counted, not played.
        s.data(ALICE, s.interstellar).update(PlayCount=1, PlaybackPositionTicks=3000 * TICKS, LastPlayedDate=stamp(T))
        yield server


def library_of(jf: JellyfinStandIn, page: int = 2, **settings: Any):
    adapter = adapter_for(jf, user=settings.pop("user", "alice"), **settings)
    adapter.page = page
    return adapter


def by_ref(entries: list[LibraryItem]) -> dict[str, list[LibraryItem]]:
    out: dict[str, list[LibraryItem]] = {}
    for e in entries:
        out.setdefault(e.ref, []).append(e)
    return out


def one(entries: list[LibraryItem], ref: str) -> LibraryItem:
    (entry,) = by_ref(entries)[ref]
    return entry


def item_requests(jf: JellyfinStandIn) -> list[dict[str, str]]:
    return [r.query for r in jf.server.requests if r.path == "/Items"]


def on_route(jf: JellyfinStandIn, method: str, pattern: str, wrap: Any) -> None:
    """Put `wrap(real_handler)` in place of the stand-in's handler of `pattern`."""
    (route,) = [r for r in jf.server.routes if r.method == method and r.pattern.pattern == pattern]
    route.handler = wrap(route.handler)


def gone_at(jf: JellyfinStandIn, calls: list[str], at: int) -> Any:
    """A wrap for `on_route`: each request is noted in `calls`, and the `at`-th finds the server gone
    (stopped, its connection closed unanswered)."""
    def wrap(handler: Any) -> Any:
        def answer(req: Any) -> Any:
            calls.append(req.path)
            if len(calls) == at:
                jf.server.stop()
                raise ConnectionError("the server went away")
            return handler(req)
        return answer
    return wrap


# -- reading ---------------------------------------------------------------------------------------


@every_version
def test_the_users_library_is_read_page_by_page_but_the_excluded_one(jf) -> None:
    entries = library_of(jf, exclude_libraries=["kids"]).read_library()
    assert sorted(by_ref(entries)) == sorted([jf.matrix, jf.inception, jf.holiday, jf.bb1, jf.bb2, jf.bebop5, jf.home1])
    listings = [q for q in item_requests(jf) if q.get("userId") == ALICE]
    assert [(q["IncludeItemTypes"], q["StartIndex"], q["EnableTotalRecordCount"]) for q in listings] == [
        ("Series", "0", "true"), ("Series", "2", "false"),
        *[("Movie,Episode", str(n), "true" if n == 0 else "false") for n in range(0, 10, 2)]]
    assert all((q["Limit"], q["Recursive"], q["SortBy"], q["CollapseBoxSetItems"], q["ExcludeLocationTypes"]) ==
               ("2", "true", "DateCreated,SortName", "false", "Virtual") for q in listings)
    assert "ProviderIds" in listings[-1]["Fields"]
    # Kids' items are listed by the library's own id, without a user, to be left out.
    (kids,) = [q for q in item_requests(jf) if "ParentId" in q]
    assert "userId" not in kids and kids["EnableUserData"] == "false"


def test_items_are_mapped_like_live_plays_with_the_users_dates(jf) -> None:
    entries = library_of(jf).read_library()
    matrix = one(entries, jf.matrix)
    assert (matrix.item.kind, matrix.item.ids, matrix.title, matrix.year) == (Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093"),
                                                                              "The Matrix", 1999)
    assert matrix.watched and matrix.watched_at == MATRIX_AT  # a count of 2 is one watched item
    assert not one(entries, jf.inception).watched and one(entries, jf.inception).watched_at is None
    first = one(entries, jf.bb1)
    assert first.item.ids == Ids(tvdb=81189, tmdb=1396, imdb="tt0903747")  # the series' ids, as a play sends them
    assert (first.item.numbering, first.item.season, first.item.episodes) == (Numbering.TV, 1, (1,))
    assert (first.title, first.year, first.watched_at, first.episode_ids) == ("Breaking Bad", 2008, BB_AT, Ids(tvdb=349238))
    # A two-episode file: two items with the file's Id; its ProviderIds are its first episode's.
    two, three = by_ref(entries)[jf.bb2]
    assert [(e.item.episodes, e.episode_ids, e.watched_at) for e in (two, three)] == [((2,), Ids(tvdb=349232), BB_AT),
                                                                                      ((3,), Ids(), BB_AT)]
    assert two.item.ids == three.item.ids == first.item.ids and two.key != three.key
    bebop = one(entries, jf.bebop5)
    assert (bebop.item.ids, bebop.item.numbering, bebop.watched) == (Ids(anidb=23), Numbering.ANIDB, False)
    assert jf.bb4 not in by_ref(entries)  # a missing episode is no file of the library


def test_items_without_ids_are_returned_for_the_matching_report(jf) -> None:
    entries = library_of(jf).read_library()
    home, holiday = one(entries, jf.home1), one(entries, jf.holiday)
    assert not home.item.ids and not holiday.item.ids
    assert (home.label, home.watched, holiday.label, holiday.watched_at) == ("Home Videos S01E01", True,
                                                                               "Holiday 2019", HOME_AT)


def test_an_item_started_and_not_finished_is_left_as_it_is(jf, caplog) -> None:
    """Jellyfin counts a play at its start and clears Played there: a count without Played is a
    viewing under way (or abandoned), watched before or never. No fact to sync either way."""
    caplog.set_level(logging.INFO, logger="bridge.adapters.jellyfin")
    watched(jf, jf.inception, MATRIX_AT)
    jf.play("s1", ALICE, jf.inception, 60)  # a rewatch starts: Played is cleared
    jf.stop("s1")
    entries = library_of(jf).read_library()
    assert jf.interstellar not in by_ref(entries) and jf.inception not in by_ref(entries)
    assert any("2 started and not finished since, left as they are" in r.getMessage() for r in caplog.records)


def test_a_mapping_that_fails_gives_an_item_without_ids() -> None:
    dto = {"Id": "f" * 32, "Type": "Episode", "SeriesName": "Odd", "ParentIndexNumber": 2, "IndexNumber": 4,
           "IndexNumberEnd": 400, "ProviderIds": {"Tvdb": "5"}, "UserData": {"Played": True, "PlayCount": 1}}
    (entry,) = library_entries(dto, {"ProviderIds": {"Tvdb": "81189"}})
    assert not entry.item.ids and (entry.item.season, entry.item.episodes, entry.watched, entry.title) == (2, (4,), True, "Odd")
    (movie,) = library_entries({"Id": "e" * 32, "Type": "Movie", "ProviderIds": ["tmdb"], "UserData": {}}, None)
    assert (movie.item.kind, movie.item.ids, movie.watched) == (Kind.MOVIE, Ids(), False)
    with pytest.raises(JellyfinError, match="has no UserData"):
        library_entries({"Id": "e" * 32, "Type": "Movie"}, None)


def test_only_the_libraries_the_user_may_see(jf) -> None:
    jf.enabled_folders[BOB] = {"Movies"}
    watched(jf, jf.inception, T - DAY, user=BOB)
    entries = library_of(jf, user="bob").read_library()
    assert sorted(by_ref(entries)) == sorted([jf.matrix, jf.inception, jf.holiday, jf.interstellar])
    assert [e.watched for e in entries if e.ref == jf.inception] == [True] and not one(entries, jf.matrix).watched


def test_an_excluded_name_that_is_no_library_is_said(jf, caplog) -> None:
    entries = library_of(jf, exclude_libraries=["Cartoons"]).read_library()
    assert jf.frozen in by_ref(entries)
    assert any("exclude_libraries names 'cartoons', which is no library" in r.getMessage() for r in caplog.records)


def test_movies_grouped_into_collections_are_still_read_one_by_one(jf) -> None:
    jf.group_into_collections = True
    jf.add_boxset("The Matrix Collection", [jf.matrix, jf.inception])
    entries = library_of(jf).read_library()
    assert {jf.matrix, jf.inception} <= set(by_ref(entries)) and all(e.item.kind is not None for e in entries)


def test_an_item_scanned_in_while_paging_leaves_every_item_once(jf) -> None:
    adapter = library_of(jf)
    real = adapter.api.query_items

    def scan_between_pages(**params: Any):
        if params.get("IncludeItemTypes") == "Movie,Episode" and params["StartIndex"] == 4:
            jf.new = jf.add_movie("Aardvark", {"Tmdb": "1"})  # first by name, last by DateCreated
        return real(**params)

    adapter.api.query_items = scan_between_pages
    refs = [e.ref for e in adapter.read_library()]
    expected = [jf.matrix, jf.inception, jf.holiday, jf.frozen, jf.bb1, jf.bb2, jf.bb2, jf.bebop5, jf.home1]
    # Sorted last, the newcomer shifts no page: it came with the last one, and nothing came twice.
    assert sorted(refs) == sorted([*expected, jf.new])


def test_a_page_the_server_refuses_fails_the_whole_read(jf) -> None:
    def failing(handler):
        return lambda req: (500, b"") if req.query.get("StartIndex") == "4" else handler(req)

    on_route(jf, "GET", "/Items", failing)
    with pytest.raises(JellyfinError, match="GET /Items: HTTP 500"):
        library_of(jf).read_library()


@every_version
def test_a_user_removed_since_fails_the_read_on_every_version(jf) -> None:
    """Each read asks for the user's id anew; one removed while the read runs is caught too: 10.8
    lists items for an unknown userId without UserData (as if no user were given), which read as
    unwatched would be a wiped library, and 10.9+ answer 404."""
    adapter = library_of(jf)
    adapter.users.refresh()
    del jf.users[ALICE]
    with pytest.raises(JellyfinError, match="'alice' is not a user of this server"):
        adapter.read_library()
    jf.users[ALICE] = "alice"
    real = adapter.api.query_items

    def removed_after_the_series(**params: Any):
        if params.get("IncludeItemTypes") == "Movie,Episode":
            jf.users.pop(ALICE, None)
        return real(**params)

    adapter.api.query_items = removed_after_the_series
    with pytest.raises(JellyfinError, match="no UserData" if jf.version == "10.8.13" else "HTTP 404"):
        adapter.read_library()


def test_without_a_configured_user_there_is_no_library_to_read(jf) -> None:
    everyone = library_of(jf, user=None)
    assert everyone.library() is None  # whose watched state would it be?
    with pytest.raises(JellyfinError, match="no `user:` is configured"):
        everyone.read_library()
    with pytest.raises(JellyfinError, match="'carol' is not a user of this server"):
        library_of(jf, user="carol").read_library()


# -- writing ---------------------------------------------------------------------------------------


def played_requests(jf: JellyfinStandIn) -> list[tuple[str, str, dict[str, str]]]:
    return [(r.method, r.path, r.query) for r in jf.server.requests if "PlayedItems" in r.path]


@every_version
def test_marks_carry_simkls_date_on_each_versions_route(jf) -> None:
    adapter = library_of(jf)
    got = adapter.read_library()
    inception, bebop = one(got, jf.inception), one(got, jf.bebop5)
    assert adapter.mark_watched([(inception, T - 3 * DAY + 0.25), (bebop, None)]) == 2
    legacy = jf.version == "10.8.13"
    paths = [(m, p) for m, p, _ in played_requests(jf)]
    assert paths == ([("POST", f"/Users/{ALICE}/PlayedItems/{jf.inception}"), ("POST", f"/Users/{ALICE}/PlayedItems/{jf.bebop5}")]
                     if legacy else [("POST", f"/UserPlayedItems/{jf.inception}"), ("POST", f"/UserPlayedItems/{jf.bebop5}")])
    data = jf.data(ALICE, jf.inception)
    assert (data["Played"], data["PlayCount"], data["LastPlayedDate"]) == (True, 1, stamp(T - 3 * DAY + 0.25))
    assert "datePlayed" not in played_requests(jf)[1][2] and jf.data(ALICE, jf.bebop5)["Played"] is True
    again = library_of(jf).read_library()
    assert one(again, jf.inception).watched_at == T - 3 * DAY + 0.25  # read back: the date Simkl holds


def test_a_multi_episode_file_is_marked_only_with_all_its_episodes(jf, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.jellyfin")
    jf.data(ALICE, jf.bb2).update(Played=False, PlayCount=0)
    del jf.data(ALICE, jf.bb2)["LastPlayedDate"]
    adapter = library_of(jf)
    two, three = by_ref(adapter.read_library())[jf.bb2]
    assert adapter.mark_watched([(two, T - 5 * DAY)]) == 0 and not played_requests(jf)
    assert any("Breaking Bad S01E02 not marked watched: Jellyfin keeps episodes 2-3 as one file" in r.getMessage()
               for r in caplog.records)
    assert adapter.mark_watched([(two, T - 5 * DAY), (three, T - 4 * DAY)]) == 2
    assert len(played_requests(jf)) == 1 and jf.data(ALICE, jf.bb2)["LastPlayedDate"] == stamp(T - 4 * DAY)


def test_an_item_played_on_jellyfin_since_the_read_keeps_its_own_state(jf) -> None:
    adapter = library_of(jf)
    got = adapter.read_library()
    jf.play("s1", ALICE, jf.inception, 60)  # started after the read: a count, its own date
    started = dict(jf.data(ALICE, jf.inception))
    assert adapter.mark_watched([(one(got, jf.inception), T - 100 * DAY)]) == 0
    assert jf.data(ALICE, jf.inception) == started and not played_requests(jf)


def test_a_refused_mark_is_one_line_and_the_rest_carry_on(jf, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.jellyfin")
    adapter = library_of(jf)
    got = adapter.read_library()
    jf.enabled_folders[ALICE] = {"Shows", "Anime"}  # Movies hidden from alice since: 10.9+ refuse her a mark there
    stray = LibraryItem(one(got, jf.inception).item, False, title="Inception (old plan)", ref="movie:2")
    gone = LibraryItem(one(got, jf.bebop5).item, False, title="Cowboy Bebop", ref="c" * 32)
    marks = [(one(got, jf.inception), T), (stray, T), (gone, T), (one(got, jf.bebop5), T)]
    assert adapter.mark_watched(marks) == 1
    assert jf.data(ALICE, jf.bebop5)["Played"] is True
    lines = [r.getMessage() for r in caplog.records if "not marked" in r.getMessage()]
    assert len(lines) == 3
    assert "Inception (old plan) not marked watched: 'movie:2' names no Jellyfin item" in lines[0]
    assert "Inception not marked watched: POST /UserPlayedItems/" in lines[1] and "HTTP 404" in lines[1]
    assert "Cowboy Bebop S01E05 not marked watched: Jellyfin has no item " + "c" * 32 in lines[2]


def test_a_server_that_goes_away_mid_run_ends_it_with_one_line(jf, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.jellyfin")
    adapter = library_of(jf)
    got = adapter.read_library()
    calls: list[str] = []
    on_route(jf, "POST", r"/UserPlayedItems/([\w-]+)", gone_at(jf, calls, 2))
    assert adapter.mark_watched([(one(got, jf.inception), T), (one(got, jf.bebop5), T)]) == 1
    (line,) = [r.getMessage() for r in caplog.records if "not marked" in r.getMessage()]
    assert "1 of 2 items not marked watched" in line and "POST /UserPlayedItems/" in line
    assert len(calls) == 2


@every_version
def test_unwatching_clears_the_count_and_the_date_on_each_versions_route(jf) -> None:
    adapter = library_of(jf)
    got = adapter.read_library()
    watched(jf, jf.bb1, T - DAY, count=3)  # played again since the read: stays watched
    assert adapter.mark_unwatched([one(got, jf.matrix), one(got, jf.bb1)]) == 1
    data = jf.data(ALICE, jf.matrix)
    assert (data["Played"], data["PlayCount"], "LastPlayedDate" in data) == (False, 0, False)
    assert jf.data(ALICE, jf.bb1)["Played"] is True
    (method, path, _), = played_requests(jf)
    assert (method, path) == ("DELETE", f"/Users/{ALICE}/PlayedItems/{jf.matrix}" if jf.version == "10.8.13"
                              else f"/UserPlayedItems/{jf.matrix}")


# -- with Simkl ------------------------------------------------------------------------------------


def watches(emulator) -> list[tuple[str, str, str]]:
    return sorted((w["title"], w["label"], w["watched_at"]) for w in emulator.state()["users"]["alice"]["watches"])


def test_a_sync_adds_jellyfin_plays_with_their_dates_and_marks_simkls_watches_with_simkls(jf, emulator,
                                                                                          tmp_path) -> None:
    simkl = make_client(emulator)
    simkl.add_history({"movies": [{"ids": {"imdb": "tt1375666"}, "watched_at": iso(T - 3 * DAY)}]})
    adapter = library_of(jf, exclude_libraries=["Kids"])
    assert adapter.library() is adapter
    box, base = Outbox(tmp_path / "outbox.sqlite"), Baseline(tmp_path / "sync.sqlite")
    first = sync_account("alice", simkl, base, box, [(adapter, Options(from_simkl=True))], now=T)
    plan = first.plans[adapter.name]
    assert first.queued == 4  # The Matrix, S01E01 and the two episodes of the S01E02-E03 file
    assert sorted(e.label for e, why in plan.skipped) == ["Holiday 2019", "Home Videos S01E01"]
    assert Sender(box, lambda account: simkl).flush_once().sent == 4
    assert watches(emulator) == [("Breaking Bad", f"S01E0{n}", iso(BB_AT)) for n in (1, 2, 3)] + [
        ("Inception", "", iso(T - 3 * DAY)), ("The Matrix", "", iso(MATRIX_AT))]
    # Simkl's Inception, marked on Jellyfin with Simkl's date.
    data = jf.data(ALICE, jf.inception)
    assert data["Played"] is True and data["LastPlayedDate"] == stamp(T - 3 * DAY)
    again = sync_account("alice", simkl, base, box, [(adapter, Options(from_simkl=True))], now=T + 3600)
    assert again.queued == 0 and not again.plans[adapter.name].actions
    assert box.due("alice", 1e12, kind=HISTORY) == [] and len(watches(emulator)) == 5
