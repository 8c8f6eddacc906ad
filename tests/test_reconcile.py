"""Startup reconciliation decisions: which Simkl playbacks are stale, which become resume points."""

from __future__ import annotations

import logging

from bridge.events import Ids, Item, Kind, Numbering
from bridge.reconcile import Summary, marks_for, plan, reconcile_account

MOVIE = {"id": 124, "progress": 75, "paused_at": "2024-01-15T11:15:00.000Z", "type": "movie",
         "movie": {"title": "Inception", "year": 2010, "ids": {"simkl": 67890, "slug": "inception", "tmdb": "27205", "imdb": "tt1375666"}}}
EPISODE = {"id": 123, "progress": 45.5, "paused_at": "2024-01-15T10:30:00.000Z", "type": "episode",
           "episode": {"season": 1, "number": 5, "title": "Episode 5"},
           "show": {"title": "Breaking Bad", "year": 2008, "ids": {"simkl": 12345, "tvdb": 81189, "tmdb": 1429}}}
PAUSED_MOVIE = 1705317300.0  # 2024-01-15T11:15:00Z


INCEPTION = Item(Kind.MOVIE, Ids(tmdb=27205))


def episodes(*numbers: int, season: int = 1) -> Item:
    return Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, season, numbers)


def test_playback_of_an_item_watched_after_the_pause_is_removed() -> None:
    marks = marks_for("alice", [("alice", INCEPTION, PAUSED_MOVIE + 60), ("bob", Item(Kind.MOVIE, Ids(tmdb=1)), 0.0)])
    result = plan("alice", [MOVIE, EPISODE], marks)
    assert result.remove == [124]
    assert [(r.kind, r.season, r.episode, r.progress) for r in result.keep] == [(Kind.EPISODE, 1, 5, 45.5)]


def test_watch_before_the_pause_keeps_the_playback() -> None:
    marks = marks_for("alice", [("alice", INCEPTION, PAUSED_MOVIE - 86400)])
    result = plan("alice", [MOVIE], marks)
    assert result.remove == [] and result.keep[0].ids.tmdb == 27205 and result.keep[0].ids.imdb == "tt1375666"


def test_episode_marked_in_a_multi_episode_file_removes_its_playback() -> None:
    marks = marks_for("alice", [("alice", episodes(4, 5), 1705400000.0)])
    assert plan("alice", [EPISODE], marks).remove == [123]


def test_newest_playback_per_item_wins() -> None:
    older = dict(MOVIE, id=1, progress=10, paused_at="2024-01-10T00:00:00Z")
    result = plan("alice", [MOVIE, older], [])
    assert result.remove == [1] and [r.progress for r in result.keep] == [75.0]
    result = plan("alice", [older, MOVIE], [])
    assert result.remove == [1] and [r.progress for r in result.keep] == [75.0]


def test_alternative_spellings_are_read() -> None:
    legacy = dict(EPISODE, episode={"season": 2, "episode": 3})
    anime = {"id": 9, "progress": 20, "paused_at": "2024-01-15T10:30:00Z", "type": "episode",
             "episode": {"season": 1, "number": 4}, "anime": {"title": "Shingeki no Kyojin", "ids": {"mal": "16498", "anidb": "9541"}}}
    keep = plan("alice", [legacy, anime], []).keep
    assert [(r.season, r.episode) for r in keep] == [(2, 3), (1, 4)]
    assert keep[1].ids.mal == 16498 and keep[1].ids.anidb == 9541


def test_malformed_playbacks_are_skipped_with_a_line(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.reconcile")
    bad = [{"id": 5, "type": "movie", "progress": "x", "paused_at": "2024-01-01T00:00:00Z", "movie": {"ids": {}}},
           {"id": 6, "type": "episode", "progress": 1, "paused_at": "2024-01-01T00:00:00Z", "show": {"ids": {"tvdb": 1}}},
           {"id": 7, "type": "song"}]
    result = plan("alice", [*bad, MOVIE], [])
    assert len(result.keep) == 1
    assert len([r for r in caplog.records if "ignoring" in r.getMessage()]) == 3


class FakeSimkl:
    def __init__(self, playbacks):
        self.playbacks, self.deleted = playbacks, []

    def get_playback(self):
        return self.playbacks

    def delete_playback(self, pid):
        self.deleted.append(pid)
        return True


class RecordingAdapter:
    name = "rec"

    def __init__(self, fail=False):
        self.fail, self.got = fail, []

    def apply_resume(self, resumes):
        if self.fail:
            raise ConnectionError("server down")
        self.got += resumes
        return len(resumes)


def test_reconcile_account_deletes_stale_and_pushes_the_rest_even_if_one_server_fails() -> None:
    simkl = FakeSimkl([MOVIE, EPISODE])
    good, broken = RecordingAdapter(), RecordingAdapter(fail=True)
    summary = Summary()
    reconcile_account("alice", simkl, marks_for("alice", [("alice", INCEPTION, PAUSED_MOVIE + 1)]), [broken, good], summary)
    assert simkl.deleted == [124]
    assert [r.episode for r in good.got] == [5]
    assert (summary.kept, summary.removed, summary.pushed) == (1, 1, 1)
    assert summary.line() == "reconciled Simkl playbacks: kept 1 / removed 1 / pushed 1 to servers"
