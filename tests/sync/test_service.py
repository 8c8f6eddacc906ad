"""The library sync as the daemon runs it, against the Simkl emulator: each person's server library
lands on their own account with the server's dates, a revoked token changes nothing anywhere, and
every item that cannot be matched is listed with why."""

from __future__ import annotations

from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import LibraryItem
from bridge.times import parse_iso
from tests.conftest import TOKEN, eventually, make_client, watches

T = 1_700_000_000.0
MATRIX = LibraryItem(Item(Kind.MOVIE, Ids(tmdb=603)), True, T - 400 * 86400, "The Matrix", 1999, "movie:1")
BB = LibraryItem(Item(Kind.EPISODE, Ids(tvdb=81189), Numbering.TV, 1, (2,)), True, T - 3 * 86400, "Breaking Bad",
                 2008, "episode:2")
LOOSE = LibraryItem(Item(Kind.MOVIE, Ids()), True, T, "holiday.mp4", None, "movie:3")


class Library:
    """A server adapter that offers its library (the Adapter protocol's library())."""

    def __init__(self, name: str, user: str, items: list[LibraryItem]):
        self.name, self.user, self.items, self.marked = name, user, items, []

    def register_routes(self, http, sink):
        pass

    def start(self, sink):
        pass

    def stop(self):
        pass

    def resume_owner(self):
        return ("kodi", self.name.split("/")[1], self.user)

    def apply_resume(self, resumes):
        return 0

    def library(self):
        return self

    def titles(self):
        return None  # no ratings or lists: tests/sync/test_titles.py has those

    def read_library(self):
        return self.items

    def mark_watched(self, marks):
        self.marked += marks
        return len(marks)

    def mark_unwatched(self, entries):
        self.marked += [(e, None) for e in entries]
        return len(entries)


def test_each_persons_library_reaches_their_own_account_with_its_own_dates(emulator, bridge_for) -> None:
    emulator.add_token("bob-token-0123456789abcdef", "bob")
    alice, bob = Library("kodi/lounge", "alice", [MATRIX, LOOSE]), Library("kodi/den", "bob", [BB])
    bridge = bridge_for("sync: {enabled: true}", adapters=[alice, bob])
    bridge.tokens.put("bob", "bob-token-0123456789abcdef")
    bridge.start(reconcile=False)
    eventually(lambda: watches(emulator, "alice") and watches(emulator, "bob"), "both accounts' watches")
    assert [(w["title"], parse_iso(w["watched_at"])) for w in watches(emulator, "alice")] == [("The Matrix", T - 400 * 86400)]
    assert [(w["season"], w["number"], parse_iso(w["watched_at"])) for w in watches(emulator, "bob")] == [(1, 2, T - 3 * 86400)]
    # The report is written when every account's run is over, which may be after the sender's POSTs
    path = bridge.config.state_dir / "sync-unmatched.txt"
    report = eventually(lambda: path.exists() and path.read_text(), "the matching report")
    assert report == "alice\tkodi/lounge\tmovie\tholiday.mp4\tmovie:3\tno usable id\n"


def test_a_re_run_with_nothing_changed_reads_at_most_what_the_bridges_own_writes_moved(emulator, bridge_for) -> None:
    bridge = bridge_for("sync: {enabled: false}", adapters=[Library("kodi/lounge", "alice", [MATRIX])])
    bridge.sync.run_once()
    assert bridge.flush().sent == 1
    seen = len(emulator.requests)

    def since() -> list[str]:
        nonlocal seen
        new, seen = emulator.requests[seen:], len(emulator.requests)
        return [f"{r['method']} {r['path']}" for r in new]

    bridge.sync.run_once()  # our own write moved the movies bucket: one delta read, nothing written
    assert since() == ["GET /sync/activities", "GET /sync/all-items/movies"] and bridge.flush().requests == 0
    bridge.sync.run_once()
    assert since() == ["GET /sync/activities"] and bridge.flush().requests == 0


def test_a_revoked_token_changes_nothing_anywhere(emulator, bridge_for) -> None:
    # Watched on both sides at the first sync; then the token is revoked. A sync that took the
    # refused reads for an empty Simkl library would unwatch everything on the server.
    server = Library("kodi/lounge", "alice", [MATRIX])
    bridge = bridge_for("sync: {enabled: false, unwatch: true}", adapters=[server])
    make_client(emulator).add_history({"movies": [{"ids": {"tmdb": 603}, "watched_at": "2023-01-01T00:00:00Z"}]})
    bridge.sync.run_once()
    before = bridge.sync.baseline.simkl("alice")
    emulator.revoke(TOKEN)
    assert bridge.sync.run_once() == []
    assert server.marked == [] and bridge.outbox.pending() == 0
    assert list(bridge.sync.baseline.simkl("alice")) == list(before)


def test_a_pause_on_another_device_becomes_a_resume_point_within_one_sync(emulator, bridge_for) -> None:
    class Resumable(Library):
        def __init__(self, *args):
            super().__init__(*args)
            self.resumes = []

        def apply_resume(self, resumes):
            self.resumes += resumes
            return len(resumes)

    server = Resumable("kodi/lounge", "alice", [MATRIX])
    bridge = bridge_for("sync: {enabled: false}", adapters=[server])
    bridge.sync.run_once()  # the first sync: the baseline has the activities
    make_client(emulator).scrobble("pause", {"progress": 40, "movie": {"ids": {"tmdb": 27205}}})  # on a phone
    bridge.sync.run_once()
    assert [(r.ids.tmdb, r.progress) for r in server.resumes] == [(27205, 40.0)]
