"""A side's library: found by any id in common, one item per episode, never by title."""

from __future__ import annotations

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import LibraryItem, Shelf, Title, TitleShelf


def ep(ids: Ids, season: int, number: int, numbering: Numbering = Numbering.TV) -> LibraryItem:
    return LibraryItem(Item(Kind.EPISODE, ids, numbering, season, (number,)), True, 1.0)


def test_a_shelf_finds_an_item_by_any_id_in_common() -> None:
    shelf = Shelf([ep(Ids(simkl=17465, tvdb=81189, tmdb=1396), 1, 2),
                   LibraryItem(Item(Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093")), True, 1.0)])
    assert shelf.find(Item(Kind.EPISODE, Ids(tmdb=1396), Numbering.TV, 1, (2,))) is not None
    assert shelf.find(Item(Kind.EPISODE, Ids(tmdb=1396), Numbering.TV, 1, (3,))) is None
    assert shelf.find(Item(Kind.MOVIE, Ids(imdb="tt0133093"))) is not None
    assert shelf.find(Item(Kind.MOVIE, Ids(tvdb=603))) is None  # the same number from another provider
    assert shelf.find(Item(Kind.MOVIE, Ids())) is None  # no id: nothing, whatever the title
    # a multi-episode file's item finds each of its episodes
    assert shelf.find(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (2, 3))) is not None


def test_a_replaced_or_discarded_item_is_not_found_by_its_old_ids() -> None:
    shelf = Shelf([LibraryItem(Item(Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093")), True, 1.0)])
    shelf.add(LibraryItem(Item(Kind.MOVIE, Ids(tmdb=603)), False, None))
    found = shelf.find(Item(Kind.MOVIE, Ids(tmdb=603)))
    assert found is not None and not found.watched and len(shelf) == 1
    shelf.discard("movie/tmdb:603")
    assert shelf.find(Item(Kind.MOVIE, Ids(imdb="tt0133093"))) is None and len(shelf) == 0


def test_items_without_ids_stay_apart_by_their_holders_handle() -> None:
    a = LibraryItem(Item(Kind.MOVIE, Ids()), True, 1.0, "Home video", ref="movie:7")
    b = LibraryItem(Item(Kind.MOVIE, Ids()), True, 1.0, "Wedding", ref="movie:8")
    assert len(Shelf([a, b])) == 2 and a.key != b.key


def test_an_anime_show_is_found_whichever_way_each_side_numbers_it() -> None:
    # Simkl lists an anime as such (AniDB numbering); a server scraped from TVDB numbers it the TV way:
    # its rating or its place in Plan to Watch is the same show's.
    simkl = TitleShelf([Title(Item(Kind.SHOW, Ids(simkl=39687, tvdb=267440), Numbering.ANIDB), "Attack on Titan",
                              rating=9)])
    found = simkl.find(Item(Kind.SHOW, Ids(tvdb=267440), Numbering.TV))
    assert found is not None and found.rating == 9
    assert simkl.find(Item(Kind.MOVIE, Ids(tvdb=267440))) is None
