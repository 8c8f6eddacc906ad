"""The ratings and list-bucket decisions, each against a complaint about other syncs."""

from __future__ import annotations

from dataclasses import replace

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import Title, TitleShelf, as_rating
from bridge.sync.titles_plan import TitleOptions, TitlesBefore, TitleStep, plan_titles

T = 1_700_000_000
MATRIX = Title(Item(Kind.MOVIE, Ids(tmdb=603)), "The Matrix", 1999, ref="10")
DUNE = Title(Item(Kind.MOVIE, Ids(imdb="tt1160419")), "Dune", 2021, ref="11")
BB = Title(Item(Kind.SHOW, Ids(tvdb=81189)), "Breaking Bad", 2008, ref="20")
AOT = Title(Item(Kind.SHOW, Ids(anidb=9541), Numbering.ANIDB), "Attack on Titan", 2013, ref="21")
NEWER = TitleOptions(ratings="newer")


def simkl(*titles: Title) -> TitleShelf:
    return TitleShelf(replace(t, ref="", listed=frozenset()) for t in titles)


def before(server: list[Title], on_simkl: list[Title]) -> TitlesBefore:
    return TitlesBefore({t.key: t for t in server}, simkl(*on_simkl))


def steps(plan) -> list[tuple[str, str, int | None, str | None]]:
    return [(a.step.name, a.title.title, a.rating, a.bucket) for a in plan.actions]


def test_an_equal_rating_is_never_sent_again_whatever_its_spelling() -> None:
    server = [replace(MATRIX, rating=as_rating(8.0), rated_at=T)]
    plan = plan_titles(server, simkl(replace(MATRIX, rating=as_rating(8), rated_at=T - 9 * 86400)), None, NEWER)
    assert plan.actions == [] and plan.skipped == []


def test_a_first_sync_carries_each_sides_ratings_to_the_other() -> None:
    server = [replace(MATRIX, rating=9, rated_at=T), DUNE]
    plan = plan_titles(server, simkl(replace(DUNE, rating=7, rated_at=T)), None, NEWER)
    assert steps(plan) == [("RATE_SIMKL", "The Matrix", 9, None), ("RATE_SERVER", "Dune", 7, None)]
    assert plan.actions[0].rated_at == T  # the real date, not now


def test_a_stale_server_rating_never_overwrites_a_newer_change_on_simkl() -> None:
    # Rated 6 on both sides at the last sync; since, re-rated 9 on Simkl. The server still says 6.
    last = replace(MATRIX, rating=6)
    now_simkl = simkl(replace(MATRIX, rating=9, rated_at=T))
    for rule in ("server", "newer"):
        plan = plan_titles([last], now_simkl, before([last], [last]), TitleOptions(ratings=rule))
        assert [a for a in plan.actions if a.step is TitleStep.RATE_SIMKL] == []
    assert steps(plan_titles([last], now_simkl, before([last], [last]), NEWER)) == [("RATE_SERVER", "The Matrix", 9, None)]


def test_the_rule_says_which_way_ratings_go() -> None:
    server = [replace(MATRIX, rating=9)]
    assert steps(plan_titles(server, simkl(), None, TitleOptions(ratings="simkl"))) == []
    assert steps(plan_titles(server, simkl(), None, TitleOptions(ratings="none"))) == []
    assert steps(plan_titles([MATRIX], simkl(replace(MATRIX, rating=4)), None, TitleOptions(ratings="server"))) == []


def test_a_conflict_goes_to_the_later_rating_and_without_dates_to_nobody() -> None:
    last = replace(MATRIX, rating=5)
    was = before([last], [last])
    later_here = plan_titles([replace(MATRIX, rating=8, rated_at=T)], simkl(replace(MATRIX, rating=3, rated_at=T - 60)),
                             was, NEWER)
    assert steps(later_here) == [("RATE_SIMKL", "The Matrix", 8, None)]
    undated = plan_titles([replace(MATRIX, rating=8)], simkl(replace(MATRIX, rating=3, rated_at=T)), was, NEWER)
    assert undated.actions == [] and "neither is overwritten" in undated.skipped[0][1]
    assert steps(plan_titles([replace(MATRIX, rating=8)], simkl(replace(MATRIX, rating=3)), was,
                             TitleOptions(ratings="simkl"))) == [("RATE_SERVER", "The Matrix", 3, None)]


def test_a_cleared_rating_is_cleared_on_the_other_side_only_when_asked_and_never_first() -> None:
    last = replace(BB, rating=7)
    on_simkl = simkl(last)
    assert steps(plan_titles([BB], on_simkl, before([last], [last]), NEWER)) == []
    removal = TitleOptions(ratings="newer", rating_removal=True)
    assert steps(plan_titles([BB], on_simkl, before([last], [last]), removal)) == [("UNRATE_SIMKL", "Breaking Bad", None, None)]
    assert steps(plan_titles([BB], on_simkl, None, removal)) == [("RATE_SERVER", "Breaking Bad", 7, None)]
    # ...and a rating left cleared is not put back at the next sync either
    assert steps(plan_titles([BB], on_simkl, before([BB], [last]), NEWER)) == []


LISTS = TitleOptions(lists=frozenset({"plantowatch"}))
ON_LIST = frozenset({"plantowatch"})


def test_a_title_put_on_the_servers_plan_to_watch_goes_to_simkl_unless_it_is_further_along() -> None:
    server = [replace(DUNE, listed=ON_LIST), replace(MATRIX, listed=ON_LIST), replace(BB, listed=ON_LIST)]
    on_simkl = simkl(replace(MATRIX, status="completed"), replace(BB, status="watching"))
    plan = plan_titles(server, on_simkl, before([DUNE, MATRIX, BB], [replace(MATRIX, status="completed"),
                                                                      replace(BB, status="watching")]), LISTS)
    assert steps(plan) == [("LIST_SIMKL", "Dune", None, "plantowatch")]
    assert sorted(why for _, why in plan.skipped) == [
        "put on the server's Plan to Watch, but completed on Simkl: not demoted",
        "put on the server's Plan to Watch, but watching on Simkl: not demoted"]


def test_simkls_buckets_are_mirrored_on_the_server_both_in_and_out() -> None:
    options = TitleOptions(lists=frozenset({"plantowatch", "watching"}))
    server = [DUNE, replace(MATRIX, listed=ON_LIST), AOT]
    was = before(server, [replace(MATRIX, status="plantowatch")])
    on_simkl = simkl(replace(DUNE, status="plantowatch"), replace(MATRIX, status="completed"),
                     replace(AOT, status="watching"))
    assert steps(plan_titles(server, on_simkl, was, options)) == [
        ("LIST_SERVER", "Dune", None, "plantowatch"), ("UNLIST_SERVER", "The Matrix", None, "plantowatch"),
        ("LIST_SERVER", "Attack on Titan", None, "watching")]


def test_a_movie_is_never_mirrored_into_watching_or_hold() -> None:
    options = TitleOptions(lists=frozenset({"watching", "hold"}))
    assert plan_titles([MATRIX], simkl(replace(MATRIX, status="watching")), None, options).actions == []


def test_a_title_taken_off_the_servers_list_does_not_come_back() -> None:
    listed = replace(DUNE, listed=ON_LIST)
    on_simkl = [replace(DUNE, status="plantowatch")]
    removed = plan_titles([DUNE], simkl(*on_simkl), before([listed], on_simkl), LISTS)
    assert removed.actions == []
    assert plan_titles([DUNE], simkl(*on_simkl), before([DUNE], on_simkl), LISTS).actions == []  # the run after
    dropping = TitleOptions(lists=frozenset({"plantowatch"}), list_removal="dropped")
    assert steps(plan_titles([DUNE], simkl(*on_simkl), before([listed], on_simkl), dropping)) == [
        ("LIST_SIMKL", "Dune", None, "dropped")]


def test_mass_clearing_is_refused_whole() -> None:
    shows = [Title(Item(Kind.SHOW, Ids(tvdb=n)), f"Show {n}", ref=str(n)) for n in range(1, 21)]
    rated = [replace(s, rating=8) for s in shows]
    options = TitleOptions(ratings="newer", rating_removal=True)
    plan = plan_titles(shows, simkl(*rated), before(rated, rated), options)  # every rating gone on the server
    assert plan.actions == [] and "refused to clear 20" in plan.refused[0]
    one = plan_titles(shows[:1] + rated[1:], simkl(*rated), before(rated, rated), options)
    assert steps(one) == [("UNRATE_SIMKL", "Show 1", None, None)]


def test_a_rated_title_without_ids_is_reported_and_never_guessed() -> None:
    loose = Title(Item(Kind.MOVIE, Ids()), "The Matrix", 1999, ref="99", rating=8)
    plan = plan_titles([loose, replace(DUNE, rating=6)], simkl(replace(MATRIX, rating=3)), None, NEWER)
    assert steps(plan) == [("RATE_SIMKL", "Dune", 6, None)] and plan.skipped == [(loose, "no usable id")]
