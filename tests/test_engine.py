"""The engine's decisions, fed events and a clock, checked by the writes a user would see on Simkl."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.engine import Engine
from bridge.events import Ids, Kind, Numbering, PlayEvent, State
from bridge.writes import HISTORY, PAUSE, START

HOUSEHOLD = {"alice": "alice", "bob": "bob"}
DAY = 86400.0


def resolve(source: str, server: str, user: str) -> str | None:
    return HOUSEHOLD.get(user)


def movie(state: State, position: float, at: float, *, session: str = "s1", user: str = "alice", source: str = "plex") -> PlayEvent:
    return PlayEvent(source, "home", user, session, Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093"), state,
                     position=position, duration=100.0, title="The Matrix", year=1999, at=at)


def episode(state: State, position: float, at: float, *, episodes: tuple[int, ...] = (2,), session: str = "e1") -> PlayEvent:
    return PlayEvent("kodi", "lr", "alice", session, Kind.EPISODE, Ids(tvdb=81189), state, position=position,
                     duration=100.0, title="Breaking Bad", season=1, episodes=episodes, at=at)


def run(engine: Engine, *events: PlayEvent) -> list:
    writes = []
    for e in events:
        writes += engine.handle(e)
    return writes


def kinds(writes: list) -> list[str]:
    return [w.kind for w in writes]


@pytest.fixture
def engine() -> Engine:
    return Engine(resolve, threshold=80.0, session_timeout=1800.0)


def test_play_pause_resume_stop_at_end_marks_once(engine: Engine) -> None:
    writes = run(
        engine,
        movie(State.PLAYING, 0, 0),
        movie(State.PLAYING, 10, 10),  # progress updates are not player actions: nothing sent
        movie(State.PAUSED, 40, 40),
        movie(State.PAUSED, 40, 50),  # repeated paused frames
        movie(State.PLAYING, 40, 60),
        movie(State.STOPPED, 99, 120),
    )
    assert kinds(writes) == [START, PAUSE, START, HISTORY]
    assert writes[1].body["progress"] == 40.0
    assert writes[-1].body == {"movies": [{"ids": {"tmdb": 603, "imdb": "tt0133093"}, "title": "The Matrix", "year": 1999,
                                            "watched_at": "1970-01-01T00:02:00Z"}]}


def test_stop_below_threshold_saves_a_resume_point_not_a_watch(engine: Engine) -> None:
    writes = run(engine, movie(State.PLAYING, 0, 0), movie(State.STOPPED, 79.5, 100))
    assert kinds(writes) == [START, PAUSE]
    assert writes[-1].body["progress"] == 79.5


def test_threshold_is_configurable() -> None:
    strict = Engine(resolve, threshold=95.0)
    assert kinds(run(strict, movie(State.PLAYING, 0, 0), movie(State.STOPPED, 90, 10))) == [START, PAUSE]


def test_stop_while_paused_at_the_same_spot_does_not_save_twice(engine: Engine) -> None:
    writes = run(engine, movie(State.PLAYING, 0, 0), movie(State.PAUSED, 30, 30), movie(State.STOPPED, 30, 40))
    assert kinds(writes) == [START, PAUSE]


def test_server_watched_signal_then_stop_is_one_watch(engine: Engine) -> None:
    # Plex fires media.scrobble at ~90% and media.stop later: the classic double scrobble.
    writes = run(engine, movie(State.PLAYING, 0, 0), movie(State.WATCHED, 90, 90), movie(State.STOPPED, 100, 100))
    assert kinds(writes) == [START, HISTORY]


def test_duplicate_stop_events_mark_once(engine: Engine) -> None:
    writes = run(engine, movie(State.PLAYING, 0, 0), movie(State.STOPPED, 100, 100), movie(State.STOPPED, 100, 101),
                 movie(State.STOPPED, 100, 400, session="s1"))
    assert kinds(writes).count(HISTORY) == 1


def test_two_sources_for_one_play_count_once(engine: Engine) -> None:
    # Plex alerts (session "23") and the Plex webhook (its own session key) both report one play.
    alert = dict(session="23")
    hook = dict(session="hook-player-1", source="plex")
    writes = run(
        engine,
        movie(State.PLAYING, 0, 0, **alert),
        movie(State.PLAYING, 0, 1, **hook),
        movie(State.PAUSED, 50, 50, **alert),
        movie(State.PAUSED, 50, 51, **hook),
        movie(State.WATCHED, 90, 90, **hook),
        movie(State.STOPPED, 100, 100, **alert),
        movie(State.STOPPED, 100, 101, **hook),
    )
    assert kinds(writes) == [START, PAUSE, HISTORY]


def test_resumed_tail_after_a_watch_is_not_a_second_watch(engine: Engine) -> None:
    # Watched to 95% (marked), next morning the player resumes at 95% to see the credits.
    first = run(engine, movie(State.PLAYING, 0, 0), movie(State.STOPPED, 95, 100))
    tail = run(engine, movie(State.PLAYING, 95, DAY, session="s2"), movie(State.STOPPED, 100, DAY + 5, session="s2"))
    assert kinds(first).count(HISTORY) == 1
    assert HISTORY not in kinds(tail)


def test_rewatch_from_the_beginning_counts_again(engine: Engine) -> None:
    first = run(engine, movie(State.PLAYING, 0, 0), movie(State.STOPPED, 100, 100))
    again = run(engine, movie(State.PLAYING, 0, 3 * DAY, session="s2"), movie(State.STOPPED, 100, 3 * DAY + 100, session="s2"))
    assert kinds(first).count(HISTORY) == 1 and kinds(again).count(HISTORY) == 1
    assert first[-1].idem_key != again[-1].idem_key


def test_marks_survive_a_restart_through_seed(engine: Engine) -> None:
    marked = run(engine, movie(State.PLAYING, 0, 0), movie(State.STOPPED, 100, 100))[-1]
    restarted = Engine(resolve)
    restarted.seed_marks([(marked.account, marked.item, marked.at)])
    # The server re-reports the finished session after the bridge restarted.
    assert run(restarted, movie(State.STOPPED, 100, 200)) == []


def test_household_plays_land_on_their_own_accounts(engine: Engine) -> None:
    writes = run(engine, movie(State.STOPPED, 100, 10, user="alice"), movie(State.STOPPED, 100, 20, user="bob", session="s9"))
    assert [(w.account, w.kind) for w in writes] == [("alice", HISTORY), ("bob", HISTORY)]


def test_unmapped_user_is_dropped_with_one_log_line(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bridge.engine")
    writes = run(engine, *(movie(State.PLAYING, p, p, user="guest") for p in range(5)), movie(State.STOPPED, 100, 100, user="guest"))
    assert writes == []
    lines = [r.getMessage() for r in caplog.records if "guest" in r.getMessage()]
    assert len(lines) == 1 and "maps to no Simkl account" in lines[0]


def test_multi_episode_file_marks_every_episode(engine: Engine) -> None:
    writes = run(engine, episode(State.PLAYING, 0, 0, episodes=(1, 2)), episode(State.STOPPED, 100, 50, episodes=(1, 2)))
    show = writes[-1].body["shows"][0]
    assert [e["number"] for e in show["seasons"][0]["episodes"]] == [1, 2]
    assert show["seasons"][0]["number"] == 1


def test_anime_in_anidb_numbering_goes_to_the_anime_bucket(engine: Engine) -> None:
    ev = replace(episode(State.STOPPED, 100, 10, episodes=(4,)), ids=Ids(anidb=9541), numbering=Numbering.ANIDB)
    body = run(engine, ev)[0].body
    assert list(body) == ["anime"]
    assert body["anime"][0]["seasons"] == [{"number": 1, "episodes": [{"number": 4, "watched_at": "1970-01-01T00:00:10Z"}]}]


def test_next_item_in_the_same_session_closes_the_previous_one(engine: Engine) -> None:
    ep2 = episode(State.PLAYING, 99, 100, episodes=(2,))
    ep3 = episode(State.PLAYING, 0, 101, episodes=(3,))
    writes = run(engine, episode(State.PLAYING, 0, 0, episodes=(2,)), ep2, ep3)
    assert kinds(writes) == [START, HISTORY, START]
    assert writes[1].body["shows"][0]["seasons"][0]["episodes"][0]["number"] == 2


def test_silent_session_is_closed_from_its_last_known_position(engine: Engine) -> None:
    run(engine, movie(State.PLAYING, 0, 0), movie(State.PLAYING, 85, 85))
    assert engine.tick(1000) == []  # not silent long enough
    writes = engine.tick(85 + 1800)
    assert kinds(writes) == [HISTORY]
    assert writes[0].body["movies"][0]["watched_at"] == "1970-01-01T00:01:25Z"
    assert engine.sessions == {}


def test_silent_session_below_threshold_keeps_a_resume_point(engine: Engine) -> None:
    run(engine, movie(State.PLAYING, 0, 0), movie(State.PLAYING, 30, 30))
    writes = engine.tick(30 + 1800)
    assert kinds(writes) == [PAUSE] and writes[0].body["progress"] == 30.0


def test_stop_without_position_uses_the_last_known_one(engine: Engine) -> None:
    # Kodi's OnStop carries no position: the engine keeps the last polled one.
    stop = replace(movie(State.STOPPED, 0, 100), duration=0.0)
    writes = run(engine, movie(State.PLAYING, 0, 0), movie(State.PLAYING, 92, 92), stop)
    assert kinds(writes) == [START, HISTORY]


def test_start_writes_can_be_turned_off() -> None:
    quiet = Engine(resolve, send_start=False)
    assert kinds(run(quiet, movie(State.PLAYING, 0, 0), movie(State.PAUSED, 50, 50))) == [PAUSE]


def test_idempotency_keys_are_stable_for_the_same_viewing(engine: Engine) -> None:
    a = run(Engine(resolve), movie(State.PLAYING, 0, 0), movie(State.STOPPED, 100, 100))
    b = run(Engine(resolve), movie(State.PLAYING, 0, 0), movie(State.STOPPED, 100, 100))
    assert [w.idem_key for w in a] == [w.idem_key for w in b]


def test_episode_known_only_by_its_own_ids_is_marked_but_saves_no_resume_point() -> None:
    # A webhook that names the episode but not its show: Simkl can mark it, not scrobble it.
    engine = Engine(resolve)
    ep_only = replace(episode(State.PLAYING, 10, 0), ids=Ids(), episode_ids=Ids(tvdb=349232))
    other = replace(ep_only, episode_ids=Ids(tvdb=349238), session="e2")
    writes = run(engine, ep_only, replace(ep_only, state=State.PAUSED, position=40, at=60),
                 replace(ep_only, state=State.STOPPED, position=95, at=120))
    assert kinds(writes) == [HISTORY]
    assert writes[0].body == {"episodes": [{"ids": {"tvdb": 349232}, "watched_at": "1970-01-01T00:02:00Z"}]}
    # Two such episodes of one unknown show are different items, not one.
    assert writes[0].item_key != other.item_key


def test_a_stale_stop_from_a_second_source_leaves_no_resume_point_on_a_watched_item(engine: Engine) -> None:
    # Alerts mark the film at 85%; the webhook's stop then arrives with the position it last knew.
    hook = dict(session="hook-player-1")
    writes = run(engine, movie(State.PLAYING, 0, 0), movie(State.PLAYING, 0, 1, **hook),
                 movie(State.STOPPED, 85, 85), movie(State.STOPPED, 45, 86, **hook))
    assert kinds(writes) == [START, HISTORY]


def test_a_rewatch_on_a_session_that_never_stopped_counts_again(engine: Engine) -> None:
    # A webhook player: watched (media.scrobble) but no media.stop; days later, played again from the start.
    hook = dict(session="hook-player-1")
    first = run(engine, movie(State.PLAYING, 0, 0, **hook), movie(State.WATCHED, 90, 90, **hook))
    again = run(engine, movie(State.PLAYING, 0, 600, **hook), movie(State.WATCHED, 90, 690, **hook),
                movie(State.STOPPED, 100, 700, **hook))
    assert kinds(first) == [START, HISTORY]
    assert kinds(again) == [START, HISTORY]


def test_a_marked_session_reporting_an_unknown_position_is_not_a_rewatch(engine: Engine) -> None:
    hook = dict(session="hook-player-1")
    writes = run(engine, movie(State.PLAYING, 0, 0, **hook), movie(State.WATCHED, 90, 90, **hook),
                 replace(movie(State.PLAYING, 0, 95, **hook), duration=0.0), movie(State.STOPPED, 100, 100, **hook))
    assert kinds(writes) == [START, HISTORY]


def test_only_a_viewing_the_engine_finds_to_be_a_rewatch_says_so(engine: Engine) -> None:
    """Simkl's Rewatches guide: a rewatch flag only on a real new viewing, never on a duplicate, a
    resumed tail or the first viewing."""
    first = run(engine, movie(State.PLAYING, 0, 0), movie(State.STOPPED, 100, 100))
    duplicate = run(engine, movie(State.STOPPED, 100, 101, session="webhook"))
    tail = run(engine, movie(State.PLAYING, 95, DAY, session="s2"), movie(State.STOPPED, 100, DAY + 5, session="s2"))
    again = run(engine, movie(State.PLAYING, 0, 3 * DAY, session="s3"), movie(State.STOPPED, 100, 3 * DAY + 100, session="s3"))
    engine.tick(20 * DAY)  # the marks are forgotten (MARK_MEMORY): the next viewing is a first one again
    hook = dict(session="hook-player-1")
    started_over = run(engine, movie(State.PLAYING, 0, 20 * DAY, **hook), movie(State.WATCHED, 90, 20 * DAY + 90, **hook),
                       movie(State.PLAYING, 0, 20 * DAY + 600, **hook), movie(State.WATCHED, 90, 20 * DAY + 690, **hook))
    marks = [w for w in first + duplicate + tail + again + started_over if w.kind == HISTORY]
    assert [w.rewatch for w in marks] == [False, True, False, True]
    assert [w.at for w in marks] == [100, 3 * DAY + 100, 20 * DAY + 90, 20 * DAY + 690]
