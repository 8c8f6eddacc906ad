"""The command line as a user runs it: a real subprocess, its output and its exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    done = cli("status", "-c", str(config))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["accounts"]["alice"].startswith("not logged in: run simkl-bridge login --account alice")
    assert report["parked"] == []


@pytest.mark.slow
def test_demo_shows_history_and_playbacks_from_the_emulator() -> None:
    done = cli("demo", timeout=30)
    assert done.returncode == 0, done.stderr
    history = done.stdout.split("What Simkl now holds:")[1]
    # The evening's movie was finished twice (a rewatch) despite a duplicate stop; the episode stays paused.
    assert history.count("The Matrix") == 2
    assert "Breaking Bad" in history and "S01E02" in history and "at 30%" in history
