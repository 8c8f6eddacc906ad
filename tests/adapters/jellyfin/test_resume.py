"""Simkl's paused positions -> Jellyfin resume points: finding the item, whether Simkl's is newer,
anime numbering; then pushed to the stand-in for its configured user."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from bridge.adapters.jellyfin.resume import find_by_ids, find_episode, numbers_agree, resume_ticks
from bridge.events import Ids, Kind, Resume
from tests.adapters.jellyfin.helpers import adapter_for, jellyfin, minutes, running, settle  # noqa: F401 - fixtures
from tests.adapters.jellyfin.standin import ALICE, TICKS
from tests.conftest import watches

NOW = 1714594503.0


MOVIES = [{"Id": "a", "ProviderIds": {"Imdb": "tt1375666"}},
          {"Id": "b", "ProviderIds": {"Tmdb": "603", "Imdb": "tt0133093"}}]


def test_items_are_found_by_any_shared_provider_id() -> None:
    assert find_by_ids(MOVIES, Ids(tmdb=603))["Id"] == "b"
    assert find_by_ids(MOVIES, Ids(imdb="tt1375666", tmdb=27205))["Id"] == "a"
    assert find_by_ids(MOVIES, Ids(tmdb=105)) is None


def test_episodes_are_found_by_number_including_multi_episode_files() -> None:
    episodes = [{"Id": "e1", "ParentIndexNumber": 1, "IndexNumber": 1},
                {"Id": "e2", "ParentIndexNumber": 1, "IndexNumber": 2, "IndexNumberEnd": 3}]
    assert find_episode(episodes, 1, 3)["Id"] == "e2"
    assert find_episode(episodes, 2, 1) is None


def resume(progress: float = 40.0, paused_at: float = NOW) -> Resume:
    return Resume(account="alice", kind=Kind.MOVIE, ids=Ids(tmdb=603), progress=progress, paused_at=paused_at)


def test_a_resume_point_is_set_only_when_simkl_is_newer() -> None:
    item = {"RunTimeTicks": 81_600_000_000, "UserData": {"LastPlayedDate": "2024-05-01T20:00:00Z"}}
    assert resume_ticks(item, resume(40.0)) == 32_640_000_000
    assert resume_ticks(item, resume(paused_at=NOW - 3600)) is None  # Jellyfin played it later
    assert resume_ticks({"RunTimeTicks": 1000}, resume(50.0)) == 500  # never played there
    assert resume_ticks({"UserData": {}}, resume()) is None  # length unknown


def test_anime_resume_points_go_only_to_series_numbered_like_simkl() -> None:
    anime = Resume(account="alice", kind=Kind.EPISODE, ids=Ids(tvdb=267440, anidb=10944), progress=50.0,
                   paused_at=NOW, season=1, episode=3)
    assert numbers_agree({"ProviderIds": {"AniDB": "10944"}}, anime)
    assert not numbers_agree({"ProviderIds": {"AniDB": "9541", "Tvdb": "267440"}}, anime)
    assert numbers_agree({"ProviderIds": {"Tvdb": "81189"}}, replace(anime, ids=Ids(tvdb=81189)))


# -- pushed to the server ----------------------------------------------------------------------


@pytest.mark.parametrize("jellyfin", ["10.10.7", "10.11.11"], indirect=True)
def test_simkls_newer_pause_becomes_the_jellyfin_resume_point(jellyfin, bridge_for) -> None:
    adapter = adapter_for(jellyfin, user="alice")
    now = time.time()
    older = Resume(account="alice", kind=Kind.MOVIE, ids=Ids(tmdb=603), progress=40.0, paused_at=now - 60, title="The Matrix")
    episode = Resume(account="alice", kind=Kind.EPISODE, ids=Ids(tvdb=81189), progress=50.0, paused_at=now - 60,
                     season=1, episode=2)
    assert adapter.apply_resume([older, episode]) == 2
    data = jellyfin.data(ALICE, jellyfin.matrix)
    assert data["PlaybackPositionTicks"] == int(0.4 * jellyfin.items[jellyfin.matrix]["RunTimeTicks"])
    assert jellyfin.data(ALICE, jellyfin.bb_s1e2)["PlaybackPositionTicks"] == int(0.5 * 47 * 60 * TICKS)
    # Played in Jellyfin since: Jellyfin's own state is newer and stays.
    jellyfin.play("s1", ALICE, jellyfin.matrix, minutes(100))
    jellyfin.stop("s1")
    assert adapter.apply_resume([older]) == 0
    assert jellyfin.data(ALICE, jellyfin.matrix)["PlaybackPositionTicks"] == int(minutes(100) * TICKS)
    # Pushing the same pause again changes nothing either (its date is now Jellyfin's).
    assert adapter.apply_resume([episode]) == 0


@pytest.mark.parametrize("jellyfin", ["10.8.13"], indirect=True)
def test_jellyfin_10_8_has_no_resume_point_to_set_and_says_so(jellyfin, caplog) -> None:
    """10.8 has no POST /UserItems/{id}/UserData (ItemsController, from 10.9)."""
    caplog.set_level(logging.WARNING, logger="bridge.adapters.jellyfin")
    adapter = adapter_for(jellyfin, user="alice")
    r = Resume(account="alice", kind=Kind.MOVIE, ids=Ids(tmdb=603), progress=40.0, paused_at=time.time() - 60)
    assert adapter.apply_resume([r]) == 0
    assert jellyfin.data(ALICE, jellyfin.matrix)["PlaybackPositionTicks"] == 0
    (line,) = [r.getMessage() for r in caplog.records]
    assert "resume points not pushed" in line and "404" in line


def test_without_a_configured_user_nothing_is_pushed(jellyfin) -> None:
    adapter = adapter_for(jellyfin)
    r = Resume(account="alice", kind=Kind.MOVIE, ids=Ids(tmdb=603), progress=40.0, paused_at=time.time())
    assert adapter.apply_resume([r]) == 0
    assert not any(req.method == "POST" for req in jellyfin.server.requests)


def test_a_resume_point_set_on_an_item_played_long_ago_is_not_taken_for_a_mark(jellyfin, running, emulator) -> None:
    jellyfin.data(ALICE, jellyfin.matrix).update(Played=True, LastPlayedDate="2020-01-01T00:00:00.0000000Z")
    bridge, adapter = running(user="alice")
    rewatch = Resume(account="alice", kind=Kind.MOVIE, ids=Ids(tmdb=603), progress=30.0, paused_at=time.time() - 60)
    assert adapter.apply_resume([rewatch]) == 1  # Jellyfin echoes it: Played, and a LastPlayedDate of a minute ago
    settle(bridge)
    assert bridge.outbox.counts() == {} and watches(emulator) == []


def test_an_anime_episode_is_left_alone_where_jellyfin_numbers_it_by_tvdb(jellyfin, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.adapters.jellyfin")
    aot = jellyfin.add_series("Attack on Titan", {"Tvdb": "267440", "AniDB": "9541"}, library="Anime")
    tvdb_s1e3 = jellyfin.add_episode(aot, 1, 3, {}, minutes=24)
    adapter = adapter_for(jellyfin, user="alice")
    # Simkl counts this anime per cour: its "season 1, episode 3" of the second cour is not TVDB's S1E3.
    second_cour = Resume(account="alice", kind=Kind.EPISODE, ids=Ids(tvdb=267440, mal=20958, anidb=10944),
                         progress=50.0, paused_at=time.time() - 60, season=1, episode=3, title="Attack on Titan")
    assert adapter.apply_resume([second_cour]) == 0
    assert jellyfin.data(ALICE, tvdb_s1e3)["PlaybackPositionTicks"] == 0
    assert any("numbers this anime" in r.getMessage() for r in caplog.records)
    anidb_only = jellyfin.add_series("Shingeki no Kyojin (2017)", {"AniDB": "10944"}, library="Anime")
    cour_ep3 = jellyfin.add_episode(anidb_only, 1, 3, {}, minutes=24)
    assert adapter.apply_resume([second_cour]) == 1  # a series numbered by AniDB, as Simkl does
    assert jellyfin.data(ALICE, cour_ep3)["PlaybackPositionTicks"] == int(0.5 * 24 * 60 * TICKS)
