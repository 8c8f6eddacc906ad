"""The sync's decisions, each a complaint about other syncs: a re-run adds nothing, a scrobbled play
is not added again, a first sync only adds, unwatching is opt-in, per item and guarded."""

from __future__ import annotations

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import LibraryItem, Shelf
from bridge.sync.plan import SAME_VIEWING, Before, Options, Step, plan

DAY = 86400.0
T = 1_700_000_000.0


def movie(tmdb: int, watched: bool = True, at: float | None = T, ref: str = "") -> LibraryItem:
    return LibraryItem(Item(Kind.MOVIE, Ids(tmdb=tmdb)), watched, at if watched else None, ref=ref or str(tmdb))


def episode(tvdb: int, season: int, number: int, watched: bool = True, at: float | None = T,
            numbering: Numbering = Numbering.TV, **ids: int) -> LibraryItem:
    item = Item(Kind.EPISODE, Ids(tvdb=tvdb, **ids), numbering, season, (number,))
    return LibraryItem(item, watched, at if watched else None, ref=f"{tvdb}-{season}-{number}")


def steps(result) -> list[tuple[Step, str, float | None]]:
    return [(a.step, a.entry.key, a.watched_at) for a in result.actions]


def after(server: Shelf, simkl: Shelf, result) -> Before:
    """The baseline a sync leaves: both sides as read, plus its own writes."""
    mirrored = Shelf(simkl)
    for a in result.actions:
        if a.step is Step.ADD:
            mirrored.add(a.entry)
    return Before(frozenset(e.key for e in server if e.watched), mirrored)


def test_a_first_sync_adds_what_the_server_watched_with_its_own_dates_and_nothing_else() -> None:
    server = Shelf([movie(603, at=T - 400 * DAY), episode(81189, 1, 2, at=T - 3 * DAY), movie(27205, watched=False)])
    simkl = Shelf([movie(157336, at=T)])  # watched only on Simkl: the server does not have it
    result = plan(server, simkl, None, Options(unwatch=True, from_simkl=True))
    assert steps(result) == [(Step.ADD, "movie/tmdb:603", T - 400 * DAY),
                             (Step.ADD, "episode/tvdb:81189/tv/s1e2", T - 3 * DAY)]


def test_a_re_run_with_nothing_changed_adds_nothing() -> None:
    server = Shelf([movie(603), episode(81189, 1, 2)])
    first = plan(server, Shelf(), None, Options())
    assert first.count(Step.ADD) == 2
    # Simkl's delta read may not show back-dated writes: the baseline holds the bridge's own.
    again = plan(server, after(server, Shelf(), first).simkl, after(server, Shelf(), first), Options())
    assert again.actions == []


def test_a_play_the_scrobbler_sent_is_not_added_again_but_a_later_viewing_is() -> None:
    server = Shelf([movie(603, at=T), movie(27205, at=T + 2 * SAME_VIEWING)])
    marks = {"movie/tmdb:603": T - 60, "movie/tmdb:27205": T}  # the scrobbler's marks of both
    result = plan(server, Shelf(), None, Options(), sent=lambda item: marks.get(item.key))
    assert steps(result) == [(Step.ADD, "movie/tmdb:27205", T + 2 * SAME_VIEWING)]


def test_items_are_matched_by_any_shared_id_never_by_title() -> None:
    server = Shelf([LibraryItem(Item(Kind.MOVIE, Ids(imdb="tt0133093")), True, T, title="The Matrix"),
                    LibraryItem(Item(Kind.MOVIE, Ids()), True, T, title="Home video")])
    simkl = Shelf([LibraryItem(Item(Kind.MOVIE, Ids(simkl=53992, imdb="tt0133093", tmdb=603)), True, T),
                   LibraryItem(Item(Kind.MOVIE, Ids(simkl=1)), True, T, title="Home video")])
    result = plan(server, simkl, None, Options())
    assert result.actions == [] and [(e.title, why) for e, why in result.skipped] == [("Home video", "no usable id")]


def test_watched_on_simkl_marks_the_server_only_when_asked() -> None:
    server = Shelf([episode(81189, 1, 3, watched=False)])
    simkl = Shelf([episode(81189, 1, 3, at=T - DAY, tmdb=1396)])
    assert plan(server, simkl, None, Options()).actions == []
    assert steps(plan(server, simkl, None, Options(from_simkl=True))) == [(Step.MARK, "episode/tvdb:81189/tv/s1e3", T - DAY)]


def test_an_unwatch_since_the_last_sync_follows_only_with_unwatch_on() -> None:
    both = [movie(603), movie(27205)] + [movie(n) for n in range(1, 30)]
    before = Before(frozenset(e.key for e in both), Shelf(both))
    unwatched_on_simkl = Shelf([e for e in both if e.key != "movie/tmdb:603"])
    server = Shelf([e if e.key != "movie/tmdb:27205" else movie(27205, watched=False) for e in both])
    assert plan(server, unwatched_on_simkl, before, Options(from_simkl=True)).actions == []  # off by default
    result = plan(server, unwatched_on_simkl, before, Options(from_simkl=True, unwatch=True))
    assert steps(result) == [(Step.UNMARK, "movie/tmdb:603", None), (Step.REMOVE, "movie/tmdb:27205", None)]


def test_a_plan_that_would_unwatch_much_of_the_library_is_refused_and_still_adds() -> None:
    library = [movie(n) for n in range(1, 21)]
    before = Before(frozenset(e.key for e in library), Shelf(library))
    emptied_simkl = Shelf(library[:15])  # five of twenty gone on Simkl: 25%
    server = Shelf([*library, movie(999, at=T)])
    result = plan(server, emptied_simkl, before, Options(from_simkl=True, unwatch=True))
    assert steps(result) == [(Step.ADD, "movie/tmdb:999", T)]
    assert "refused to unwatch 5 of 21 items" in result.refused[0]


def test_an_anime_episode_counted_by_tvdb_is_not_taken_for_another_cours_episode() -> None:
    # Simkl lists cour 2's episode 3 (AniDB numbering) with the show's tvdb id; the server's S1E3
    # counted by TVDB is cour 1's: it is added, not taken for watched.
    server = Shelf([episode(267440, 1, 3, mal=16498)])
    simkl = Shelf([episode(267440, 1, 3, numbering=Numbering.ANIDB, anidb=10944)])
    assert steps(plan(server, simkl, None, Options())) == [(Step.ADD, "episode/mal:16498/tv/s1e3", T)]
