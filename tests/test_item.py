"""The one item identity: when two things are the same movie or episode, and the key it is filed by."""

from __future__ import annotations

from bridge.events import Resume
from bridge.item import Ids, Item, Kind, Numbering

MATRIX = Item(Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093"))


def test_ids_overlap_when_some_provider_gives_both_the_same_id() -> None:
    assert Ids(tmdb=603).overlaps(Ids(imdb="tt0133093", tmdb=603))
    assert not Ids(tmdb=603).overlaps(Ids(tvdb=603))  # the same number from another provider is another thing
    assert not Ids().overlaps(Ids(tmdb=603)) and not Ids(tmdb=603).overlaps(Ids())


def test_a_movie_is_the_same_by_any_shared_id() -> None:
    assert MATRIX.overlaps(Item(Kind.MOVIE, Ids(imdb="tt0133093")))
    assert not MATRIX.overlaps(Item(Kind.EPISODE, Ids(tmdb=603), Numbering.TV, 1, (1,)))


def test_episodes_share_a_season_and_a_number_in_the_same_numbering() -> None:
    two_part = Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (2, 3))
    assert two_part.overlaps(Item(Kind.EPISODE, Ids(tvdb=81189, tmdb=1396), Numbering.TV, 1, (3,)))
    assert not two_part.overlaps(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 2, (3,)))
    # An anime's TVDB S1E3 and its second cour's AniDB S1E3 share the show's tvdb id: different episodes.
    tvdb_s1e3 = Item(Kind.EPISODE, Ids(tvdb=267440, mal=16498), Numbering.TV, 1, (3,))
    second_cour_e3 = Item(Kind.EPISODE, Ids(tvdb=267440, anidb=10944), Numbering.ANIDB, 1, (3,))
    assert not tvdb_s1e3.overlaps(second_cour_e3)


def test_an_episode_known_by_its_own_ids_is_never_a_numbered_one() -> None:
    own = Item(Kind.EPISODE, Ids(tvdb=349232), by_episode_ids=True)
    assert own.overlaps(Item(Kind.EPISODE, Ids(tvdb=349232), by_episode_ids=True))
    assert not own.overlaps(Item(Kind.EPISODE, Ids(tvdb=349232), Numbering.TV, 1, (2,)))


def test_keys_name_the_most_specific_id_and_round_trip_through_json() -> None:
    assert MATRIX.key == "movie/tmdb:603"
    anime = Item(Kind.EPISODE, Ids(tvdb=267440, anidb=9541), Numbering.ANIDB, 1, (4,))
    assert anime.key == "episode/anidb:9541/anidb/s1e4"
    assert Item.from_json(anime.to_json()) == anime


def test_a_simkl_playback_of_an_anime_is_numbered_per_cour() -> None:
    resume = Resume("alice", Kind.EPISODE, Ids(mal=16498, anidb=9541), 40.0, 0.0, 1, 4)
    assert resume.item.numbering is Numbering.ANIDB
    assert resume.item.overlaps(Item(Kind.EPISODE, Ids(anidb=9541), Numbering.ANIDB, 1, (4,)))
