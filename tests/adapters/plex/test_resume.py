"""Simkl's paused positions pushed to Plex as view offsets (`apply_resume`)."""

from __future__ import annotations

import logging
import time

import pytest

from bridge.adapters.plex.resume import resume_offset
from bridge.events import Ids, Kind, Resume
from tests.adapters.plex.helpers import MATRIX_MS, adapter_for
from tests.conftest import PACE, make_client


def test_startup_sets_plex_view_offsets_only_where_plex_is_older(plex, bridge_for, emulator) -> None:
    client = make_client(emulator)
    client.scrobble("pause", {"progress": 40, "movie": {"ids": {"tmdb": 603}}})
    time.sleep(3 * PACE)
    client.scrobble("pause", {"progress": 25, "show": {"ids": {"tvdb": 81189}}, "episode": {"season": 1, "number": 2}})
    time.sleep(3 * PACE)
    client.scrobble("pause", {"progress": 30, "show": {"ids": {"tvdb": 73244}}, "episode": {"season": 1, "number": 3}})
    plex.items["202"].update(viewOffset=60_000, lastViewedAt=int(time.time()) + 3600)  # watched on Plex later
    adapter = adapter_for(plex, alerts=False, resume_user="alice")
    bridge = bridge_for(adapters=[adapter])
    summary = bridge.reconcile()
    assert summary.pushed == 2
    calls = {c["key"]: c for c in plex.progress}
    assert set(calls) == {"100", "503"}  # the movie, and the new-agent episode found through its show
    assert calls["100"]["state"] == "stopped" and calls["100"]["identifier"] == "com.plexapp.plugins.library"
    assert int(calls["100"]["time"]) == pytest.approx(MATRIX_MS * 0.40, rel=0.01)
    assert int(calls["503"]["time"]) == pytest.approx(1_320_000 * 0.30, rel=0.01)
    assert plex.items["202"]["viewOffset"] == 60_000
    # Plex now holds the newer position: the next reconciliation leaves it alone.
    assert bridge.reconcile().pushed == 0


def test_resume_user_is_the_owners_name_as_plays_show_it_or_their_email(plex) -> None:
    """Plex reports the owner as an e-mail (`myPlexUsername`) and plays by user name (account 1's):
    resume_user may be either, and names the person `users:` rules match by the user name."""
    resume = Resume("alice", Kind.MOVIE, Ids(tmdb=603), 40.0, time.time())
    for given in ("alice", "Alice", "alice@example.com"):
        adapter = adapter_for(plex, alerts=False, resume_user=given)
        assert adapter.resume_owner() == ("plex", "home", "Alice" if given == "Alice" else "alice")
        assert adapter.apply_resume([resume]) == 1
        plex.items["100"].pop("viewOffset")  # Plex forgets it again for the next round
        plex.items["100"].pop("lastViewedAt")


def test_resume_points_for_another_user_need_their_token(plex, emulator, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.plex")
    adapter = adapter_for(plex, alerts=False, resume_user="bob")
    resume = Resume("bob", Kind.MOVIE, Ids(tmdb=603), 40.0, time.time())
    assert adapter.apply_resume([resume]) == 0 and plex.progress == []
    assert any("needs that user's own token" in r.getMessage() for r in caplog.records)


PAUSED_AT = 1_700_000_000.0


@pytest.mark.parametrize(
    ("plex_side", "offset"),
    [
        ({}, 3_264_000),  # Plex has no resume point: Simkl's is set
        ({"viewOffset": 600_000, "lastViewedAt": int(PAUSED_AT) - 60}, 3_264_000),  # Plex's is older
        ({"viewOffset": 600_000, "lastViewedAt": int(PAUSED_AT) + 60}, None),  # Plex's is newer
        ({"viewCount": 1, "lastViewedAt": int(PAUSED_AT) + 60}, None),  # finished on Plex after the pause
        ({"viewOffset": 3_264_000}, None),  # already there
        ({"duration": None}, None),  # no duration: no offset to compute
    ],
)
def test_simkls_position_is_set_only_where_plex_knows_nothing_newer(plex_side, offset) -> None:
    meta = {"ratingKey": "100", "type": "movie", "duration": MATRIX_MS, **plex_side}
    resume = Resume("alice", Kind.MOVIE, Ids(tmdb=603), 40.0, PAUSED_AT)
    assert resume_offset(meta, resume) == offset


def test_an_anime_resume_point_goes_only_to_a_show_numbered_like_anidb(plex, caplog) -> None:
    """Simkl counts an anime's episodes per cour, like AniDB; in a show numbered by TVDB seasons the
    same season/episode may be another episode, so it is left alone."""
    caplog.set_level(logging.INFO, logger="bridge.adapters.plex")
    adapter = adapter_for(plex, alerts=False, resume_user="alice")
    hama = Resume("alice", Kind.EPISODE, Ids(anidb=23, tvdb=76885), 50.0, time.time(), 1, 5, "Cowboy Bebop")
    tvdb_numbered = Resume("alice", Kind.EPISODE, Ids(mal=1, tvdb=81189), 50.0, time.time(), 1, 2, "Some Anime")
    assert adapter.apply_resume([hama, tvdb_numbered]) == 1
    assert [c["key"] for c in plex.progress] == ["305"]
    assert any("numbers this anime's episodes differently" in r.getMessage() for r in caplog.records)
