"""A sync's additions on their way to Simkl, as a person sees it: a line in the daemon's log every
few seconds and one when done, a bar on a terminal, the time left by the POST budget, and the
pending gauge in /metrics. Counted from a real outbox; the lines' clock is a fake one."""

from __future__ import annotations

import io
import logging

from bridge.item import Ids, Item, Kind
from bridge.library import Title
from bridge.outbox import Outbox
from bridge.outbox_view import OutboxView
from bridge.sync.command import _show, deliver
from bridge.sync.outgoing import rate_write
from bridge.sync.progress import Drains, Progress
from bridge.writes import HISTORY, PAUSE, Write
from tests.conftest import eventually, make_client, watches
from tests.sync.test_service import BB, LOOSE, MATRIX, Library
from tests.test_health import metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def watched(box: Outbox, first: int, n: int, account: str = "alice") -> list[int]:
    """n of the account's watched writes, queued in one commit as a sync's chunk is; the ids of all
    that wait."""
    box.enqueue_many([Write(account, HISTORY, Item(Kind.MOVIE, Ids(tmdb=i)), f"{HISTORY}:{account}:{i}",
                            {"movies": [{"ids": {"tmdb": i}, "watched_at": "2020-01-01T00:00:00Z"}]}, 1.0)
                      for i in range(first, first + n)])
    return [e.id for e in box.due(account, 1e12, 10_000, kind=HISTORY)]


def lines(drains: Drains) -> list[str]:
    return [p.line() for p in drains.due()]


def test_the_line_says_how_far_and_the_time_left_by_the_post_budget() -> None:
    assert (Progress.of("alice", (53_900, 41_900, 0), 500).line() ==
            "sync alice: 12,000 of 53,900 sent (22%), about 84 s left at Simkl's 1 POST/s (84 POST(s) of up to 500)")
    assert Progress.of("alice", (53_900, 1, 0), 500).line().endswith("(99%), about 1 s left at Simkl's 1 POST/s "
                                                                       "(1 POST(s) of up to 500)")
    assert (Progress.of("alice", (100, 0, 3), 500).line() ==
            "sync alice: 97 of 100 sent, 3 parked (see `simkl-bridge status`) (100%), done")


def test_a_delivery_is_said_every_few_seconds_and_once_when_it_is_over(tmp_path) -> None:
    box, clock = Outbox(tmp_path / "outbox.sqlite"), Clock()
    view = OutboxView(tmp_path / "outbox.sqlite")
    drains = Drains(view, lambda: 4, every=5.0, clock=clock)
    ids = watched(box, 1, 10)
    drains.follow("alice")
    assert lines(drains) == ["sync alice: 0 of 10 sent (0%), about 3 s left at Simkl's 1 POST/s (3 POST(s) of up to 4)"]
    box.mark_sent(ids[:4])
    clock.now += 4.9
    assert lines(drains) == []  # at most one line every 5 s
    clock.now += 0.1
    assert lines(drains) == ["sync alice: 4 of 10 sent (40%), about 2 s left at Simkl's 1 POST/s (2 POST(s) of up to 4)"]
    # The sync's next chunk, queued while the first is sent: the same delivery, a bigger total.
    ids = watched(box, 11, 5)
    drains.follow("alice")
    clock.now += 5
    assert lines(drains) == ["sync alice: 4 of 15 sent (26%), about 3 s left at Simkl's 1 POST/s (3 POST(s) of up to 4)"]
    box.park(ids[0], "not found on Simkl")
    box.mark_sent(ids[1:])
    clock.now += 0.1  # the last line does not wait for the next 5 s
    assert lines(drains) == ["sync alice: 14 of 15 sent, 1 parked (see `simkl-bridge status`) (100%), done"]
    clock.now += 60
    assert lines(drains) == [] and drains.read() == {}  # said once; followed no more


def test_only_the_syncs_own_additions_are_counted(tmp_path) -> None:
    box, clock = Outbox(tmp_path / "outbox.sqlite"), Clock()
    drains = Drains(OutboxView(tmp_path / "outbox.sqlite"), lambda: 500, clock=clock)
    box.mark_sent(watched(box, 1, 3))  # delivered before the sync: not part of it
    watched(box, 100, 2, account="bob")  # another account's
    box.enqueue(Write("alice", PAUSE, Item(Kind.MOVIE, Ids(tmdb=7)), "pause:7", {"progress": 40.0}, 1.0))
    watched(box, 4, 6)
    box.enqueue(rate_write("alice", Title(Item(Kind.MOVIE, Ids(tmdb=8)), "Dune", 2021), 9, None, 1.0))  # its rating too
    drains.follow("alice")
    (alice,) = drains.read().values()
    assert (alice.account, alice.written, alice.pending, alice.sent) == ("alice", 7, 7, 0)
    drains.follow("carol")  # nothing of hers waits: nothing to follow
    assert list(drains.read()) == ["alice"]


def test_on_a_terminal_a_bar_is_redrawn_in_place_and_elsewhere_lines_are_printed(tmp_path) -> None:
    box, clock = Outbox(tmp_path / "outbox.sqlite"), Clock()
    drains = Drains(OutboxView(tmp_path / "outbox.sqlite"), lambda: 2, clock=clock)
    ids = watched(box, 1, 4)
    drains.follow("alice")
    terminal = Terminal()
    _show(drains, terminal, tty=True)
    box.mark_sent(ids[:2])
    _show(drains, terminal, tty=True)
    assert terminal.getvalue() == (
        "\r[..............................] sync alice: 0 of 4 sent (0%), about 2 s left at Simkl's 1 POST/s "
        "(2 POST(s) of up to 2)\x1b[K"
        "\r[###############...............] sync alice: 2 of 4 sent (50%), about 1 s left at Simkl's 1 POST/s "
        "(1 POST(s) of up to 2)\x1b[K")
    box.mark_sent(ids[2:])
    _show(drains, terminal, tty=True)
    assert terminal.getvalue().endswith("\rsync alice: 4 of 4 sent (100%), done\x1b[K\n")
    assert terminal.getvalue().count("\n") == 1  # one line on the screen, whatever was redrawn on it

    piped = io.StringIO()
    watched(box, 10, 3)
    drains.follow("alice")
    _show(drains, piped, tty=False)
    assert piped.getvalue() == ("sync alice: 0 of 3 sent (0%), about 2 s left at Simkl's 1 POST/s "
                                "(2 POST(s) of up to 2)\n")


def test_sync_by_hand_delivers_everything_and_ends_with_the_done_line(tmp_path, emulator) -> None:
    for out in (Terminal(), io.StringIO()):
        path = tmp_path / f"{type(out).__name__}.sqlite"
        box = Outbox(path)
        watched(box, 603 if isinstance(out, Terminal) else 27205, 1)
        watched(box, 1_000_000, 4)  # unknown to the emulator: parked
        deliver(box, lambda account: make_client(emulator), 2, out, clock=Clock())
        text = out.getvalue()
        assert text.endswith("sync alice: 1 of 5 sent, 4 parked (see `simkl-bridge status`) (100%), done"
                             + ("\x1b[K\n" if isinstance(out, Terminal) else "\n"))
        assert ("\r" in text) is isinstance(out, Terminal) and box.pending() == 0
    assert sorted(w["title"] for w in watches(emulator)) == ["Inception", "The Matrix"]


def test_the_daemon_logs_a_syncs_delivery_to_its_end(emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.sync")
    bridge = bridge_for("sync: {enabled: true}", adapters=[Library("kodi/lounge", "alice", [MATRIX, BB, LOOSE])])
    bridge.start(reconcile=False)
    said = eventually(lambda: [r.getMessage() for r in caplog.records if r.getMessage().endswith(", done")],
                      "the sync's last progress line")
    assert said == ["sync alice: 2 of 2 sent (100%), done"]
    assert len(watches(emulator)) == 2


def test_metrics_say_what_a_sync_still_has_to_send(emulator, bridge_for) -> None:
    bridge = bridge_for(adapters=[Library("kodi/lounge", "alice", [MATRIX, BB])])
    bridge.http.start()
    bridge.sync.run_once()
    m = metrics(bridge)
    assert m[("simkl_bridge_sync_pending_writes", (("account", "alice"),))] == 2
    assert m[("simkl_bridge_sync_pending_writes", (("account", "bob"),))] == 0
    assert bridge.flush().sent == 2
    assert metrics(bridge)[("simkl_bridge_sync_pending_writes", (("account", "alice"),))] == 0
