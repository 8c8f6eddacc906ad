"""The writes a sync's decisions become (bridge/sync/outgoing.py): their bodies, how a person reads
them, and keys that make a sync run again enqueue nothing new while a real change is a new write."""

from __future__ import annotations

import pytest

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import LibraryItem, Title
from bridge.outbox import Outbox
from bridge.sync.outgoing import history_write, list_write, rate_write, unrate_write, unwatch_write
from bridge.times import iso
from bridge.writes import describe

T = 1_700_000_000.0  # 2023-11-14T22:13:20Z
HOUR = 3600.0
MATRIX = Title(Item(Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093")), "The Matrix", 1999)
DUNE = Title(Item(Kind.MOVIE, Ids(tmdb=438631)), "Dune", 2021)
BB = Title(Item(Kind.SHOW, Ids(tvdb=81189)), "Breaking Bad", 2008)
AOT = Title(Item(Kind.SHOW, Ids(anidb=9541), Numbering.ANIDB), "Shingeki no Kyojin", 2013)
BB_S1E3 = LibraryItem(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (3,)), False, None, "Breaking Bad", 2008, "3")
MATRIX_FILE = LibraryItem(Item(Kind.MOVIE, Ids(tmdb=603)), False, None, "The Matrix", 1999, "1")


def test_a_sync_and_the_scrobbler_key_one_viewing_alike() -> None:
    watched = LibraryItem(BB_S1E3.item, True, T - 86400, "Breaking Bad", 2008, "3")
    write = history_write("alice", watched, watched.watched_at, T)
    # the engine's key: kind, account, item key and the viewing's instant
    assert write.idem_key == f"history:alice:episode/tvdb:81189/tv/s1e3:{iso(T - 86400)}"
    assert write.body["shows"][0]["seasons"][0]["episodes"] == [{"number": 3, "watched_at": iso(T - 86400)}]
    assert write.at == T - 86400
    assert history_write("alice", watched, None, T).idem_key.endswith(":undated")


def test_each_write_reads_as_a_person_says_it() -> None:
    lines = [describe(w.kind, w.body) for w in (
        rate_write("alice", MATRIX, 9, T, T), unrate_write("alice", MATRIX, T), list_write("alice", DUNE, "plantowatch", T),
        list_write("alice", BB, "hold", T), unwatch_write("alice", BB_S1E3, T), unwatch_write("alice", MATRIX_FILE, T))]
    assert lines == ["rated The Matrix (1999) 9/10", "unrated The Matrix (1999)", "moved Dune (2021) to Plan to Watch",
                     "moved Breaking Bad (2008) to On Hold", "unwatched Breaking Bad (2008) S01E03",
                     "unwatched The Matrix (1999)"]


def test_a_rating_is_sent_with_its_real_date_and_an_anime_under_anime() -> None:
    assert rate_write("alice", MATRIX, 9, T - 10 * 365 * 86400, T).body == {"movies": [
        {"ids": {"imdb": "tt0133093", "tmdb": 603}, "title": "The Matrix", "year": 1999, "rating": 9,
         "rated_at": "2013-11-16T22:13:20Z"}]}
    assert rate_write("alice", AOT, 10, None, T).body == {"anime": [
        {"ids": {"anidb": 9541}, "title": "Shingeki no Kyojin", "year": 2013, "rating": 10}]}
    assert list(unrate_write("alice", AOT, T).body) == ["anime"]
    assert list_write("alice", AOT, "watching", T).body["anime"][0]["to"] == "watching"


def test_running_the_same_sync_again_enqueues_nothing_new_and_a_change_is_a_new_write(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")

    def run(now: float, rating: int, rated_at: float | None, to: str = "plantowatch") -> list[bool]:
        return box.enqueue_many([rate_write("alice", MATRIX, rating, rated_at, now), list_write("alice", DUNE, to, now),
                                 unwatch_write("alice", BB_S1E3, now, viewing=T - 86400)])

    assert run(T, 8, T - 100) == [True, True, True]
    assert run(T + 60, 8, T - 100) == [False, False, False]  # killed before its baseline was saved: run again
    assert box.pending("alice") == 3
    assert run(T + 120, 9, T + 100) == [True, False, False]  # a changed rating is a new write
    # A Kodi dates no rating: within the hour, a run again is the same write; the same value given
    # again later (8, 9, then 8) is a new one, not one the outbox refuses as known.
    assert box.enqueue(rate_write("alice", BB, 8, None, T)) and not box.enqueue(rate_write("alice", BB, 8, None, T + 60))
    assert box.enqueue(rate_write("alice", BB, 8, None, T + 2 * HOUR))
    # Another viewing unwatched is another unwatch.
    assert box.enqueue(unwatch_write("alice", BB_S1E3, T, viewing=T + 5 * 86400))


def test_what_simkl_cannot_take_is_refused_before_it_is_queued() -> None:
    for to in ("watching", "hold"):  # movies have no such bucket (the seed page on statuses)
        with pytest.raises(ValueError, match=f"no '{to}' bucket for a movie"):
            list_write("alice", DUNE, to, T)
    with pytest.raises(ValueError, match="no 'wishlist' bucket for a show"):
        list_write("alice", BB, "wishlist", T)
    for rating in (0, 11, -1, 7.5, True):  # Simkl silently ignores any but a whole number 1-10
        with pytest.raises(ValueError, match="not a rating Simkl takes"):
            rate_write("alice", MATRIX, rating, None, T)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no id"):
        unrate_write("alice", Title(Item(Kind.MOVIE, Ids()), "Home Video"), T)
    with pytest.raises(ValueError, match="by its show"):
        unwatch_write("alice", LibraryItem(Item(Kind.EPISODE, Ids(tvdb=349232), by_episode_ids=True), False), T)
