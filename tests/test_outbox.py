"""The durable outbox: idempotent, superseding, surviving restarts, safe across threads."""

from __future__ import annotations

import threading
from dataclasses import replace

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import LibraryItem, Title
from bridge.outbox import Outbox
from bridge.sync.outgoing import history_write, list_write, rate_write, unrate_write, unwatch_write
from bridge.writes import HISTORY, LIST, PAUSE, RATE, START, UNRATE, Write, describe


def movie(tmdb: int) -> Item:
    return Item(Kind.MOVIE, Ids(tmdb=tmdb))


def w(kind: str, tmdb: int = 603, key: str | None = None, account: str = "alice", at: float = 1.0) -> Write:
    body = {"movies": [{"ids": {"tmdb": 603}, "watched_at": f"t{at}"}]} if kind == HISTORY else {"progress": at}
    item = movie(tmdb)
    return Write(account, kind, item, key or f"{kind}:{item.key}:{at}", body, at)


def test_enqueue_is_idempotent_and_survives_reopening(tmp_path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    assert box.enqueue(w(HISTORY)) is True
    assert box.enqueue(w(HISTORY)) is False
    box.close()
    again = Outbox(path)
    (entry,) = again.due("alice", now=10)
    assert entry.body == {"movies": [{"ids": {"tmdb": 603}, "watched_at": "t1.0"}]}
    again.mark_sent([entry.id])
    assert again.enqueue(w(HISTORY)) is False  # a sent write is still known: never sent twice
    assert again.due("alice", now=10) == []


def test_latest_playback_write_wins_and_a_watch_supersedes_it(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(w(START, at=1))
    box.enqueue(w(PAUSE, at=2))
    box.enqueue(w(PAUSE, tmdb=27205, at=3))
    assert [(e.kind, e.at) for e in box.due("alice", 10)] == [(PAUSE, 2), (PAUSE, 3)]
    box.enqueue(w(HISTORY, at=4))
    assert [(e.kind, e.item_key) for e in box.due("alice", 10)] == [(PAUSE, "movie/tmdb:27205"), (HISTORY, "movie/tmdb:603")]


def test_the_latest_rating_and_bucket_of_a_title_win_and_touch_nothing_else(tmp_path) -> None:
    """A title has one rating and one bucket: a newer decision replaces one not sent yet. A rating
    is not a playback (a pause of the same movie stays), nor is a bucket a rating."""
    box = Outbox(tmp_path / "o.sqlite")
    matrix = Title(movie(603), "The Matrix", 1999)
    box.enqueue(w(PAUSE, at=1))
    box.enqueue(rate_write("alice", matrix, 7, 10.0, 0))
    box.enqueue(list_write("alice", matrix, "plantowatch", 0))
    box.enqueue(rate_write("alice", matrix, 8, 20.0, 0))
    box.enqueue(list_write("alice", matrix, "dropped", 0))
    assert [(e.kind, describe(e.kind, e.body)) for e in box.due("alice", 10)] == [
        (PAUSE, "? paused at 1%"), (RATE, "rated The Matrix (1999) 8/10"), (LIST, "moved The Matrix (1999) to Dropped")]
    box.enqueue(unrate_write("alice", matrix, 0))
    assert [e.kind for e in box.due("alice", 10)] == [PAUSE, LIST, UNRATE]
    box.mark_sent([e.id for e in box.due("alice", 10, kind=UNRATE)])
    box.enqueue(rate_write("alice", matrix, 9, 30.0, 0))  # what was sent stays sent
    assert box.counts() == {"alice": {"pending": 3, "sent": 1, "parked": 0}}


def test_a_watch_after_an_unwatch_not_yet_sent_is_the_newer_fact(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    episode = LibraryItem(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (3,)), True, 50.0, "Breaking Bad")
    box.enqueue(unwatch_write("alice", episode, 0, viewing=40.0))
    box.enqueue(history_write("alice", episode, 50.0, 60.0))
    assert [e.kind for e in box.due("alice", 100)] == [HISTORY]


def test_sent_playback_writes_are_not_touched_by_supersede(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(w(PAUSE, at=1))
    box.mark_sent([e.id for e in box.due("alice", 10)])
    box.enqueue(w(PAUSE, at=2))
    assert box.counts() == {"alice": {"pending": 1, "sent": 1, "parked": 0}}


def test_retry_schedule_and_parking(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(w(HISTORY, at=1))
    box.enqueue(w(HISTORY, tmdb=1, at=2))
    first, second = box.due("alice", 10)
    box.retry([first.id], next_at=100, error="503")
    assert [e.id for e in box.due("alice", 50)] == [second.id]
    assert box.accounts_with_due(50) == ["alice"]
    (later,) = [e for e in box.due("alice", 100) if e.id == first.id]
    assert (later.attempts, later.last_error) == (1, "503")
    box.park(second.id, "400 wrong_parameter")
    assert [(e.id, e.last_error) for e in box.parked()] == [(second.id, "400 wrong_parameter")]
    assert box.requeue_parked("alice") == 1 and len(box.due("alice", 100)) == 2


def test_marks_since_feeds_the_engine_after_a_restart(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(w(HISTORY, at=5))
    box.enqueue(w(HISTORY, tmdb=1, at=50))
    box.enqueue(w(PAUSE, tmdb=2, at=60))
    assert box.marks_since(10) == [("alice", movie(1), 50)]


def test_prune_keeps_pending_and_parked(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(3):
        box.enqueue(w(HISTORY, tmdb=1 + i, at=i))
    a, b, c = box.due("alice", 10)
    box.mark_sent([a.id], now=5)
    box.park(b.id, "x", now=5)
    assert box.prune(sent_before=6, marks_before=0) == 1
    assert box.counts()["alice"] == {"pending": 1, "sent": 0, "parked": 1}


def test_many_threads_enqueue_while_one_drains(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    stop = threading.Event()
    drained: list[int] = []

    def drain():
        while not stop.is_set() or box.pending():
            entries = box.due("alice", 1e12, limit=50)
            box.mark_sent([e.id for e in entries])
            drained.extend(e.id for e in entries)

    def produce(n: int):
        for i in range(200):
            box.enqueue(w(HISTORY, tmdb=1 + n * 1000 + i, at=i))

    sender = threading.Thread(target=drain)
    sender.start()
    producers = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for t in producers:
        t.start()
    for t in producers:
        t.join()
    stop.set()
    sender.join(10)
    assert len(drained) == len(set(drained)) == 800
    assert box.counts()["alice"]["sent"] == 800


def test_every_query_of_the_running_bridge_is_an_index_range(tmp_path) -> None:
    """What the sender, the engine and reconciliation ask while the bridge runs never reads the
    whole table nor sorts it: each is an index range in the order wanted (the query plans say so),
    so a backlog of a million writes costs each call what ten did."""
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(50):
        box.enqueue(w(HISTORY, tmdb=1 + i, at=i))
        box.enqueue(w(PAUSE, tmdb=1000 + i, at=i, account="bob"))
    executed: list[str] = []
    box._db.set_trace_callback(executed.append)
    box.enqueue(w(PAUSE, tmdb=1, at=100))
    box.enqueue(w(HISTORY, tmdb=2000, at=101))
    box.accounts_with_due(200)
    box.next_due_per_account()
    (first, *_) = box.due("alice", 200, limit=10, kind=HISTORY)
    box.due("bob", 200, limit=10)
    box.mark_sent([first.id], now=300)
    box.retry([first.id + 1], next_at=400, error="503")
    box.marks_since(10)
    box.prune(sent_before=250, marks_before=0)
    box._db.set_trace_callback(None)
    queries = [q for q in executed if q.split()[0].upper() in ("SELECT", "DELETE", "UPDATE", "WITH")]
    assert len(queries) >= 12
    for query in queries:
        plan = " | ".join(row[3] for row in box._db.execute("EXPLAIN QUERY PLAN " + query))
        assert "TEMP B-TREE" not in plan, (query, plan)
        scans = [step for step in plan.split(" | ") if step.startswith("SCAN") and not step.startswith("SCAN acc")]
        assert scans == [], (query, plan)


def test_marks_grow_with_the_items_watched_not_with_how_often(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for at in (5.0, 50.0, 20.0):  # the same film watched three times, reported out of order
        box.enqueue(w(HISTORY, at=at))
    box.enqueue(w(HISTORY, tmdb=2, at=7.0))
    assert box.marks_since(0) == [("alice", movie(2), 7.0), ("alice", movie(603), 50.0)]
    assert box._db.execute("SELECT COUNT(*) FROM marks").fetchone()[0] == 2
    assert box.enqueue(w(HISTORY, at=5.0)) is False  # an older watch's write is still known by its row


def test_a_rewatch_and_the_session_simkl_opened_for_it_are_kept(tmp_path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    box.enqueue(w(HISTORY, at=1))
    box.enqueue(replace(w(HISTORY, at=2), rewatch=True))
    plain, rewatch = box.due("alice", now=10)
    assert (plain.rewatch, rewatch.rewatch, rewatch.rewatch_id) == (False, True, None)
    box.set_rewatch_id(rewatch.id, 7480)
    box.park([rewatch.id], "for the test")
    box.close()
    (parked,) = Outbox(path).parked()
    assert (parked.rewatch, parked.rewatch_id) == (True, 7480)
