"""The engine takes back a decision whose writes could not be stored (bridge/daemon.py `sink` and
`tick` call `revert()` when the outbox commit fails): afterwards it is as if the event had never
come, so the same event sent again makes the same writes, and every later decision is the one an
engine that never saw the refused event would make."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.engine import Engine
from bridge.events import Ids, Kind, PlayEvent, State
from tests.test_engine import DAY, movie, resolve


def memory(engine: Engine) -> Any:
    """Everything the engine remembers, in order (the order decides what the timeout sweep sees),
    but the running count it keeps that order by."""
    return ([(k, {name: v for name, v in vars(s).items() if name != "heard"}) for k, s in engine.sessions.items()], {k: list(v) for k, v in engine.marks.items()},
            list(engine._mark_order), dict(engine.recent), list(engine._recent_order))


def fresh() -> Engine:
    return Engine(resolve, threshold=80.0, session_timeout=1800.0)


ITEMS = (Ids(tmdb=603), Ids(tmdb=27205))
events = st.builds(
    lambda session, item, state, position, user, gap: (
        PlayEvent("plex", "home", user, session, Kind.MOVIE, item, state, position=position, duration=100.0), gap),
    session=st.sampled_from(["s1", "s2", "s3"]),
    item=st.sampled_from(ITEMS),
    state=st.sampled_from(list(State)),
    position=st.sampled_from([0.0, 2.0, 40.0, 85.0, 100.0]),
    user=st.sampled_from(["alice", "bob", "guest"]),
    gap=st.sampled_from([0.0, 10.0, 600.0, 2000.0, 8 * DAY]),
)


@settings(max_examples=300, deadline=None)
@given(script=st.lists(events, min_size=1, max_size=12), refused=st.sets(st.integers(0, 11)))
def test_a_refused_decision_leaves_no_trace(script: list[tuple[PlayEvent, float]], refused: set[int]) -> None:
    """Events and ticks in any order; those at the `refused` steps fail to store. The engine that
    reverted them decides everything else exactly as one that never saw them."""
    reverting, never_saw = fresh(), fresh()
    now = 1_700_000_000.0
    for step, (event, gap) in enumerate(script):
        now += gap
        event = replace(event, at=now)
        before = memory(reverting)
        if step in refused:
            reverting.handle(event)
            reverting.revert()
            assert memory(reverting) == before
            reverting.tick(now)
            never_saw.tick(now)
            continue
        assert reverting.handle(event) == never_saw.handle(event)
        tick = reverting.tick(now + 1800)
        assert tick == never_saw.tick(now + 1800)
        if tick and step + 1 in refused:  # the sweep's own writes fail to store as well
            reverting.revert()
            never_saw.revert()
        assert memory(reverting) == memory(never_saw)


def test_a_mark_that_could_not_be_stored_is_made_again_when_the_stop_comes_again() -> None:
    engine = fresh()
    engine.handle(movie(State.PLAYING, 0, 0))
    stop = movie(State.STOPPED, 95, 95)
    (first,) = engine.handle(stop)
    engine.revert()
    assert engine.handle(stop) == [first]  # the same write, with the same idempotency key
    assert engine.handle(replace(stop, at=96)) == []  # and marked once


def test_sessions_closed_by_a_refused_sweep_are_open_again_in_their_order() -> None:
    engine = fresh()
    for n, (session, user) in enumerate((("a", "alice"), ("b", "alice"), ("c", "bob"))):
        engine.handle(movie(State.PLAYING, 90, n, session=session, user=user))
    engine.handle(movie(State.PLAYING, 90, 1000, session="a"))  # heard again: now the newest
    order = list(engine.sessions)
    assert len(engine.tick(1801 + 1)) == 2  # b and c were silent for too long
    engine.revert()
    assert list(engine.sessions) == order == [("plex", "home", "b"), ("plex", "home", "c"), ("plex", "home", "a")]
    assert [w.kind for w in engine.tick(1801 + 1)] == ["history", "history"]
