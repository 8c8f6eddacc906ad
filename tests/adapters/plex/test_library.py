"""Plex's library for the sync: read page by page outside excluded libraries, mapped like live plays
(new-agent, legacy and HAMA GUIDs, anime numbering, multi-episode files), dated by the owner's plays
in the server's history, and Simkl's watched state written back per item with Plex's own
scrobble/unscrobble. Against the Plex stand-in, then with `sync_account` and the Simkl emulator.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from bridge.adapters.plex.adapter import NotTheOwner
from bridge.adapters.plex.api import ERRORS
from bridge.item import Ids, Kind, Numbering
from bridge.library import LibraryItem
from bridge.outbox import Outbox
from bridge.sender import Sender
from bridge.sync.baseline import Baseline
from bridge.sync.plan import Options
from bridge.sync.runner import sync_account
from bridge.times import iso
from bridge.writes import HISTORY
from tests.adapters.plex.helpers import adapter_for, office_season_3
from tests.adapters.plex.standin import TOKEN, PlexStandIn
from tests.conftest import make_client

T = 1_700_000_000
DAY = 86_400


def owners(plex: PlexStandIn, page: int = 2, **cfg: Any) -> Any:
    """An adapter with the owner's (the stand-in's) token whose library the sync takes: resume_user is
    the owner, alice."""
    adapter = adapter_for(plex, **{"resume_user": "alice", **cfg})
    adapter._library.page = page
    return adapter


def read(plex: PlexStandIn, page: int = 2, **cfg: Any) -> tuple[Any, dict[str, LibraryItem]]:
    adapter = owners(plex, page, **cfg)
    return adapter, {e.ref: e for e in adapter.read_library()}


def mark_by_hand(plex: PlexStandIn, key: str) -> None:
    """A person marks the item played in Plex Web (the same request plexapi's markPlayed makes)."""
    reply = requests.get(f"{plex.url}/:/scrobble", params={"key": key, "identifier": "com.plexapp.plugins.library"},
                         headers={"X-Plex-Token": TOKEN}, timeout=5)
    assert reply.status_code == 200


def on_route(plex: PlexStandIn, pattern: str, wrap: Any) -> None:
    """Put `wrap(real_handler)` in place of the stand-in's handler of `pattern`."""
    (route,) = [r for r in plex.routes if r.pattern.pattern == pattern]
    route.handler = wrap(route.handler)


def listing_requests(plex: PlexStandIn) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(r.path, r.query.get("type"), r.headers.get("x-plex-container-start"), r.headers.get("x-plex-container-size"))
            for r in plex.requests if r.path.startswith("/library/sections/")]


# -- reading ---------------------------------------------------------------------------------------


def test_every_movie_and_episode_is_read_page_by_page_outside_excluded_libraries(plex) -> None:
    office_season_3(plex)
    _, got = read(plex, page=2)
    assert sorted(got) == ["100", "202", "203", "305", "503", "540", "541", "542", "600"]  # not 400 (Home Videos)
    assert listing_requests(plex) == [
        ("/library/sections/1/all", "1", "0", "2"),
        ("/library/sections/2/all", "2", "0", "2"),
        ("/library/sections/2/all", "4", "0", "2"), ("/library/sections/2/all", "4", "2", "2"),
        ("/library/sections/2/all", "4", "4", "2"),
        ("/library/sections/4/all", "2", "0", "2"), ("/library/sections/4/all", "4", "0", "2")]
    assert all(r.query.get("includeGuids") == "1" and "sort" not in r.query
               for r in plex.requests if r.path.startswith("/library/sections/"))


def test_items_are_mapped_like_live_plays_whatever_their_guid(plex) -> None:
    _, got = read(plex)
    matrix = got["100"]  # a new agent's movie: its Guid list
    assert (matrix.item.kind, matrix.item.ids, matrix.title, matrix.year) == (Kind.MOVIE, Ids(imdb="tt0133093", tmdb=603),
                                                                              "The Matrix", 1999)
    bb = got["202"]  # a legacy TheTVDB episode: the show's id and the numbers in its guid
    assert (bb.item.ids, bb.item.numbering, bb.item.season, bb.item.episodes) == (Ids(tvdb=81189), Numbering.TV, 1, (2,))
    assert (bb.title, bb.year) == ("Breaking Bad", 2008)
    office = got["503"]  # a new agent's episode: the show's Guid list, its own as episode ids
    assert (office.item.ids, office.episode_ids, office.item.season, office.item.episodes) == (
        Ids(tvdb=73244, tmdb=2316), Ids(tvdb=300000), 1, (3,))
    bebop = got["305"]  # HAMA's anidb mode: AniDB's own numbering
    assert (bebop.item.ids, bebop.item.numbering, bebop.item.episodes) == (Ids(anidb=23), Numbering.ANIDB, (5,))
    holiday = got["600"]  # local://: returned without ids, for the matching report
    assert not holiday.item.ids and holiday.label == "Holiday 2023"
    assert not any(e.watched for e in got.values())


def test_watched_dates_are_the_owners_plays_in_history_before_lastviewedat(plex) -> None:
    plex.clock = lambda: T
    plex.view("100", T - 400 * DAY)
    mark_by_hand(plex, "100")  # marked played again a year later: lastViewedAt moves, the history keeps the play
    mark_by_hand(plex, "202")  # only ever marked: no history row, lastViewedAt is all there is
    plex.view("305", T - 10 * DAY)
    plex.view("305", T - 3 * DAY)
    plex.view("503", T - DAY, account=2)  # bob's play: not the owner's state, not the owner's date
    _, got = read(plex)
    assert plex.items["100"]["lastViewedAt"] == T
    assert (got["100"].watched, got["100"].watched_at) == (True, T - 400 * DAY)
    assert (got["202"].watched, got["202"].watched_at) == (True, T)
    assert (got["305"].watched, got["305"].watched_at) == (True, T - 3 * DAY)
    assert (got["503"].watched, got["503"].watched_at) == (False, None)
    (history,) = [r for r in plex.requests if r.path == "/status/sessions/history/all"][:1]
    assert (history.query.get("accountID"), history.query.get("sort")) == ("1", "viewedAt:desc")


def test_without_the_history_the_dates_are_lastviewedat(plex, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    plex.view("100", T - 400 * DAY)
    plex.items["100"]["lastViewedAt"] = T
    plex.refusing.add("/status/sessions/history/all")  # a token that may not read it
    _, got = read(plex)
    assert (got["100"].watched, got["100"].watched_at) == (True, T)
    assert any("play history is not readable" in r.getMessage() for r in caplog.records)


def test_one_episode_of_a_multi_episode_file_watched_is_every_episode_in_it(plex) -> None:
    office_season_3(plex)
    plex.view("540", T - 5 * DAY)  # Plex counts the play on the episode that was chosen
    _, got = read(plex)
    ten, eleven, twelve = got["540"], got["541"], got["542"]
    assert [(e.item.season, e.item.episodes, e.watched, e.watched_at) for e in (ten, eleven, twelve)] == [
        (3, (10,), True, T - 5 * DAY), (3, (11,), True, T - 5 * DAY), (3, (12,), False, None)]
    assert (ten.episode_ids, eleven.episode_ids) == (Ids(tvdb=3000540), Ids(tvdb=3000541))


def test_an_episode_added_while_the_library_is_paged_is_read_once(plex) -> None:
    office_season_3(plex)

    def growing(real):
        def handler(req):
            if req.query.get("type") == "4" and req.headers.get("x-plex-container-start") == "2":
                plex.add("543", "episode", "Traveling Salesmen", "2", "plex://episode/543", ("tvdb://3000543",),
                         parentIndex=3, index=13, grandparentRatingKey="500")
                plex.items = {"543": plex.items.pop("543"), **plex.items}  # listed first: pushes the rest on
            return real(req)
        return handler

    on_route(plex, r"/library/sections/(\d+)/all", growing)
    adapter = owners(plex)
    refs = [e.ref for e in adapter.read_library() if e.item.kind is Kind.EPISODE]
    assert sorted(refs) == sorted(set(refs))
    assert {"202", "203", "503", "540", "541", "542", "305"} <= set(refs)


def test_a_page_the_server_fails_fails_the_whole_read(plex) -> None:
    def failing_second_page(real):
        return lambda req: (500, "<html/>") if req.headers.get("x-plex-container-start") == "2" else real(req)

    on_route(plex, r"/library/sections/(\d+)/all", failing_second_page)
    adapter = owners(plex)
    with pytest.raises(ERRORS, match="500"):
        adapter.read_library()


def test_an_item_whose_attributes_do_not_parse_is_returned_without_ids(plex) -> None:
    plex.add("700", "movie", "Odd", "1", "com.plexapp.agents.imdb://tt0133093", year="19x9", viewCount=1, lastViewedAt=T)
    _, got = read(plex)
    odd = got["700"]
    assert not odd.item.ids and (odd.watched, odd.watched_at, odd.title) == (True, T, "Odd")


def test_the_library_is_the_owners_and_offered_for_the_owners_account_only(plex, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    assert adapter_for(plex).library() is None  # no resume_user: nobody's to sync
    by_email = adapter_for(plex, resume_user="alice@example.com")
    assert by_email.library() is by_email and by_email.resume_owner() == ("plex", "home", "alice")
    bob = adapter_for(plex, resume_user="bob")  # bob's watched state needs bob's own token
    with pytest.raises(NotTheOwner, match=r"resume_user 'bob' is not the server's owner 'alice'.*bob's needs their own"):
        bob.read_library()
    _, got = read(plex)
    assert bob.mark_watched([(got["100"], T)]) == 0 and bob.mark_unwatched([got["100"]]) == 0
    assert "viewCount" not in plex.items["100"]
    assert [r.getMessage() for r in caplog.records if "not marked" in r.getMessage()] == [
        "plex/home: 1 items not marked watched: resume_user 'bob' is not the server's owner 'alice': this token "
        "reads and marks the owner's library; bob's needs their own token, in a server entry of its own",
        "plex/home: 1 items not marked unwatched: resume_user 'bob' is not the server's owner 'alice': this token "
        "reads and marks the owner's library; bob's needs their own token, in a server entry of its own"]


# -- writing ---------------------------------------------------------------------------------------


def scrobbles(plex: PlexStandIn) -> list[tuple[str, dict[str, str]]]:
    return [(r.path, dict(r.query)) for r in plex.requests if r.path in ("/:/scrobble", "/:/unscrobble")]


def test_marks_scrobble_each_item_and_plex_dates_them_now(plex, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    plex.clock = lambda: T
    adapter, got = read(plex)
    assert adapter.mark_watched([(got["100"], T - 100 * DAY), (got["503"], None)]) == 2
    ident = "com.plexapp.plugins.library"
    assert scrobbles(plex) == [("/:/scrobble", {"key": "100", "identifier": ident}),
                               ("/:/scrobble", {"key": "503", "identifier": ident})]
    assert [(plex.items[k]["viewCount"], plex.items[k]["lastViewedAt"]) for k in ("100", "503")] == [(1, T), (1, T)]
    assert plex.history == []
    again = {e.ref: e for e in adapter.read_library()}
    assert (again["100"].watched, again["100"].watched_at) == (True, T)  # the date of the mark: Plex takes no other
    assert any("cannot set a view's date" in r.getMessage() for r in caplog.records)


def test_an_item_watched_on_plex_since_the_read_is_not_marked_again(plex) -> None:
    adapter, got = read(plex)
    plex.view("100", T - DAY)  # played on Plex after the read
    assert adapter.mark_watched([(got["100"], T - 100 * DAY)]) == 0
    assert (plex.items["100"]["viewCount"], plex.items["100"]["lastViewedAt"]) == (1, T - DAY)
    assert scrobbles(plex) == []
    assert [r.path for r in plex.requests if r.path.startswith("/library/metadata/")] == ["/library/metadata/100"]


def test_a_failed_mark_is_one_line_and_the_rest_carry_on(plex, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    adapter, got = read(plex)
    del plex.items["503"]  # deleted from Plex since the read
    stray = LibraryItem(got["100"].item, False, title="The Matrix (old plan)", ref="movie:1")

    def refusing_100(real):
        return lambda req: (500, "<html/>") if req.query.get("key") == "100" else real(req)

    on_route(plex, r"/:/scrobble", refusing_100)
    marks = [(got["100"], T), (got["503"], T), (stray, T), (got["305"], T)]
    assert adapter.mark_watched(marks) == 1
    assert plex.items["305"]["viewCount"] == 1
    lines = [r.getMessage() for r in caplog.records if "not marked" in r.getMessage()]
    assert len(lines) == 3
    assert "The Matrix (plex item 100) not marked watched" in lines[0] and "(500)" in lines[0]
    assert "The Office S01E03 (plex item 503) not marked watched: not on the server any more" in lines[1]
    assert "'movie:1' names no Plex item" in lines[2]


def test_unwatching_unscrobbles_each_item_and_never_its_file_mates(plex) -> None:
    office_season_3(plex)
    plex.view("100", T - DAY)
    plex.view("540", T - DAY)
    plex.view("541", T - DAY)
    adapter, got = read(plex)
    assert adapter.mark_unwatched([got["100"], got["540"]]) == 2
    assert [k for k in ("100", "540", "541") if "viewCount" in plex.items[k]] == ["541"]
    assert [(path, q["key"]) for path, q in scrobbles(plex)] == [("/:/unscrobble", "100"), ("/:/unscrobble", "540")]


def test_a_plex_that_goes_away_mid_run_ends_it_with_one_line(plex, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    adapter, got = read(plex)

    def going_away(real):
        def handler(req):
            reply = real(req)
            plex.stop()  # the first mark is answered, then the server is gone
            return reply
        return handler

    on_route(plex, r"/:/scrobble", going_away)
    adapter.api.client()._session.headers["Connection"] = "close"  # no kept-alive socket outlives the server
    assert adapter.mark_watched([(got["100"], T), (got["503"], T), (got["305"], T)]) == 1
    (line,) = [r.getMessage() for r in caplog.records if "not marked" in r.getMessage()]
    assert "2 of 3 items not marked watched" in line


# -- with Simkl ------------------------------------------------------------------------------------


def watches(emulator) -> list[tuple[str, str, str]]:
    return sorted((w["title"], w["label"], w["watched_at"]) for w in emulator.state()["users"]["alice"]["watches"])


def test_a_sync_adds_plex_plays_with_their_real_dates_and_a_re_run_adds_nothing(plex, emulator, tmp_path) -> None:
    plex.clock = lambda: T
    plex.view("100", T - 400 * DAY)
    plex.view("202", T - 30 * DAY)
    mark_by_hand(plex, "202")  # the season marked played since: the history keeps the viewing's date
    plex.view("400", T - 2 * DAY)  # Back to the Future, in the excluded Home Videos
    adapter = owners(plex)
    simkl, box, base = make_client(emulator), Outbox(tmp_path / "outbox.sqlite"), Baseline(tmp_path / "sync.sqlite")
    first = sync_account("alice", simkl, base, box, [(adapter, Options())], now=T)
    assert first.queued == 2
    assert Sender(box, lambda account: simkl).flush_once().sent == 2
    assert watches(emulator) == [("Breaking Bad", "S01E02", iso(T - 30 * DAY)), ("The Matrix", "", iso(T - 400 * DAY))]
    again = sync_account("alice", simkl, base, box, [(adapter, Options())], now=T + 3600)
    assert again.queued == 0 and not again.plans[adapter.name].actions
    assert box.due("alice", 1e12, kind=HISTORY) == []
    assert len(watches(emulator)) == 2


def test_a_watch_on_simkl_is_marked_on_plex_by_a_sync(plex, emulator, tmp_path) -> None:
    plex.clock = lambda: T
    simkl = make_client(emulator)
    simkl.add_history({"shows": [{"ids": {"tvdb": 73244}, "seasons": [{"number": 1, "episodes": [
        {"number": 3, "watched_at": iso(T - 7 * DAY)}]}]}]})
    adapter = owners(plex)
    box, base = Outbox(tmp_path / "outbox.sqlite"), Baseline(tmp_path / "sync.sqlite")
    report = sync_account("alice", simkl, base, box, [(adapter, Options(from_simkl=True))], now=T)
    assert [(a.entry.ref, a.watched_at) for a in report.plans[adapter.name].actions] == [("503", T - 7 * DAY)]
    assert (plex.items["503"]["viewCount"], plex.items["503"]["lastViewedAt"]) == (1, T)  # dated by Plex: now
    assert box.due("alice", 1e12, kind=HISTORY) == []  # Simkl had it: nothing goes back
    again = sync_account("alice", simkl, base, box, [(adapter, Options(from_simkl=True))], now=T + 60)
    assert not again.plans[adapter.name].actions
