"""Kodi JSON-RPC results -> PlayEvents (pure functions, no Kodi needed).

The payloads are shaped like what Kodi 20 really returns (see shared/kodi-headless.md §6).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.adapters.kodi.map import NotInLibrary, event_from_item, seconds
from bridge.cli import main as cli
from bridge.events import EventError, Ids, Kind, Numbering, State
from bridge.simkl.bodies import history_body
from tests.adapters.kodi.payloads import EPISODE, LOOSE, MOVIE, PAUSED_AT_40, SHOW


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
