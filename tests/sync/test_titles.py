"""Ratings and Plan to Watch synced end to end: a scripted server's titles, the Simkl emulator, the
outbox and the sender, through `sync_account` as the daemon runs it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.item import Ids, Item, Kind
from bridge.library import Title
from bridge.outbox import Outbox
from bridge.sender import Sender
from bridge.simkl.client import AuthError
from bridge.sync.baseline import Baseline
from bridge.sync.plan import Options
from bridge.sync.runner import sync_account
from bridge.sync.titles_plan import TitleOptions
from bridge.times import iso
from tests.conftest import TOKEN, make_client
from tests.sync.simkl_app import phone, ratings

T = 1_700_000_000.0
DAY = 86400.0
MATRIX = Title(Item(Kind.MOVIE, Ids(tmdb=603)), "The Matrix", 1999, "m1")
INCEPTION = Title(Item(Kind.MOVIE, Ids(imdb="tt1375666")), "Inception", 2010, "m2")
INTERSTELLAR = Title(Item(Kind.MOVIE, Ids(tmdb=157336)), "Interstellar", 2014, "m3")
BB = Title(Item(Kind.SHOW, Ids(tvdb=81189)), "Breaking Bad", 2008, "s1")
NEWER = TitleOptions(ratings="newer", lists=frozenset({"plantowatch"}))


class Server:
    """A media server's library (empty: the watched sync is not under test) and its titles."""

    name = "kodi/lounge"

    def __init__(self, *titles: Title):
        self.titles = {t.ref: t for t in titles}
        self.rated: list[tuple[str, int | None]] = []

    def read_library(self):
        return []

    def mark_watched(self, marks):
        return 0

    def mark_unwatched(self, entries):
        return 0

    def read_titles(self, buckets):
        return list(self.titles.values())

    def rate(self, changes):
        for title, rating, at in changes:
            self.rated.append((title.title, rating))
            self.titles[title.ref] = replace(self.titles[title.ref], rating=rating, rated_at=at)
        return len(changes)

    def set_listed(self, bucket, add, remove):
        for title in add:
            self.titles[title.ref] = replace(self.titles[title.ref], listed=self.titles[title.ref].listed | {bucket})
        for title in remove:
            self.titles[title.ref] = replace(self.titles[title.ref], listed=self.titles[title.ref].listed - {bucket})
        return len(add) + len(remove)


class Bridge:
    def __init__(self, emulator, tmp_path, server: Server, options: TitleOptions = NEWER):
        self.simkl, self.server, self.options = make_client(emulator), server, options
        self.box, self.base = Outbox(tmp_path / "outbox.sqlite"), Baseline(tmp_path / "sync.sqlite")
        self.sender = Sender(self.box, lambda account: self.simkl)

    def sync(self, now: float = T):
        report = sync_account("alice", self.simkl, self.base, self.box, [(self.server, Options())], now=now,
                              titles={self.server.name: (self.server, self.options)})
        self.sender.flush_once(now=now + 1)
        return report


def lists(emulator) -> dict[str, str]:
    return emulator.state()["users"]["alice"]["lists"]


def requests_since(emulator, seen: int) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in emulator.requests[seen:]]


def test_a_first_sync_sends_the_servers_ratings_with_their_dates_and_brings_simkls_back(emulator, tmp_path) -> None:
    emulator.add_token(TOKEN, "alice")
    phone(emulator).add_ratings({"movies": [{"ids": {"tmdb": 27205}, "rating": 7, "rated_at": iso(T - 9 * DAY)}]})
    bridge = Bridge(emulator, tmp_path, Server(replace(MATRIX, rating=9, rated_at=T - 100 * DAY), INCEPTION))
    bridge.sync()
    assert ratings(emulator) == {"53992": (9, T - 100 * DAY), "67890": (7, T - 9 * DAY)}
    assert bridge.server.rated == [("Inception", 7)]
    seen = len(emulator.requests)
    bridge.sync(T + 3600)  # the bridge's own rating moved rated_at: at most that delta is read
    bridge.sync(T + 7200)
    later = requests_since(emulator, seen)
    assert [r for r in later if r.startswith("POST")] == [] and bridge.server.rated == [("Inception", 7)]
    assert later[-1] == "GET /sync/activities" and later.count("GET /sync/activities") == 2


def test_a_newer_rating_on_simkl_reaches_the_server_and_the_stale_one_is_never_sent_back(emulator, tmp_path) -> None:
    emulator.add_token(TOKEN, "alice")
    bridge = Bridge(emulator, tmp_path, Server(replace(MATRIX, rating=6)))
    bridge.sync()
    assert ratings(emulator)["53992"][0] == 6
    phone(emulator).add_ratings({"movies": [{"ids": {"simkl": 53992}, "rating": 9}]})  # on the phone
    bridge.sync(T + 3600)
    assert bridge.server.rated == [("The Matrix", 9)] and ratings(emulator)["53992"][0] == 9
    bridge.sync(T + 7200)
    assert bridge.server.rated == [("The Matrix", 9)] and ratings(emulator)["53992"][0] == 9


def test_plan_to_watch_on_the_server_reaches_simkl_and_never_demotes_what_is_further_along(emulator, tmp_path) -> None:
    emulator.add_token(TOKEN, "alice")
    phone(emulator).add_history({"movies": [{"ids": {"tmdb": 603}, "watched_at": iso(T - 5 * DAY)}]})
    listed = frozenset({"plantowatch"})
    server = Server(replace(MATRIX, listed=listed), replace(INTERSTELLAR, listed=listed))
    bridge = Bridge(emulator, tmp_path, server)
    report = bridge.sync()
    assert lists(emulator).get("120405") == "plantowatch"
    status = {e["movie"]["title"]: e["status"] for e in make_client(emulator).get_all_items("movies")["movies"]}
    assert status == {"The Matrix": "completed", "Interstellar": "plantowatch"}
    assert [why for _, why in report.titles[server.name].skipped] == [
        "put on the server's Plan to Watch, but completed on Simkl: not demoted"]


def test_simkls_plan_to_watch_is_mirrored_on_the_server_and_a_title_taken_off_it_does_not_come_back(
        emulator, tmp_path) -> None:
    emulator.add_token(TOKEN, "alice")
    phone(emulator).add_to_list("plantowatch", {"movies": [{"ids": {"tmdb": 157336}}]})
    server = Server(INTERSTELLAR, BB)
    bridge = Bridge(emulator, tmp_path, server)
    bridge.sync()
    assert server.titles["m3"].listed == {"plantowatch"}
    server.titles["m3"] = replace(server.titles["m3"], listed=frozenset())  # the person takes it off on the TV
    bridge.sync(T + 3600)
    bridge.sync(T + 7200)
    assert server.titles["m3"].listed == frozenset() and lists(emulator)["120405"] == "plantowatch"


def test_a_revoked_token_changes_no_rating_and_no_list(emulator, tmp_path) -> None:
    emulator.add_token(TOKEN, "alice")
    phone(emulator).add_ratings({"movies": [{"ids": {"tmdb": 603}, "rating": 8}]})
    server = Server(replace(MATRIX, rating=8, listed=frozenset({"plantowatch"})))
    bridge = Bridge(emulator, tmp_path, server, TitleOptions(ratings="newer", rating_removal=True,
                                                              lists=frozenset({"plantowatch"})))
    bridge.sync()
    emulator.revoke(TOKEN)
    with pytest.raises(AuthError):  # the service logs it and ends the account's run: nothing changed before it
        bridge.sync(T + 3600)
    assert server.rated == [] and server.titles["m1"].listed == {"plantowatch"}


def test_a_run_that_syncs_no_ratings_keeps_simkls_up_to_date_for_the_next_that_does(emulator, tmp_path) -> None:
    bridge = Bridge(emulator, tmp_path, Server(replace(MATRIX, rating=6)))
    bridge.sync()
    phone(emulator).add_ratings({"movies": [{"ids": {"simkl": 53992}, "rating": 9}]})
    # `simkl-bridge sync --server` another server, one without ratings: its stamps are saved
    sync_account("alice", bridge.simkl, bridge.base, bridge.box, [(bridge.server, Options())], now=T + 3600)
    bridge.sync(T + 7200)
    assert bridge.server.rated == [("The Matrix", 9)]
