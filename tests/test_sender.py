"""Draining the outbox into Simkl: batching, outages, 429, revoked tokens, refusals."""

from __future__ import annotations

import logging
from dataclasses import replace
from itertools import pairwise

import pytest

from bridge import confirm
from bridge.events import Ids, Item, Kind, PlayEvent, State
from bridge.item import Numbering
from bridge.library import LibraryItem, Title
from bridge.outbox import Outbox
from bridge.outbox_view import OutboxView
from bridge.sender import Sender
from bridge.simkl.bodies import history_body, scrobble_body
from bridge.simkl.client import TransientError
from bridge.sync.outgoing import list_write, rate_write, unrate_write, unwatch_write
from bridge.times import iso
from bridge.writes import HISTORY, PAUSE, Write
from tests.conftest import TOKEN, make_client

DAY = 86400.0


def movie_watch(tmdb: int, at: float, account: str = "alice", title: str = "") -> Write:
    ev = PlayEvent("plex", "home", account, "1", Kind.MOVIE, Ids(tmdb=tmdb), State.STOPPED, title=title)
    return Write(account, HISTORY, ev.item, f"h:{account}:{tmdb}:{at}", history_body(ev, iso(at)), at)


def episode_watch(season: int, number: int, at: float, account: str = "alice") -> Write:
    ev = PlayEvent("kodi", "lr", account, "1", Kind.EPISODE, Ids(tvdb=81189), State.STOPPED, season=season, episodes=(number,))
    return Write(account, HISTORY, ev.item, f"h:{account}:{season}:{number}:{at}", history_body(ev, iso(at)), at)


def watches_of(emulator, user="alice") -> list[dict]:
    return emulator.state()["users"].get(user, {}).get("watches", [])


class Recording:
    """A stand-in client that records what the sender asked of it (the sender's own logic under
    test), and answers as Simkl does when it records everything."""

    def __init__(self):
        self.history_calls: list[dict] = []

    def add_history(self, body, allow_rewatch=False):
        self.history_calls.append(body)
        episodes = sum(len(s["episodes"]) for show in body.get("shows", []) for s in show["seasons"])
        return {"added": {"movies": len(body.get("movies", [])), "shows": len(body.get("shows", [])),
                          "episodes": episodes}, "not_found": {"movies": [], "shows": [], "episodes": []}}


def test_a_backlog_of_10000_watches_goes_out_in_20_requests(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(10_000):
        box.enqueue(episode_watch(1 + i % 5, 1 + i % 7, 1_700_000_000 + i))
    client = Recording()
    report = Sender(box, lambda a: client, batch_size=500).flush_once(now=2e9)
    assert report.requests == len(client.history_calls) == 20
    assert sum(len(b["shows"]) for b in client.history_calls) == 10_000
    assert report.sent == 10_000 and box.pending() == 0


def test_a_request_of_many_writes_is_one_log_line_and_of_a_few_a_line_each(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.sender")
    box = Outbox(tmp_path / "o.sqlite")
    for n in range(1, 22):
        box.enqueue(episode_watch(1, n, 1_700_000_000 + n))
    Sender(box, lambda a: Recording(), batch_size=21).flush_once(now=2e9)
    lines = [r.getMessage() for r in caplog.records if "delivered" in r.getMessage()]
    assert lines == ["alice: delivered 21 writes, tvdb:81189 S01E01 watched to tvdb:81189 S01E21 watched (POST /sync/history (21 in one request))"]
    for n in range(1, 21):
        box.enqueue(episode_watch(2, n, 1_700_000_000 + n))
    caplog.clear()
    Sender(box, lambda a: Recording(), batch_size=21).flush_once(now=2e9)
    lines = [r.getMessage() for r in caplog.records if "delivered" in r.getMessage()]
    assert len(lines) == 20 and lines[0] == "alice: delivered tvdb:81189 S02E01 watched (POST /sync/history (20 in one request))"


def test_history_and_playbacks_reach_simkl(emulator, tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(movie_watch(603, 1_700_000_000))
    box.enqueue(episode_watch(1, 2, 1_700_000_100))
    ev = PlayEvent("kodi", "lr", "alice", "1", Kind.EPISODE, Ids(tvdb=81189), State.PAUSED, position=30, duration=100, season=1, episodes=(5,))
    box.enqueue(Write("alice", PAUSE, ev.item, "p1", scrobble_body(ev), 1))
    report = Sender(box, lambda a: make_client(emulator)).flush_once()
    assert (report.requests, report.sent) == (2, 3)
    assert sorted(w["label"] for w in watches_of(emulator)) == ["", "S01E02"]
    (pb,) = make_client(emulator).get_playback()
    assert pb["progress"] == 30 and pb["episode"]["number"] == 5


def test_an_outage_of_several_minutes_delivers_everything_exactly_once(emulator, tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    now = [1_700_000_000.0]
    client = make_client(emulator)  # one client: its pacing spaces every POST of this test
    sender = Sender(box, lambda a: client, clock=lambda: now[0], backoff_base=5, backoff_cap=120)
    emulator.fault("down")
    for i in range(30):
        box.enqueue(episode_watch(2 + i // 13, 1 + i % 13, now[0] - i * 3 * DAY))
        if i % 10 == 0:
            box.enqueue(episode_watch(1, 1 + i // 10, now[0] - i))
    attempts = 0
    while now[0] < 1_700_000_000 + 6 * 60:  # six simulated minutes of Simkl being down
        attempts += sender.flush_once().requests
        now[0] += 10
    assert box.pending() == 33 and attempts < 36 / 2, "backoff should space the attempts out"
    emulator.recover()
    for _ in range(30):
        sender.flush_once()
        now[0] += 130
    assert box.pending() == 0
    assert len(watches_of(emulator)) == 33
    # a re-run of the same writes (a replayed sync) is refused locally and ignored by Simkl
    again = episode_watch(2, 1, 1_700_000_000.0)
    assert box.enqueue(again) is False
    client.add_history(again.body)
    assert len(watches_of(emulator)) == 33


def test_429_retry_after_is_obeyed(emulator, tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(movie_watch(603, 1_700_000_000))
    emulator.fault("429", count=5, retry_after=40)
    now = [1000.0]
    sender = Sender(box, lambda a: make_client(emulator, max_retries=0), clock=lambda: now[0], backoff_base=1, rng=lambda: 0)
    assert sender.flush_once().retried == 1
    (entry,) = box.due("alice", now=2000)
    assert entry.next_at >= 1040 and "429" in entry.last_error
    now[0] = 1039
    assert sender.flush_once().requests == 0  # not before Retry-After
    emulator.recover()
    now[0] = 1041
    assert sender.flush_once().sent == 1


def test_a_revoked_token_blocks_only_that_account_and_keeps_its_queue(emulator, tmp_path, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="bridge.sender")
    emulator.add_token("bob-token", "bob")
    box = Outbox(tmp_path / "o.sqlite")
    tokens = {"alice": TOKEN, "bob": "bob-token"}
    sender = Sender(box, lambda a: make_client(emulator, token=tokens[a]))
    emulator.revoke("bob-token")
    box.enqueue(movie_watch(603, 1_700_000_000, "alice"))
    box.enqueue(movie_watch(603, 1_700_000_000, "bob"))
    box.enqueue(movie_watch(27205, 1_700_000_000, "bob"))
    report = sender.flush_once()
    assert report.blocked == ["bob"] and report.sent == 1
    assert box.pending("bob") == 2 and box.parked() == []
    (line,) = [r.getMessage() for r in caplog.records]
    assert "simkl-bridge login --account bob" in line and "2 write(s) kept queued" in line and "bob-token" not in line
    assert sender.flush_once().requests == 0  # blocked: no hammering with a dead token
    # bob logs in again: a new token unblocks the account and the queue goes out
    emulator.add_token("bob-new", "bob")
    tokens["bob"] = "bob-new"
    sender.unblock("bob")
    assert sender.flush_once().sent == 2
    assert len(watches_of(emulator, "bob")) == 2


def test_not_found_items_are_parked_alone(emulator, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.sender")
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(movie_watch(603, 1_700_000_000))
    box.enqueue(movie_watch(987654321, 1_700_000_000, title="Home Video"))
    report = Sender(box, lambda a: make_client(emulator)).flush_once()
    assert (report.sent, report.parked) == (1, 1)
    (parked,) = box.parked()
    assert parked.item_key == "movie/tmdb:987654321" and parked.last_error == "not found on Simkl"
    assert any("Home Video" in r.getMessage() for r in caplog.records)


def test_permanent_refusals_are_parked_with_the_reason(emulator, tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(Write("alice", PAUSE, Item(Kind.MOVIE, Ids(tmdb=603)), "p", {"progress": 150, "movie": {"ids": {"tmdb": 603}}}, 1))
    report = Sender(box, lambda a: make_client(emulator)).flush_once()
    assert report.parked == 1
    assert "400 wrong_parameter" in box.parked()[0].last_error


def test_not_logged_in_accounts_wait(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.sender")
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(movie_watch(603, 1))
    sender = Sender(box, lambda a: None)
    sender.flush_once()
    sender.flush_once()
    assert box.pending() == 1
    assert len([r for r in caplog.records if "not logged in" in r.getMessage()]) == 1


def test_the_run_loop_survives_surprises(tmp_path) -> None:
    import threading

    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(movie_watch(603, 1))
    calls = []

    class Flaky:
        def add_history(self, body, allow_rewatch=False):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("surprise")
            raise TransientError("down", retry_after=0)

    stop = threading.Event()
    sender = Sender(box, lambda a: Flaky(), backoff_base=0.001, backoff_cap=0.001)
    t = threading.Thread(target=sender.run, args=(stop, None, 0.01))
    t.start()
    import time

    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(5)
    assert len(calls) >= 3 and box.pending() == 1


def test_an_outage_costs_one_request_per_backoff_step_however_much_waits(emulator, tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(200):  # 20 batches of 10
        box.enqueue(movie_watch(603, 1_700_000_000.0 - i * DAY))
    now = [1_700_000_000.0]
    client = make_client(emulator)
    sender = Sender(box, lambda a: client, clock=lambda: now[0], batch_size=10, backoff_base=5, backoff_cap=60,
                    rng=lambda: 1.0)
    emulator.fault("down")
    per_second = []
    while now[0] < 1_700_000_000 + 600:  # ten simulated minutes, a flush every second
        per_second.append(sender.flush_once().requests)
        now[0] += 1
    # One probe per backoff step: 5, 10, 20, 40, then every 60 s.
    assert max(per_second) == 1
    probes = [t for t, n in enumerate(per_second) if n]
    assert probes[:5] == [0, 5, 15, 35, 75] and all(b - a == 60 for a, b in pairwise(probes[4:]))
    assert sum(per_second) == len(probes) == 13 and box.pending() == 200
    emulator.recover()
    now[0] = 1_700_000_000 + 600 + 60
    report = sender.flush_once()
    assert (report.requests, report.sent, box.pending()) == (20, 200, 0)  # drained at the normal pace
    assert sender.next_wake() is None and sender.gates == {}


def test_a_sender_with_only_logged_out_accounts_waiting_sleeps(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(movie_watch(603, 1, account="carol"))
    sender = Sender(box, lambda a: None)
    assert sender.next_wake() == 0.0  # not yet tried: due now
    sender.flush_once()
    assert sender.next_wake() is None  # only a login helps, and the idle recheck looks for one


def top_level_episode(tvdb: int, at: float) -> Write:
    ev = PlayEvent("plex", "home", "alice", "1", Kind.EPISODE, Ids(), State.STOPPED, season=1, episodes=(1,),
                   episode_ids=Ids(tvdb=tvdb))
    return Write("alice", HISTORY, ev.item, f"e:{tvdb}:{at}", history_body(ev, iso(at)), at)


def test_what_simkl_matched_but_did_not_record_is_parked_with_the_reason(emulator, tmp_path, caplog) -> None:
    """Simkl answers an episode number its catalog lacks with 201, nothing counted and nothing in
    not_found. The counts fall short, Simkl's library is read back, and only that episode is parked."""
    caplog.set_level(logging.WARNING, logger="bridge.sender")
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(movie_watch(603, 1_700_000_000))
    box.enqueue(episode_watch(1, 2, 1_700_000_100))
    box.enqueue(episode_watch(1, 99, 1_700_000_200))  # Breaking Bad's first season has 7
    report = Sender(box, lambda a: make_client(emulator)).flush_once()
    assert (report.requests, report.sent, report.parked) == (2, 2, 1)  # the write, then the library read back
    (parked,) = box.parked()
    assert parked.item_key.endswith("/s1e99") and "did not record it" in parked.last_error
    assert sorted(w["label"] for w in watches_of(emulator)) == ["", "S01E02"]
    assert any("did not record it" in r.getMessage() for r in caplog.records)


def test_a_write_simkl_already_held_is_delivered_not_parked(emulator, tmp_path) -> None:
    """A resend after a crash (the same body, the same watched_at) counts nothing: Simkl's library
    says it holds it, so it is delivered."""
    box = Outbox(tmp_path / "o.sqlite")
    write = episode_watch(1, 3, 1_700_000_000)
    client = make_client(emulator)
    client.add_history(write.body)  # Simkl took it; the bridge died before marking it sent
    box.enqueue(write)
    report = Sender(box, lambda a: client).flush_once()
    assert (report.requests, report.sent, report.parked) == (2, 1, 0)


def test_an_episode_simkl_echoes_reduced_in_not_found_is_parked(emulator, tmp_path) -> None:
    """The add-to-history reference echoes an unmatched top-level episode reduced (ids as strings,
    no watched_at): it is still recognised as the write Simkl did not find."""
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(top_level_episode(349232, 1_700_000_000))  # Breaking Bad S1E2
    box.enqueue(top_level_episode(4242, 1_700_000_000))
    report = Sender(box, lambda a: make_client(emulator)).flush_once()
    assert (report.sent, report.parked) == (1, 1)
    (parked,) = box.parked()
    assert parked.item_key == "episode-ids/tvdb:4242" and parked.last_error == "not found on Simkl"


@pytest.mark.parametrize("status", ["403", "412", "423"])
def test_api_limits_wait_long_and_growing_and_say_so_once(emulator, tmp_path, caplog, status) -> None:
    caplog.set_level(logging.INFO, logger="bridge.sender")
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(movie_watch(603, 1_700_000_000))
    now = [1000.0]
    client = make_client(emulator)
    client.get_activities()  # Simkl knows this client id: a 412 now is its total limit
    sender = Sender(box, lambda a: client, clock=lambda: now[0], rng=lambda: 1.0)
    emulator.fault(status, count=3)
    waits = []
    for _ in range(3):
        assert sender.flush_once().retried == 1
        waits.append(sender.gates["alice"].until - now[0])
        now[0] = sender.gates["alice"].until
    assert waits == [300, 600, 1200] and box.parked() == []  # minutes, doubling; never parked
    (entry,) = box.due("alice", now=1e12)
    assert "API limits" in entry.last_error and sender.gates["alice"].quota is True
    loud = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(loud) == 1 and "API limits" in loud[0].getMessage() and "1 write(s) kept queued" in loud[0].getMessage()
    assert sender.flush_once().sent == 1 and sender.gates == {}


class Rewatches:
    """A real client, with the rewatch flag of every history POST noted."""

    def __init__(self, client):
        self.client, self.flags = client, []

    def add_history(self, body, allow_rewatch=False):
        self.flags.append(allow_rewatch)
        return self.client.add_history(body, allow_rewatch=allow_rewatch)

    def get_all_items(self, *a, **kw):
        return self.client.get_all_items(*a, **kw)


def rewatch_of(write: Write, at: float) -> Write:
    body = {"movies": [{**write.body["movies"][0], "watched_at": iso(at)}]}
    return Write(write.account, HISTORY, write.item, f"{write.idem_key}:again", body, at, rewatch=True)


def test_only_a_rewatch_on_an_opted_in_account_asks_for_a_session(emulator, tmp_path) -> None:
    emulator.add_token(TOKEN, "alice", plan="vip")
    box = Outbox(tmp_path / "o.sqlite")
    first = movie_watch(603, 1_700_000_000)
    box.enqueue(first)
    box.enqueue(rewatch_of(first, 1_700_000_000 + 3 * DAY))
    box.enqueue(movie_watch(27205, 1_700_000_000))
    client = Rewatches(make_client(emulator))
    Sender(box, lambda a: client, track_rewatches=lambda a: a == "alice").flush_once()
    assert client.flags == [False, True]  # the two plain writes together, the rewatch alone
    sessions = [w["rewatch_id"] for w in watches_of(emulator) if w["title"] == "The Matrix"]
    assert sessions[0] is None and isinstance(sessions[1], int)
    assert [rid for _, rid in rewatch_rows(box)] == [sessions[1]]


def test_a_rewatch_on_an_account_that_did_not_opt_in_is_a_plain_write(emulator, tmp_path) -> None:
    emulator.add_token(TOKEN, "alice", plan="vip")
    box = Outbox(tmp_path / "o.sqlite")
    first = movie_watch(603, 1_700_000_000)
    box.enqueue(first)
    box.enqueue(rewatch_of(first, 1_700_000_000 + 3 * DAY))
    client = Rewatches(make_client(emulator))
    report = Sender(box, lambda a: client).flush_once()
    assert client.flags == [False, False] and (report.sent, report.parked) == (2, 0)
    assert len(watches_of(emulator)) == 1  # Simkl keeps the first watch alone


def test_a_resent_rewatch_names_the_session_simkl_opened_and_nothing_else_does(emulator, tmp_path) -> None:
    emulator.add_token(TOKEN, "alice", plan="vip")
    box = Outbox(tmp_path / "o.sqlite")
    first = movie_watch(603, 1_700_000_000)
    box.enqueue(first)
    box.enqueue(rewatch_of(first, 1_700_000_000 + 3 * DAY))
    client = make_client(emulator)  # one client: its pacing spaces both flushes' POSTs
    sender = Sender(box, lambda a: client, track_rewatches=lambda a: True)
    sender.flush_once()
    ((rewatch_row, session),) = rewatch_rows(box)
    assert session is not None
    box.park([rewatch_row], "for the test")
    box.requeue_parked()  # `simkl-bridge retry`: the same write goes again
    assert sender.flush_once().sent == 1
    bodies = [r["body"] for r in emulator.requests if r["path"] == "/sync/history"]
    assert [b["movies"][0].get("rewatch_id") for b in bodies] == [None, None, session]
    assert len(watches_of(emulator)) == 2  # the resend joined its session: no phantom third


def rewatch_rows(box: Outbox) -> list[tuple[int, int | None]]:
    """(id, rewatch_id) of every rewatch write the outbox holds, sent or not."""
    return box._db.execute("SELECT id, rewatch_id FROM writes WHERE rewatch=1 ORDER BY id").fetchall()


# -- library writes: history removals, ratings, add-to-list ----------------------------------------

T = 1_700_000_000.0
MATRIX = Title(Item(Kind.MOVIE, Ids(tmdb=603)), "The Matrix", 1999)
INCEPTION = Title(Item(Kind.MOVIE, Ids(tmdb=27205)), "Inception", 2010)
INTERSTELLAR = Title(Item(Kind.MOVIE, Ids(tmdb=157336)), "Interstellar", 2014)
BREAKING_BAD = Title(Item(Kind.SHOW, Ids(tvdb=81189)), "Breaking Bad", 2008)
AOT = Title(Item(Kind.SHOW, Ids(anidb=9541), Numbering.ANIDB), "Shingeki no Kyojin", 2013)


def calls(emulator) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in emulator.requests]


def test_library_writes_reach_simkl_after_history_one_request_per_kind_and_bucket(emulator, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.sender")
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue_many([
        rate_write("alice", MATRIX, 9, T - 400 * DAY, T), list_write("alice", INCEPTION, "plantowatch", T),
        rate_write("alice", AOT, 10, None, T), list_write("alice", BREAKING_BAD, "hold", T),
        list_write("alice", INTERSTELLAR, "plantowatch", T), episode_watch(1, 1, T - DAY), episode_watch(1, 2, T - DAY),
        unwatch_write("alice", LibraryItem(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (2,)), False), T),
    ])
    # The unwatch came after the watch of S01E02: the watch is sent, then taken back.
    report = Sender(box, lambda a: make_client(emulator)).flush_once()
    assert (report.requests, report.sent, report.parked, box.pending()) == (5, 8, 0, 0)
    assert calls(emulator) == ["POST /sync/history", "POST /sync/history/remove", "POST /sync/add-to-list",
                               "POST /sync/add-to-list", "POST /sync/ratings"]
    alice = emulator.state()["users"]["alice"]
    assert [w["label"] for w in alice["watches"]] == ["S01E01"]
    assert alice["lists"] == {"67890": "plantowatch", "120405": "plantowatch", "11121": "hold", "53992": "completed",
                              "39687": "watching"}  # rating what is not listed files it (the add-ratings page)
    assert alice["ratings"]["53992"] == {"rating": 9, "rated_at": iso(T - 400 * DAY)}  # its real date, not now
    assert alice["ratings"]["39687"]["rating"] == 10
    lines = [r.getMessage() for r in caplog.records if "delivered" in r.getMessage()]
    assert "alice: delivered moved Inception (2010) to Plan to Watch (POST /sync/add-to-list (2 in one request))" in lines
    assert "alice: delivered rated The Matrix (1999) 9/10 (POST /sync/ratings (2 in one request))" in lines


def test_a_rating_cleared_and_a_bucket_changed_on_simkl(emulator, tmp_path) -> None:
    box, client = Outbox(tmp_path / "o.sqlite"), make_client(emulator)  # one client: its pacing spaces every POST
    sender = Sender(box, lambda a: client)
    box.enqueue_many([rate_write("alice", MATRIX, 7, T, T), list_write("alice", BREAKING_BAD, "plantowatch", T)])
    sender.flush_once()
    box.enqueue_many([unrate_write("alice", MATRIX, T + 2 * 3600), list_write("alice", BREAKING_BAD, "dropped", T + 2 * 3600)])
    assert sender.flush_once().sent == 2
    alice = emulator.state()["users"]["alice"]
    assert alice["ratings"] == {} and alice["lists"] == {"53992": "completed", "11121": "dropped"}


def test_thousands_of_ratings_go_out_in_requests_of_the_batch_size(emulator, tmp_path) -> None:
    movies = [emulator.add_catalog({"type": "movie", "title": f"Film {n}", "year": 2000, "ids": {"simkl": 900000 + n,
                                                                                                 "tmdb": 800000 + n}})
              for n in range(1200)]
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue_many([rate_write("alice", Title(Item(Kind.MOVIE, Ids(tmdb=m["ids"]["tmdb"])), m["title"]), 1 + n % 10, T, T)
                      for n, m in enumerate(movies)])
    report = Sender(box, lambda a: make_client(emulator), batch_size=500).flush_once()
    assert (report.requests, report.sent) == (3, 1200)
    assert len(emulator.state()["users"]["alice"]["ratings"]) == 1200


def test_what_simkl_does_not_know_is_parked_alone_with_a_reason_status_shows(emulator, tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    unknown_anime = Title(Item(Kind.SHOW, Ids(anidb=99999999), Numbering.ANIDB), "Fansub Special")
    box.enqueue_many([rate_write("alice", MATRIX, 8, T, T), rate_write("alice", unknown_anime, 6, T, T),
                      list_write("alice", Title(Item(Kind.MOVIE, Ids(tmdb=987654321)), "Home Video"), "plantowatch", T),
                      list_write("alice", INCEPTION, "plantowatch", T)])
    report = Sender(box, lambda a: make_client(emulator)).flush_once()
    assert (report.sent, report.parked) == (2, 2)  # an anime Simkl does not know is echoed among the shows
    view = OutboxView(tmp_path / "o.sqlite")
    assert [(r.what, r.error) for r in view.parked()] == [("rated Fansub Special 6/10", "not found on Simkl"),
                                                           ("moved Home Video to Plan to Watch", "not found on Simkl")]
    assert sorted(emulator.state()["users"]["alice"]["ratings"]) == ["53992"]


def test_a_rating_simkl_counts_short_is_read_back_and_what_it_ignored_is_parked(emulator, tmp_path) -> None:
    """Simkl ignores a rating out of 1-10 without a word (the add-ratings page): the bridge never
    makes one, but its reply counting short is all a client would see of any such loss."""
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(rate_write("alice", MATRIX, 8, T, T))
    ignored = rate_write("alice", INCEPTION, 8, T, T)
    box.enqueue(replace(ignored, body={"movies": [{**ignored.body["movies"][0], "rating": 0}]}))
    report = Sender(box, lambda a: make_client(emulator)).flush_once()
    assert (report.requests, report.sent, report.parked) == (2, 1, 1)
    assert calls(emulator) == ["POST /sync/ratings", "GET /sync/ratings/movies/8"]
    (parked,) = box.parked()
    assert parked.item_key == "movie/tmdb:27205" and parked.last_error == confirm.NOT_RATED


def test_an_outage_holds_library_writes_behind_one_backoff_and_delivers_them_once(emulator, tmp_path) -> None:
    box, client, now = Outbox(tmp_path / "o.sqlite"), make_client(emulator), [T]
    sender = Sender(box, lambda a: client, clock=lambda: now[0], backoff_base=5, backoff_cap=60)
    box.enqueue_many([rate_write("alice", MATRIX, 9, T, T), list_write("alice", INCEPTION, "plantowatch", T),
                      unrate_write("alice", BREAKING_BAD, T)])
    emulator.fault("down")
    attempts = sum(sender.flush_once().requests for _ in range(5))
    assert attempts == 1 and box.pending() == 3  # the gate closed: nothing more until the backoff ends
    emulator.recover()
    now[0] += 3600
    assert sender.flush_once().sent == 3 and box.pending() == 0
    alice = emulator.state()["users"]["alice"]
    assert alice["ratings"]["53992"]["rating"] == 9 and alice["lists"]["67890"] == "plantowatch"


def test_a_movie_unwatched_leaves_simkls_library_whole_its_rating_too(emulator, tmp_path) -> None:
    """The history-removal page: a movie with nothing else leaves the library with its list entry
    and rating: Simkl's only way to unwatch a movie (a rating alone is cleared by ratings/remove)."""
    box, client = Outbox(tmp_path / "o.sqlite"), make_client(emulator)
    sender = Sender(box, lambda a: client)
    box.enqueue_many([movie_watch(603, T - DAY), rate_write("alice", MATRIX, 9, T, T),
                      rate_write("alice", INCEPTION, 7, T, T)])
    sender.flush_once()
    box.enqueue(unwatch_write("alice", LibraryItem(MATRIX.item, False, None, "The Matrix", 1999), T))
    assert sender.flush_once().sent == 1
    alice = emulator.state()["users"]["alice"]
    assert alice["watches"] == [] and sorted(alice["ratings"]) == ["67890"] and "53992" not in alice["lists"]
