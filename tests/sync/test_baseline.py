"""The sync baseline survives a restart and knows an account's first sync from a later one."""

from __future__ import annotations

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import LibraryItem, Title, TitleShelf
from bridge.sync.baseline import Baseline

MATRIX = LibraryItem(Item(Kind.MOVIE, Ids(tmdb=603)), True, 1_700_000_000.0, "The Matrix", 1999, "26697")
EPISODE = LibraryItem(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (2,)), False, None, "Breaking Bad",
                      ref="9725", episode_ids=Ids(tvdb=349232))


def test_nothing_before_an_accounts_first_sync_and_both_sides_after_it(tmp_path) -> None:
    path = tmp_path / "sync.sqlite"
    base = Baseline(path)
    assert base.activities("alice") is None and base.before("alice", "plex/home") is None
    base.save_simkl("alice", {"all": "2024-01-01T00:00:00Z"}, "2024-01-01T00:00:00Z", [MATRIX])
    assert base.before("alice", "plex/home") is None  # Simkl read, but this server never synced
    base.save_server("alice", "plex/home", [MATRIX, EPISODE])
    base.close()
    again = Baseline(path)
    before = again.before("alice", "plex/home")
    assert before is not None and before.server == frozenset({"movie/tmdb:603"})
    assert before.simkl.find(Item(Kind.MOVIE, Ids(tmdb=603))) == MATRIX
    assert again.activities("alice") == ({"all": "2024-01-01T00:00:00Z"}, "2024-01-01T00:00:00Z")
    assert again.before("bob", "plex/home") is None
    assert list(again.simkl("alice")) == [MATRIX]


def test_a_save_replaces_the_side_whole() -> None:
    base = Baseline(":memory:")
    base.save_server("alice", "kodi/tv", [MATRIX, EPISODE])
    base.save_server("alice", "kodi/tv", [EPISODE])
    base.save_simkl("alice", {}, "", [])
    before = base.before("alice", "kodi/tv")
    assert before is not None and before.server == frozenset()


def test_ratings_and_buckets_are_kept_per_side_and_an_empty_side_is_not_a_first_sync(tmp_path) -> None:
    path = tmp_path / "sync.sqlite"
    base = Baseline(path)
    rated = Title(Item(Kind.SHOW, Ids(tvdb=81189)), "Breaking Bad", 2008, "9725", 9, 1_700_000_000.0,
                  listed=frozenset({"plantowatch"}))
    assert base.simkl_titles("alice") is None and base.titles_before("alice", "plex/home") is None
    base.save_simkl("alice", {"all": "2024-01-01T00:00:00Z"}, "", [], TitleShelf())  # Simkl had no titles
    assert base.titles_before("alice", "plex/home") is None  # this server's titles never synced
    base.save_titles("alice", "plex/home", [rated], [])
    base.close()
    again = Baseline(path)
    before = again.titles_before("alice", "plex/home")
    assert before is not None and before.server == {rated.key: rated} and len(before.simkl) == 0
    again.save_titles("alice", "plex/home", [], [])  # every rating and list place gone: a fact, not a first sync
    emptied = again.titles_before("alice", "plex/home")
    assert emptied is not None and emptied.server == {}
