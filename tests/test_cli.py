"""The command line as a user runs it: a real subprocess, its output and its exit status."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.config import load
from bridge.daemon import Bridge
from bridge.events import Ids, Kind, PlayEvent, State
from bridge.simkl.auth import TokenStore
from tests.conftest import TOKEN, make_client
from tests.test_daemon import MATRIX, at

EPISODE = {"source": "kodi", "server": "lr", "user": "alice", "session": 3, "kind": "episode", "state": "stopped",
           "ids": {"tvdb": 81189, "imdb": "tt0903747"}, "season": 1, "episodes": [2, 3], "position": 2300, "duration": 2400,
           "title": "Breaking Bad", "year": 2008, "matched_by": "kodi:uniqueid.tvdb"}


def cli(*args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", *args], input=stdin, capture_output=True, text=True, timeout=timeout)


def test_map_prints_the_event_and_the_exact_history_body(tmp_path: Path) -> None:
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps(EPISODE))
    done = cli("map", "--from", "event", str(payload))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["event"]["matched_by"] == "kodi:uniqueid.tvdb"
    assert out["event"]["episodes"] == [2, 3]
    # A two-episode file marks both episodes, under the show's ids; no watched_at in the preview.
    (show,) = out["history"]["shows"]
    assert show["ids"] == {"tvdb": 81189, "imdb": "tt0903747"}
    assert show["seasons"] == [{"number": 1, "episodes": [{"number": 2}, {"number": 3}]}]
    assert "watched_at" not in json.dumps(out["history"])


def test_map_reads_standard_input() -> None:
    done = cli("map", "--from", "event", "-", stdin=json.dumps(dict(EPISODE, kind="movie", ids={"tmdb": 603}, title="The Matrix")))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["history"] == {"movies": [{"title": "The Matrix", "year": 2008, "ids": {"tmdb": 603}}]}


@pytest.mark.parametrize(
    ("source", "payload", "message"),
    [
        ("event", "{not json", "not JSON"),
        ("event", json.dumps(dict(EPISODE, ids={"tmdb": "x"})), "event.ids.tmdb: 'x' is not a valid tmdb id"),
        ("event", json.dumps(dict(EPISODE, kind="song")), "event.kind: 'song' is not one of movie, episode"),
        ("winamp", "{}", "unknown source 'winamp'"),
    ],
)
def test_map_refuses_what_it_cannot_map_in_one_line(tmp_path: Path, source: str, payload: str, message: str) -> None:
    path = tmp_path / "payload"
    path.write_text(payload)
    done = cli("map", "--from", source, str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_map_names_a_missing_file(tmp_path: Path) -> None:
    done = cli("map", "--from", "event", str(tmp_path / "nope.json"))
    assert done.returncode == 2 and "nope.json: No such file or directory" in done.stderr


def test_a_bad_config_stops_run_with_the_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("simkl:\n  client_id: abc\naccounts:\n  alice: {}\nengine:\n  watched_treshold: 80\n")
    done = cli("run", "-c", str(config), timeout=20)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "config.yaml:6" in line and "engine.watched_treshold" in line


def test_status_reports_accounts_that_need_a_login(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nsimkl:\n  client_id: abc\naccounts:\n  alice: {{}}\n")
    done = cli("status", "--json", "-c", str(config))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (alice,) = report["accounts"]
    assert alice["name"] == "alice" and not alice["logged_in"]
    assert alice["login_hint"] == "run `simkl-bridge login --account alice`"
    assert report["parked"] == [] and report["daemon"] is None
    assert not (tmp_path / "state").exists()  # looking changes nothing


@pytest.mark.slow
def test_demo_shows_history_and_playbacks_from_the_emulator() -> None:
    done = cli("demo", timeout=30)
    assert done.returncode == 0, done.stderr
    history = done.stdout.split("What Simkl now holds:")[1]
    # The evening's movie was finished twice (a rewatch) despite a duplicate stop; the episode stays paused.
    assert history.count("The Matrix") == 2
    assert "Breaking Bad" in history and "S01E02" in history and "at 30%" in history


# -- status and the queue, for people ------------------------------------------------------------

OBSCURE = PlayEvent("kodi", "lr", "alice", "9", Kind.MOVIE, Ids(tmdb=999999001), State.STOPPED, position=100, duration=100,
                    title="Obscure Film", year=1971, at=1_700_000_100.0)


def household(emulator, tmp_path: Path, extra: str = "") -> Path:
    """The conftest household's config as a file (for the CLI), and its state: The Matrix delivered,
    a film Simkl does not know parked, Inception waiting."""
    path = tmp_path / "config.yaml"
    path.write_text(f"""state_dir: {tmp_path}/state
simkl: {{client_id: emulator-client, api_url: "{emulator.url}"}}
accounts: {{alice: {{}}, bob: {{token_env: BOB_TOKEN_FOR_TEST}}}}
users: [{{user: alice, account: alice}}, {{user: bob, account: bob}}]
{extra}""")
    store = TokenStore(tmp_path / "state")
    store.put("alice", TOKEN)
    bridge = Bridge(load(path), adapters=[], client_factory=lambda _a, token: make_client(emulator, token=token, max_retries=0))
    bridge.sink(at(MATRIX, State.STOPPED, 100, 1_700_000_000.0))
    bridge.sink(OBSCURE)
    assert bridge.flush().sent == 1
    bridge.sink(at(MATRIX, State.STOPPED, 100, 1_700_000_200.0, session="2", ids=Ids(tmdb=27205), title="Inception"))
    bridge.stop()
    bridge.outbox.close()
    return path


def test_status_for_a_person_names_titles_results_and_what_to_do(emulator, tmp_path: Path) -> None:
    config = household(emulator, tmp_path)
    done = cli("status", "-c", str(config))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "daemon: not running" in out
    assert "account alice: logged in (token from login)" in out
    assert re.search(r"sent 1, last delivery \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s ago\)", out)
    assert re.search(r"pending 1:\n    #\d+ Inception watched\n", out)
    assert re.search(r"parked 1:\n    #\d+ Obscure Film \(1971\) watched: not found on Simkl\n", out)
    assert "account bob: not logged in: run `simkl-bridge login --account bob` or set BOB_TOKEN_FOR_TEST" in out
    assert "simkl-bridge queue retry ID" in out


def test_status_json_and_a_token_from_the_environment(emulator, tmp_path: Path) -> None:
    config = household(emulator, tmp_path)
    done = subprocess.run([sys.executable, "-m", "bridge", "status", "--json", "-c", str(config)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "BOB_TOKEN_FOR_TEST": "bobs-token"})
    report = json.loads(done.stdout)
    alice, bob = report["accounts"]
    assert (alice["pending"], alice["sent"], alice["parked"]) == (1, 1, 1)
    assert alice["waiting"][0]["what"] == "Inception watched" and alice["last_error"]["error"] == "not found on Simkl"
    assert bob["logged_in"] and bob["token_from"] == "environment variable BOB_TOKEN_FOR_TEST"
    assert [w["what"] for w in report["parked"]] == ["Obscure Film (1971) watched"]


def test_queue_list_retry_and_drop_by_id(emulator, tmp_path: Path) -> None:
    config = household(emulator, tmp_path)
    listed = json.loads(cli("queue", "list", "--json", "-c", str(config)).stdout)
    by_state = {w["state"]: w for w in listed}
    assert set(by_state) == {"pending", "parked"}
    parked, pending = by_state["parked"]["id"], by_state["pending"]["id"]
    assert f"#{parked} alice parked: Obscure Film (1971) watched (not found on Simkl)" in cli("queue", "list", "-c", str(config)).stdout
    done = cli("queue", "retry", str(parked), "-c", str(config))
    assert done.returncode == 0 and done.stdout.startswith("1 parked write(s) queued again")
    assert json.loads(cli("queue", "list", "--state", "parked", "--json", "-c", str(config)).stdout) == []
    done = cli("queue", "drop", str(pending), "999999", "-c", str(config))
    assert done.returncode == 0 and done.stdout.strip() == "1 write(s) dropped; 1 were already delivered or unknown"
    left = json.loads(cli("queue", "list", "--json", "-c", str(config)).stdout)
    assert [(w["id"], w["state"]) for w in left] == [(parked, "pending")]


@pytest.mark.parametrize(("args", "message"), [
    (("retry", "--account", "carol"), "simkl-bridge: account 'carol' is not in the config (accounts: alice, bob)"),
    (("queue", "retry", "--account", "carol"), "simkl-bridge: account 'carol' is not in the config (accounts: alice, bob)"),
    (("queue", "drop"), "simkl-bridge: queue drop: name the writes to forget by id (see `simkl-bridge queue list`)"),
    (("logout", "--account", "carol"), "simkl-bridge: account 'carol' is not in the config (accounts: alice, bob)"),
])
def test_a_mistake_on_the_command_line_is_one_line_and_exit_2(emulator, tmp_path: Path, args, message) -> None:
    config = household(emulator, tmp_path)
    done = cli(*args, "-c", str(config))
    assert done.returncode == 2 and done.stderr.strip() == message


def test_login_refuses_an_unwritable_state_dir_before_showing_a_code(emulator, tmp_path: Path) -> None:
    from tests.test_service import unwritable, writable

    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path}/state\nsimkl: {{client_id: emulator-client, api_url: '{emulator.url}'}}\n"
                      "accounts: {alice: {}}\n")
    (tmp_path / "state").mkdir(mode=0o700)
    unwritable(tmp_path / "state")
    try:
        done = cli("login", "--account", "alice", "-c", str(config))
    finally:
        writable(tmp_path / "state")
    assert done.returncode == 2 and "is not writable by user" in done.stderr and len(done.stderr.splitlines()) == 1
    assert done.stdout == "" and emulator.state()["requests"] == {}  # no PIN was asked for
