"""The whole bridge (engine, outbox, sender, client, reconciliation) against the emulator."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import requests

from bridge.events import Ids, Kind, PlayEvent, State
from bridge.simkl.auth import TokenStore
from bridge.times import parse_iso
from tests.conftest import SECRET, TOKEN, eventually, make_client, watches

MATRIX = PlayEvent("plex", "home", "alice", "1", Kind.MOVIE, Ids(tmdb=603), State.PLAYING, duration=100, title="The Matrix")


def at(event: PlayEvent, state: State, position: float, when: float, **kw) -> PlayEvent:
    return replace(event, state=state, position=position, at=when, **kw)


def test_household_plays_land_on_their_own_accounts(emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.engine")
    emulator.add_token("bob-token", "bob")
    bridge = bridge_for()
    TokenStore(bridge.config.state_dir).put("bob", "bob-token")
    t = 1_700_000_000.0
    for user, session in (("alice", "1"), ("bob", "2"), ("guest", "3")):
        bridge.sink(at(MATRIX, State.PLAYING, 0, t, user=user, session=session))
        bridge.sink(at(MATRIX, State.STOPPED, 100, t + 60, user=user, session=session))
    bridge.flush()
    assert len(watches(emulator, "alice")) == 1 and len(watches(emulator, "bob")) == 1
    assert sum(len(u["watches"]) for u in emulator.state()["users"].values()) == 2
    assert any("'guest' maps to no Simkl account" in r.getMessage() for r in caplog.records)


def test_events_over_http_reach_simkl_and_garbage_is_refused(emulator, bridge_for) -> None:
    bridge = bridge_for()
    bridge.start(reconcile=False)
    url = f"{bridge.http.url}/{SECRET}/event"
    bad = requests.post(url, json={"kind": "movie", "state": "stopped", "ids": {"tmdb": "abc"}}, timeout=5)
    assert bad.status_code == 400 and "event.ids.tmdb" in bad.json()["error"]
    assert requests.post(url, data=b"\x00\xff", timeout=5).status_code == 400
    ok = requests.post(url, json={"kind": "movie", "state": "stopped", "ids": {"tmdb": 603}, "user": "alice",
                                  "position": 95, "duration": 100, "source": "kodi"}, timeout=5)
    assert ok.status_code == 202
    eventually(lambda: watches(emulator), "the watch on Simkl")
    assert len(watches(emulator)) == 1
    # Simkl holds the watch before its answer reaches the bridge, which counts the write sent only then.
    eventually(lambda: requests.get(f"{bridge.http.url}/{SECRET}/status", timeout=5).json()["outbox"]["alice"]["sent"] == 1,
               "the status to count the write sent")


def test_a_revoked_token_waits_for_login_then_delivers(emulator, bridge_for) -> None:
    bridge = bridge_for()
    emulator.revoke(TOKEN)
    bridge.sink(at(MATRIX, State.STOPPED, 100, 1_700_000_000.0))
    report = bridge.flush()
    assert report.blocked == ["alice"] and bridge.outbox.pending("alice") == 1
    bridge.flush()
    assert bridge.outbox.pending("alice") == 1  # nothing discarded
    emulator.add_token("relogged", "alice")
    TokenStore(bridge.config.state_dir).put("alice", "relogged")  # what `simkl-bridge login` does
    assert bridge.flush().sent == 1 and len(watches(emulator)) == 1


def test_a_restart_does_not_mark_the_same_viewing_again(emulator, bridge_for) -> None:
    t = 1_700_000_000.0
    first = bridge_for()
    first.sink(at(MATRIX, State.PLAYING, 0, t))
    first.sink(at(MATRIX, State.STOPPED, 100, t + 100))
    first.flush()
    first.outbox.close()
    second = bridge_for(clock=lambda: t + 200)
    second.sink(at(MATRIX, State.STOPPED, 100, t + 150, session="webhook"))  # the server repeats itself
    assert second.flush().requests == 0
    assert len(watches(emulator)) == 1


def test_delivered_writes_are_pruned_and_their_marks_still_keep_a_replay_out(emulator, bridge_for) -> None:
    t = 1_700_000_000.0
    now = [t]
    first = bridge_for("outbox: {keep_sent_days: 1}", clock=lambda: now[0])
    first.sink(at(MATRIX, State.PLAYING, 0, t))
    first.sink(at(MATRIX, State.STOPPED, 100, t + 100))
    assert first.flush().sent == 1
    now[0] = t + 2 * 86400
    first.tick()
    assert first.outbox.counts() == {}  # the delivered write is gone from the file
    first.sink(at(MATRIX, State.STOPPED, 100, t + 100))  # the very same stop, replayed by the server
    assert first.outbox.pending() == 0
    first.outbox.close()
    second = bridge_for(clock=lambda: now[0])
    second.sink(at(MATRIX, State.STOPPED, 100, t + 150, session="webhook"))  # another source, the same viewing
    assert second.flush().requests == 0
    assert len(watches(emulator)) == 1


def test_offline_plays_are_delivered_once_simkl_is_back(emulator, bridge_for) -> None:
    bridge = bridge_for()
    emulator.fault("down")
    t = 1_700_000_000.0
    bridge.sink(at(MATRIX, State.STOPPED, 100, t))
    bridge.sink(at(MATRIX, State.STOPPED, 90, t + 5 * 86400, session="2", ids=Ids(tmdb=27205), title="Inception"))
    assert bridge.flush().sent == 0 and bridge.outbox.pending() == 2
    emulator.recover()
    bridge.clock = lambda: time.time() + 3600  # past the backoff
    assert bridge.flush().sent == 2
    assert sorted(w["title"] for w in watches(emulator)) == ["Inception", "The Matrix"]


class RecordingAdapter:
    name = "rec"

    def __init__(self, user: str = "alice"):
        self.user = user
        self.resumes = []

    def resume_owner(self):
        return ("plex", "home", self.user)

    def register_routes(self, http, sink):
        pass

    def start(self, sink):
        pass

    def stop(self):
        pass

    def apply_resume(self, resumes):
        self.resumes.extend(resumes)
        return len(resumes)


def test_startup_reconciliation(emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.daemon")
    simkl = make_client(emulator, max_retries=0)
    simkl.scrobble("pause", {"progress": 40, "movie": {"ids": {"tmdb": 603}}})
    simkl.scrobble("pause", {"progress": 25, "show": {"ids": {"tvdb": 81189}}, "episode": {"season": 1, "number": 3}})
    paused = max(parse_iso(p["paused_at"]) for p in simkl.get_playback())
    adapter = RecordingAdapter()
    # The bridge's client is the one that just wrote: its pacing spaces the bridge's writes from these.
    bridge = bridge_for(adapters=[adapter], client_factory=lambda account, token: simkl)
    # watched on another device after the pause; not yet delivered when the bridge starts
    bridge.sink(at(MATRIX, State.STOPPED, 100, paused + 30))
    summary = bridge.reconcile()
    assert (summary.kept, summary.removed, summary.pushed) == (1, 1, 1)
    (resume,) = adapter.resumes
    assert (resume.kind, resume.ids.tvdb, resume.season, resume.episode, resume.progress) == (Kind.EPISODE, 81189, 1, 3, 25.0)
    left = make_client(emulator).get_playback()
    assert [p["type"] for p in left] == ["episode"]
    assert any("kept 1 / removed 1 / pushed 1" in r.getMessage() for r in caplog.records)


def test_silent_sessions_are_closed_by_the_ticker(emulator, bridge_for) -> None:
    bridge = bridge_for()
    t = 1_700_000_000.0
    bridge.sink(at(MATRIX, State.PLAYING, 0, t))
    bridge.sink(at(MATRIX, State.PLAYING, 92, t + 92))
    bridge.tick(now=t + 92 + 1800)
    bridge.flush()
    assert [w["watched_at"] for w in watches(emulator)] == ["2023-11-14T22:14:52Z"]


def test_each_persons_simkl_pauses_become_only_their_own_resume_points(emulator, bridge_for) -> None:
    emulator.add_token("bob-token-0123456789abcdef", "bob")
    make_client(emulator).scrobble("pause", {"progress": 40, "movie": {"ids": {"tmdb": 603}}})
    make_client(emulator, token="bob-token-0123456789abcdef").scrobble(
        "pause", {"progress": 70, "movie": {"ids": {"tmdb": 27205}}})
    alices, bobs, nobodys = RecordingAdapter("alice"), RecordingAdapter("bob"), RecordingAdapter("carol")
    bridge = bridge_for(adapters=[alices, bobs, nobodys])
    bridge.tokens.put("bob", "bob-token-0123456789abcdef")
    assert bridge.reconcile().pushed == 2
    assert [r.ids.tmdb for r in alices.resumes] == [603]
    assert [r.ids.tmdb for r in bobs.resumes] == [27205]
    assert nobodys.resumes == []  # carol maps to no account: fail-closed


# -- running unattended ------------------------------------------------------------------------


def test_a_reload_applies_what_it_can_and_names_what_waits_for_a_restart(emulator, bridge_for) -> None:
    from tests.conftest import config_for

    bridge = bridge_for()
    root = logging.getLogger()
    level = root.level
    try:
        new = config_for(emulator, bridge.config.state_dir.parent,
                         "log_level: debug\noutbox: {batch_size: 7}\nkodi: [{name: lr}]\nengine: {watched_threshold: 50}\n")
        applied, restart = bridge.reconfigure(new)
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(level)
    assert sorted(applied) == ["engine.watched_threshold", "log_level", "outbox.batch_size"] and restart == ["kodi"]
    assert bridge.sender.batch_size == 7 and bridge.engine.threshold == 50
    assert bridge.adapters == []  # the new server waits for a restart


def test_the_outbox_is_private_from_the_first_write(bridge_for) -> None:
    import stat

    bridge = bridge_for()
    bridge.sink(at(MATRIX, State.STOPPED, 100, 1_700_000_000.0))
    files = sorted(bridge.config.state_dir.glob("outbox.sqlite*"))
    assert {f.name for f in files} >= {"outbox.sqlite", "outbox.sqlite-wal", "outbox.sqlite-shm"}
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if "seal" not in f.name} == {
        "outbox.sqlite": 0o600, "outbox.sqlite-wal": 0o600, "outbox.sqlite-shm": 0o600}


def test_a_disabled_server_is_not_connected_to(emulator, tmp_path) -> None:
    from bridge.daemon import build_adapters
    from tests.conftest import config_for

    config = config_for(emulator, tmp_path, "kodi: [{name: lr, enabled: false}, {name: bedroom}]\n")
    assert [a.name for a in build_adapters(config)] == ["kodi/bedroom"]


def test_each_delivered_write_is_one_info_line(emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bridge.sender")
    bridge = bridge_for()
    t = 1_700_000_000.0
    bridge.sink(at(MATRIX, State.STOPPED, 100, t))
    bridge.sink(at(MATRIX, State.STOPPED, 100, t + 10, session="2", ids=Ids(tmdb=27205), title="Inception"))
    bridge.sink(at(MATRIX, State.PAUSED, 30, t + 20, session="3", ids=Ids(tmdb=157336), title="Interstellar"))
    bridge.flush()
    lines = [r.getMessage() for r in caplog.records if "delivered" in r.getMessage()]
    assert [line.split(" (")[0] for line in lines] == [
        "alice: delivered The Matrix watched", "alice: delivered Inception watched", "alice: delivered Interstellar paused at 30.0%"]
    assert "POST /sync/history" in lines[0] and "POST /sync/history" in lines[1] and "POST /scrobble/pause" in lines[2]


def test_a_token_env_account_uses_its_variable_or_else_its_login(emulator, tmp_path, monkeypatch) -> None:
    """The daemon and `status` read a token by one rule: the variable when it is set, else the
    token `login` stored (before, a login of such an account was shown but never used)."""
    from bridge.config import parse
    from bridge.daemon import Bridge

    config = parse(f"state_dir: {tmp_path}\nsimkl: {{client_id: emulator-client, api_url: '{emulator.url}'}}\n"
                   "accounts: {bob: {token_env: BOB_TOKEN_FOR_TEST}}\nusers: [{account: bob}]\n")
    bridge = Bridge(config, adapters=[], client_factory=lambda _a, token: make_client(emulator, token=token, max_retries=0))
    monkeypatch.delenv("BOB_TOKEN_FOR_TEST", raising=False)
    assert bridge.token_for("bob") is None
    emulator.add_token("bob-login-token-0123", "bob")
    TokenStore(tmp_path).put("bob", "bob-login-token-0123")
    bridge.sink(at(MATRIX, State.STOPPED, 100, 1_700_000_000.0))
    assert bridge.flush().sent == 1 and len(watches(emulator, "bob")) == 1
    monkeypatch.setenv("BOB_TOKEN_FOR_TEST", "bob-env-token")
    assert bridge.token_for("bob") == "bob-env-token"
    bridge.stop()
