"""Provider ids -> the typed ids Simkl expects; never a guess."""

from __future__ import annotations

import pytest

from bridge.events import EventError, Ids, Kind, Numbering, Resume
from bridge.ids import clean_ids, numbering_for, parse_imdb, parse_int_id, provider_key


def test_types_follow_simkl() -> None:
    ids = clean_ids({"Tmdb": "603", "Imdb": "tt0133093", "Tvdb": 81189, "AniDB": "9541", "MyAnimeList": "16498"})
    assert ids == Ids(tmdb=603, imdb="tt0133093", tvdb=81189, anidb=9541, mal=16498)
    assert ids.as_dict() == {"imdb": "tt0133093", "tmdb": 603, "tvdb": 81189, "mal": 16498, "anidb": 9541}


def test_empty_and_unknown_providers_are_absent() -> None:
    assert clean_ids({"Provider_tmdb": "", "Tvrage": "123", "zap2it": "x", "imdb": None}) == Ids()
    assert not Ids()


@pytest.mark.parametrize("value", ["https://www.imdb.com/title/tt0133093/", "tt0133093", " tt0133093 "])
def test_imdb_forms(value: str) -> None:
    assert parse_imdb(value) == "tt0133093"


@pytest.mark.parametrize("value", ["", "imdb://", "603", 603, None])
def test_not_imdb(value) -> None:
    assert parse_imdb(value) is None


@pytest.mark.parametrize(("value", "expected"), [(603, 603), ("603", 603), (" 7 ", 7), ("0", None), (-3, None), ("6o3", None), (True, None), (6.5, None)])
def test_int_ids(value, expected) -> None:
    assert parse_int_id(value) == expected


def test_strict_names_the_bad_field_lenient_drops_it() -> None:
    with pytest.raises(EventError, match=r"payload\.tmdb: 'x603' is not a valid tmdb id"):
        clean_ids({"tmdb": "x603"}, where="payload")
    assert clean_ids({"tmdb": "x603", "imdb": "tt0133093"}, strict=False) == Ids(imdb="tt0133093")


def test_provider_aliases() -> None:
    assert [provider_key(n) for n in ("themoviedb", "Provider_tvdb", "thetvdb", "foo")] == ["tmdb", "tvdb", "tvdb", None]


def test_item_identity_prefers_the_most_specific_id() -> None:
    assert Ids(tmdb=1, imdb="tt0000001", simkl=5).key() == "simkl:5"
    assert Ids(tmdb=1, anidb=9).key() == "anidb:9"
    assert Ids().key() == ""


def test_a_show_known_only_by_anime_ids_counts_like_anidb() -> None:
    assert numbering_for(Ids(anidb=9541)) is Numbering.ANIDB
    assert numbering_for(Ids(mal=16498, tvdb=267440)) is Numbering.TV
    assert numbering_for(Ids(tvdb=81189)) is Numbering.TV


def test_an_anime_playback_fits_only_a_show_counted_like_anidb() -> None:
    anime = Resume("alice", Kind.EPISODE, Ids(anidb=10944, tvdb=267440), 40.0, 0.0, season=1, episode=3)
    show = Resume("alice", Kind.EPISODE, Ids(tvdb=81189), 40.0, 0.0, season=1, episode=3)
    assert anime.numbers_fit(Numbering.ANIDB)
    assert not anime.numbers_fit(Numbering.TV) and not anime.numbers_fit(None)
    assert show.numbers_fit(Numbering.TV) and show.numbers_fit(None)
