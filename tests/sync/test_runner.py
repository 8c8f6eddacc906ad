"""One account's sync end to end, with a scripted Simkl and a scripted server library: the gate's
requests, additions through the outbox, a re-run that adds nothing, a kill that loses nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import LibraryItem
from bridge.outbox import Outbox
from bridge.sender import Sender
from bridge.sync import runner
from bridge.sync.baseline import Baseline
from bridge.sync.plan import Options, Step
from bridge.sync.runner import plan_from_json, plan_json, sync_account
from bridge.times import iso
from bridge.writes import HISTORY, Write
from tests.conftest import make_client

T = 1_700_000_000.0
STAMP = "2024-01-01T00:00:00Z"


class Simkl:
    def __init__(self, library: dict[str, Any]):
        self.library, self.calls = library, []
        self.activities = {"all": STAMP, **{b: {"all": STAMP, "completed": STAMP} for b in ("tv_shows", "anime", "movies")}}

    def get_activities(self) -> dict[str, Any]:
        self.calls.append("activities")
        return self.activities

    def get_all_items(self, kind: str | None = None, status: str | None = None, **params: str) -> Any:
        self.calls.append(f"all-items/{kind} {sorted(params.items())}")
        return {kind: self.library.get(kind, [])} if self.library.get(kind) else None


class Server:
    name = "plex/home"

    def __init__(self, items: list[LibraryItem]):
        self.items, self.marked = items, []

    def read_library(self) -> list[LibraryItem]:
        return self.items

    def mark_watched(self, marks):
        self.marked += marks
        return len(marks)

    def mark_unwatched(self, entries):
        return 0


MATRIX = LibraryItem(Item(Kind.MOVIE, Ids(tmdb=603)), True, T - 400 * 86400, "The Matrix", 1999, "1")
INCEPTION = LibraryItem(Item(Kind.MOVIE, Ids(imdb="tt1375666")), True, T - 3 * 86400, "Inception", 2010, "2")
BB_S1E3 = LibraryItem(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (3,)), False, None, "Breaking Bad", 2008, "3")
SIMKL_LIBRARY = {"shows": [{"last_watched_at": "2024-02-01T00:00:00Z", "status": "watching",
                            "show": {"title": "Breaking Bad", "ids": {"simkl": 17465, "tvdb": "81189"}},
                            "seasons": [{"number": 1, "episodes": [{"number": 3, "watched_at": "2024-02-01T00:00:00Z"}]}]}]}


def pending(box: Outbox) -> list[str]:
    return [e.item_key for e in box.due("alice", 1e12, kind=HISTORY)]


def test_first_sync_then_a_re_run_with_nothing_changed(tmp_path) -> None:
    simkl, server = Simkl(SIMKL_LIBRARY), Server([MATRIX, INCEPTION, BB_S1E3])
    box, base = Outbox(tmp_path / "o.sqlite"), Baseline(tmp_path / "sync.sqlite")
    first = sync_account("alice", simkl, base, box, [(server, Options(from_simkl=True))], now=T)
    assert simkl.calls == ["activities"] + [f"all-items/{k} [('episode_watched_at', 'yes'), ('extended', 'full')]"
                                            for k in ("shows", "anime", "movies")]
    assert first.requests == 4 and first.queued == 2
    assert pending(box) == ["movie/tmdb:603", "movie/imdb:tt1375666"]
    (entry,) = [e for e in box.due("alice", 1e12, kind=HISTORY) if e.item_key == "movie/tmdb:603"]
    assert entry.body["movies"][0]["watched_at"] == iso(T - 400 * 86400)  # the server's own date
    assert [(e.key, at) for e, at in server.marked] == [("episode/tvdb:81189/tv/s1e3", 1706745600.0)]
    simkl.calls.clear()
    again = sync_account("alice", simkl, base, box, [(server, Options(from_simkl=True))], now=T + 3600)
    assert simkl.calls == ["activities"] and again.requests == 1 and again.queued == 0
    assert all(not p.actions for p in again.plans.values())


def test_a_play_the_scrobbler_sent_is_one_write(tmp_path) -> None:
    box, base = Outbox(tmp_path / "o.sqlite"), Baseline(tmp_path / "sync.sqlite")
    scrobbled = Write("alice", HISTORY, INCEPTION.item, f"history:alice:{INCEPTION.key}:x",
                      {"movies": [{"ids": {"imdb": "tt1375666"}}]}, T - 3 * 86400 + 60)
    assert box.enqueue(scrobbled)
    report = sync_account("alice", Simkl({}), base, box, [(Server([MATRIX, INCEPTION]), Options())], now=T)
    assert report.queued == 1 and sorted(pending(box)) == ["movie/imdb:tt1375666", "movie/tmdb:603"]


def test_a_sync_killed_before_its_baseline_is_saved_queues_nothing_twice(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    dry = sync_account("alice", Simkl({}), Baseline(tmp_path / "a.sqlite"), box, [(Server([MATRIX]), Options())],
                       now=T, dry_run=True)
    assert dry.queued == 0 and pending(box) == []  # a dry run writes nothing
    account, plans = plan_from_json(plan_json(dry))
    assert account == "alice" and [a.entry for a in plans["plex/home"].actions] == [MATRIX]
    sync_account("alice", Simkl({}), Baseline(tmp_path / "b.sqlite"), box, [(Server([MATRIX]), Options())], now=T)
    # as if killed before the baseline was saved: a fresh baseline plans the same addition again
    rerun = sync_account("alice", Simkl({}), Baseline(tmp_path / "c.sqlite"), box, [(Server([MATRIX]), Options())],
                         now=T + 60)
    assert rerun.queued == 0 and pending(box) == ["movie/tmdb:603"]


class Down(Server):
    name = "kodi/bedroom"

    def read_library(self) -> list[LibraryItem]:
        raise ConnectionError("Kodi is not connected")


def test_a_server_that_cannot_be_read_is_left_for_next_time_and_the_others_sync(tmp_path) -> None:
    box, base = Outbox(tmp_path / "o.sqlite"), Baseline(tmp_path / "sync.sqlite")
    report = sync_account("alice", Simkl({}), base, box, [(Down([]), Options()), (Server([MATRIX]), Options())], now=T)
    assert report.failed == {"kodi/bedroom": "ConnectionError: Kodi is not connected"}
    assert pending(box) == ["movie/tmdb:603"] and base.before("alice", "kodi/bedroom") is None


def test_the_bridges_own_writes_give_way_to_simkls_entries_once_simkl_lists_them(tmp_path) -> None:
    simkl, server = Simkl({}), Server([MATRIX])
    box, base = Outbox(tmp_path / "o.sqlite"), Baseline(tmp_path / "sync.sqlite")
    sync_account("alice", simkl, base, box, [(server, Options())], now=T)
    assert [e.key for e in base.simkl("alice")] == ["movie/tmdb:603"]  # the write just queued
    # Delivered: Simkl lists it with its own ids, and its activities moved.
    simkl.library = {"movies": [{"last_watched_at": iso(T - 400 * 86400), "status": "completed",
                                 "movie": {"title": "The Matrix", "ids": {"simkl": 53992, "tmdb": "603"}}}]}
    simkl.activities = {**simkl.activities, "movies": {"all": "2024-02-01T00:00:00Z", "completed": "2024-02-01T00:00:00Z"}}
    again = sync_account("alice", simkl, base, box, [(server, Options())], now=T + 3600)
    assert not again.plans[server.name].actions
    assert [e.key for e in base.simkl("alice")] == ["movie/simkl:53992"]  # once, as Simkl has it


def test_the_sender_is_woken_as_each_chunk_of_additions_is_committed(tmp_path, monkeypatch) -> None:
    """So it sends while the rest is still being queued and the baseline saved."""
    monkeypatch.setattr(runner, "ENQUEUE_CHUNK", 1)
    box, base = Outbox(tmp_path / "o.sqlite"), Baseline(tmp_path / "sync.sqlite")
    woken: list[tuple[list[str], object]] = []

    def queued() -> None:
        woken.append((pending(box), base.activities("alice")))

    servers = [(Server([MATRIX, INCEPTION]), Options())]
    sync_account("alice", Simkl({}), base, box, servers, now=T, queued=queued)
    assert woken == [(["movie/tmdb:603"], None), (["movie/tmdb:603", "movie/imdb:tt1375666"], None)]
    sync_account("alice", Simkl({}), base, box, servers, now=T + 60, queued=queued)
    assert len(woken) == 2  # nothing new queued: nothing to wake it for


def test_an_episode_unwatched_on_the_server_leaves_simkls_history_and_nothing_else_does(emulator, tmp_path) -> None:
    """Unwatch on: the first sync only adds; the second takes back exactly the episode unwatched on
    the server since, through the outbox, and a third has nothing left to do."""
    client = make_client(emulator)
    box, base = Outbox(tmp_path / "o.sqlite"), Baseline(tmp_path / "sync.sqlite")
    sender = Sender(box, lambda a: client)
    episodes = [LibraryItem(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (n,)), True, T - (10 - n) * 86400,
                            "Breaking Bad", 2008, f"e{n}") for n in (1, 2, 3)]
    server = Server([MATRIX, *episodes])
    options = Options(unwatch=True, unwatch_limit=0.5)
    assert sync_account("alice", client, base, box, [(server, options)], now=T).queued == 4
    sender.flush_once()
    assert sorted(w["label"] for w in watches(emulator)) == ["", "S01E01", "S01E02", "S01E03"]
    server.items = [MATRIX, episodes[0], replace(episodes[1], watched=False, watched_at=None), episodes[2]]
    second = sync_account("alice", client, base, box, [(server, options)], now=T + 3600)
    assert [(a.step, a.entry.label) for a in second.plans[server.name].actions] == [(Step.REMOVE, "Breaking Bad S01E02")]
    assert second.queued == 1
    assert sender.flush_once().sent == 1
    assert sorted(w["label"] for w in watches(emulator)) == ["", "S01E01", "S01E03"]
    third = sync_account("alice", client, base, box, [(server, options)], now=T + 7200)
    assert third.queued == 0 and not third.plans[server.name].actions


def watches(emulator) -> list[dict[str, Any]]:
    return emulator.state()["users"]["alice"]["watches"]
