"""The normalized event's JSON form: what `map --from event` and the Kodi addon send."""

from __future__ import annotations

import pytest

from bridge.events import EventError, Ids, Kind, Numbering, State, from_json

EPISODE = {"source": "kodi", "server": "lr", "user": "alice", "session": 3, "kind": "episode", "state": "paused",
           "ids": {"tvdb": "81189", "imdb": "tt0903747"}, "season": 1, "episodes": [2, 3], "position": 600, "duration": 2400,
           "episode_ids": {"tvdb": 349232}, "title": "Breaking Bad", "at": 1700000000}


def test_round_trip_keeps_everything_the_engine_uses() -> None:
    event = from_json(EPISODE)
    again = from_json(event.to_json())
    assert again == event
    assert event.ids == Ids(tvdb=81189, imdb="tt0903747")
    assert (event.kind, event.state, event.season, event.episodes, event.session) == (Kind.EPISODE, State.PAUSED, 1, (2, 3), "3")
    assert event.progress == 25.0
    assert event.item_key == "episode/tvdb:81189/tv/s1e2,3"


def test_progress_is_clamped_and_zero_without_duration() -> None:
    assert from_json(dict(EPISODE, position=5000)).progress == 100.0
    assert from_json(dict(EPISODE, duration=0)).progress == 0.0


def test_single_episode_shorthand() -> None:
    data = dict(EPISODE, episode=7)
    del data["episodes"]
    assert from_json(data).episodes == (7,)


def test_anime_numbering_changes_the_item_identity() -> None:
    anidb = from_json(dict(EPISODE, ids={"anidb": 9541}, numbering="anidb"))
    assert anidb.numbering is Numbering.ANIDB and anidb.ids.is_anime
    assert anidb.item_key == "episode/anidb:9541/anidb/s1e2,3"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "song"}, "event.kind: 'song' is not one of movie, episode"),
        ({"state": None}, "event.state: missing"),
        ({"ids": {"tmdb": "abc"}}, "event.ids.tmdb: 'abc' is not a valid tmdb id"),
        ({"ids": {}, "episode_ids": {}}, "event.ids: no usable id"),
        ({"season": None}, "event.season/episodes: an episode needs a season and an episode number"),
        ({"episodes": [1, "2"]}, "event.episodes: expected non-negative integers, got '2'"),
        ({"position": "10"}, "event.position: expected int or float, got str"),
        ({"year": True}, "event.year: expected int, got bool"),
        ({"season": -1}, "kodi season: -1 is not a season number"),
        ({"episodes": [2**31]}, "kodi episodes: (2147483648,) are not episode numbers"),
        ({"year": -(10**30)}, "kodi year: -1000000000000000000000000000000 is not a year"),
        ({"position": 1e11}, "kodi position: 100000000000.0 is not a time in seconds"),
    ],
)
def test_bad_fields_are_named(change: dict, message: str) -> None:
    data = {k: v for k, v in dict(EPISODE, **change).items() if v is not None}
    with pytest.raises(EventError) as err:
        from_json(data)
    assert str(err.value).startswith(message)


def test_not_an_object() -> None:
    with pytest.raises(EventError, match="expected a JSON object"):
        from_json([1, 2])
