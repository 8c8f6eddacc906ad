"""Simkl's activities gate: nothing moved, nothing read; only the buckets that moved are read."""

from __future__ import annotations

from bridge.sync.gate import Titles, reads

A = "2024-01-01T00:00:00Z"
B = "2024-02-01T00:00:00Z"


def activities(**moved: dict[str, str]) -> dict:
    blocks = {
        "tv_shows": {k: A for k in ("all", "rated_at", "playback", "plantowatch", "watching", "completed", "hold",
                                    "dropped", "removed_from_list")},
        "anime": {k: A for k in ("all", "rated_at", "playback", "plantowatch", "watching", "completed", "hold",
                                 "dropped", "removed_from_list")},
        "movies": {k: A for k in ("all", "rated_at", "playback", "plantowatch", "completed", "dropped",
                                  "removed_from_list")},
    }
    for block, keys in moved.items():
        blocks[block].update(keys)
    return {"all": A, **blocks}


def test_the_first_sync_reads_every_type_whole_one_after_another() -> None:
    first = reads(None, activities())
    assert first.first and [(r.kind, r.params) for r in first.library] == [
        (kind, {"extended": "full", "episode_watched_at": "yes"}) for kind in ("shows", "anime", "movies")]


def test_nothing_moved_nothing_is_read() -> None:
    later = reads(activities(), activities())
    assert (later.library, later.removals, later.playback_since) == ([], [], None)


def test_only_what_moved_is_read_since_the_last_stamp() -> None:
    later = reads(activities(), activities(movies={"all": B, "completed": B}, tv_shows={"all": B, "rated_at": B}))
    assert [(r.kind, r.params.get("date_from")) for r in later.library] == [("movies", A)]  # a rating is not a watch
    removed = reads(activities(), activities(anime={"all": B, "removed_from_list": B}))
    assert removed.library == [] and [(r.kind, r.params) for r in removed.removals] == [
        ("anime", {"extended": "simkl_ids_only"})]
    paused = reads(activities(), activities(tv_shows={"all": B, "playback": B}))
    assert paused.library == [] and paused.playback_since == A


def test_a_movies_block_without_watching_or_hold_keys_is_not_taken_for_a_change() -> None:
    now = activities()
    assert "watching" not in now["movies"] and reads(activities(), now).library == []


def test_types_that_moved_together_are_one_read_since_the_earliest_of_their_stamps() -> None:
    """A sync's own writes move shows and movies at once: the next sync reads both in one request."""
    earlier, later = "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.500Z"  # as text, "." sorts before "Z"
    before = activities(movies={"all": later}, tv_shows={"all": earlier})
    now = activities(movies={"all": B, "completed": B}, tv_shows={"all": B, "watching": B})
    assert [(r.kind, r.params) for r in reads(before, now).library] == [
        (None, {"extended": "full", "episode_watched_at": "yes", "date_from": earlier})]
    never = reads({"all": None}, {"all": B, "movies": {"all": B, "completed": B}, "tv_shows": {"all": B, "watching": B}})
    assert [(r.kind, r.params) for r in never.library] == [(None, {"extended": "full", "episode_watched_at": "yes"})]


def test_ratings_and_plan_to_watch_are_read_only_when_titles_are_synced_and_they_moved() -> None:
    moved = activities(tv_shows={"all": B, "rated_at": B}, movies={"all": B, "plantowatch": B})
    assert reads(activities(), moved).ratings == []  # no server syncs ratings or lists
    later = reads(activities(), moved, Titles(wanted=True))
    assert [(r.kind, r.status, r.params.get("date_from")) for r in later.library] == [("movies", "plantowatch", A)]
    assert [(r.kind, r.params) for r in later.ratings] == [("shows", {"date_from": A})]
    whole = reads(activities(), moved, Titles(wanted=True, whole_ratings=True))  # a cleared rating is in no delta
    assert [(r.kind, r.params) for r in whole.ratings] == [("shows", {})]
    assert reads(activities(), activities(), Titles(wanted=True)).ratings == []


def test_plan_to_watch_is_not_read_twice_when_its_type_is_read_anyway() -> None:
    later = reads(activities(), activities(movies={"all": B, "plantowatch": B, "completed": B}), Titles(wanted=True))
    assert [(r.kind, r.status) for r in later.library] == [("movies", None)]


def test_titles_synced_the_first_time_on_a_known_account_read_every_type_whole_once() -> None:
    once = reads(activities(), activities(), Titles(wanted=True, first=True))
    assert not once.first and [r.kind for r in once.library] == ["shows", "anime", "movies"]
