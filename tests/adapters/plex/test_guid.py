"""Plex GUID strings -> ids, season/episode and numbering: every GUID form with one realistic
example, and the forms that name no external id or no usable episode."""

from __future__ import annotations

import pytest

from bridge.adapters.plex.guid import parse_guid
from bridge.adapters.plex.map import NotMatched
from bridge.events import Numbering
from tests.adapters.plex.test_map import legacy_episode, mapped


@pytest.mark.parametrize(
    ("guid", "ids", "season", "episode", "numbering"),
    [
        ("tmdb://603", {"tmdb": 603}, None, None, Numbering.TV),
        ("imdb://tt0133093", {"imdb": "tt0133093"}, None, None, Numbering.TV),
        ("com.plexapp.agents.imdb://tt0133093?lang=en", {"imdb": "tt0133093"}, None, None, Numbering.TV),
        ("com.plexapp.agents.themoviedb://603?lang=en", {"tmdb": 603}, None, None, Numbering.TV),
        ("com.plexapp.agents.themoviedb://1396/1/2?lang=en", {"tmdb": 1396}, 1, 2, Numbering.TV),
        ("com.plexapp.agents.thetvdb://81189/1/2?lang=en", {"tvdb": 81189}, 1, 2, Numbering.TV),
        ("com.plexapp.agents.hama://anidb-1234/1/2?lang=en", {"anidb": 1234}, 1, 2, Numbering.ANIDB),
        ("com.plexapp.agents.hama://anidb-1234?lang=en", {"anidb": 1234}, None, None, Numbering.ANIDB),
        ("com.plexapp.agents.hama://anidb2-8692/1/5?lang=en", {"anidb": 8692}, 1, 5, Numbering.TV),
        ("com.plexapp.agents.hama://tvdb-259640/2/3?lang=en", {"tvdb": 259640}, 2, 3, Numbering.TV),
        ("com.plexapp.agents.hama://tvdb2-259640/2/3?lang=en", {"tvdb": 259640}, 2, 3, Numbering.TV),
        ("com.plexapp.agents.hama://tmdb-1396?lang=en", {"tmdb": 1396}, None, None, Numbering.TV),
        ("com.plexapp.agents.hama://tsdb-1429/1/1?lang=en", {"tmdb": 1429}, 1, 1, Numbering.TV),
        ("com.plexapp.agents.hama://imdb-tt0080339?lang=en", {"imdb": "tt0080339"}, None, None, Numbering.TV),
        ("com.plexapp.agents.xbmcnfo://tt0080339?lang=xn", {"imdb": "tt0080339"}, None, None, Numbering.TV),
        ("com.plexapp.agents.xbmcnfo://550?lang=xn", {"tmdb": 550}, None, None, Numbering.TV),
        ("com.plexapp.agents.xbmcnfotv://73244/2/3?lang=xn", {"tvdb": 73244}, 2, 3, Numbering.TV),
        ("net.fribbtastic.coding.plex.myanimelist://1575?lang=en", {"mal": 1575}, None, None, Numbering.ANIDB),
    ],
)
def test_each_guid_form_gives_its_ids_and_numbers(guid, ids, season, episode, numbering) -> None:
    match = parse_guid(guid)
    assert match is not None
    assert (match.ids.as_dict(), match.season, match.episode, match.numbering) == (ids, season, episode, numbering)
    assert not match.unusable_numbering


@pytest.mark.parametrize(
    "guid",
    [
        "plex://movie/5d7768313c3c2a001fbcd1f0",
        "local://12345",
        "com.plexapp.agents.none://569747/2026/41103?lang=xn",
        "com.plexapp.agents.plexmusic://gracenote/track/123?lang=en",
        "com.plexapp.agents.lastfm://Radiohead/OK%20Computer?lang=en",
        "com.plexapp.agents.hama://youtube-PL1234567890abcdef?lang=en",
        "com.plexapp.agents.thetvdb://not-a-number/1/2?lang=en",
        # The nfo importers invent a title hash when the nfo has no <id>: not a database id.
        "com.plexapp.agents.xbmcnfotv://4785039201847362910?lang=xn",
        "", "tmdb://", None, 603,
    ],
)
def test_guids_without_an_external_id_give_nothing(guid) -> None:
    assert parse_guid(guid) is None


@pytest.mark.parametrize(
    ("guid", "why"),
    [
        ("com.plexapp.agents.hama://tvdb3-72454/5/130?lang=en", "absolute episode numbers"),
        ("com.plexapp.agents.hama://tvdb4-81797/3/77?lang=en", "absolute episode numbers"),
        ("com.plexapp.agents.hama://tvdb5-83268/1/15?lang=en", "absolute"),
        ("com.plexapp.agents.hama://anidb3-9734/1/101?lang=en", "specials"),
        ("com.plexapp.agents.thetvdbdvd://81189/1/2?lang=en", "DVD order"),
    ],
)
def test_numbering_that_names_no_simkl_episode_is_refused_not_guessed(guid, why) -> None:
    assert why in parse_guid(guid).unusable_numbering
    with pytest.raises(NotMatched, match=why):
        mapped(legacy_episode(guid))
