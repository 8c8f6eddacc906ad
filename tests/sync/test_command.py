"""`simkl-bridge sync` by hand: a dry run with a plan file writes nothing; applying that plan
delivers exactly it, with a progress line; mistakes are one line and exit 2."""

from __future__ import annotations

from dataclasses import replace

from bridge.cli import main
from bridge.simkl.auth import TokenStore
from bridge.times import parse_iso
from tests.conftest import TOKEN, watches
from tests.sync.simkl_app import ratings
from tests.sync.test_service import MATRIX, Library
from tests.sync.test_titles import MATRIX as RATED_MATRIX
from tests.sync.test_titles import Server


def config(tmp_path, emulator) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(f"state_dir: {tmp_path}/state\nsimkl: {{client_id: emulator-client, api_url: '{emulator.url}'}}\n"
                    "accounts: {alice: {}}\nusers: [{user: alice, account: alice}]\n"
                    "kodi: [{name: lounge, http_port: null}]\n")
    return str(path)


def test_a_dry_run_plans_and_the_plan_is_applied_as_written(tmp_path, emulator, monkeypatch, capsys) -> None:
    path = config(tmp_path, emulator)
    (tmp_path / "state").mkdir(mode=0o700)
    TokenStore(tmp_path / "state").put("alice", TOKEN)
    library = Library("kodi/lounge", "alice", [MATRIX])
    monkeypatch.setattr("bridge.sync.command.build_adapters", lambda config: [library])
    plan = tmp_path / "plan.json"
    assert main(["sync", "-c", path, "--dry-run", "--plan", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "1 to add to Simkl" in out and plan.is_file() and watches(emulator) == []
    assert main(["sync", "-c", path, "--apply", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "applied: 1 write(s) queued" in out and "sync alice: 1 of 1 sent (100%), done\n" in out
    assert [(w["title"], parse_iso(w["watched_at"])) for w in watches(emulator)] == [("The Matrix", MATRIX.watched_at)]


def test_mistakes_are_one_line(tmp_path, emulator, capsys) -> None:
    path = config(tmp_path, emulator)
    assert main(["sync", "-c", path, "--server", "plex/nope"]) == 2
    assert "--server 'plex/nope' is not in the config (servers: kodi/lounge)" in capsys.readouterr().err
    assert main(["sync", "-c", path, "--account", "carol"]) == 2
    assert main(["sync", "-c", path, "--apply", str(tmp_path / "missing.json")]) == 2
    assert "no such plan file" in capsys.readouterr().err


def test_a_plans_ratings_are_written_with_it_and_applied_as_written(tmp_path, emulator, monkeypatch, capsys) -> None:
    path = config(tmp_path, emulator)
    (tmp_path / "state").mkdir(mode=0o700)
    TokenStore(tmp_path / "state").put("alice", TOKEN)
    titles = Server(replace(RATED_MATRIX, rating=9, rated_at=MATRIX.watched_at))

    class Rated(Library):
        def titles(self):
            return titles

    monkeypatch.setattr("bridge.sync.command.build_adapters", lambda config: [Rated("kodi/lounge", "alice", [])])
    plan = tmp_path / "plan.json"
    assert main(["sync", "-c", path, "--dry-run", "--plan", str(plan)]) == 0
    assert "1 rating(s) to Simkl" in capsys.readouterr().out and ratings(emulator) == {}
    assert main(["sync", "-c", path, "--apply", str(plan)]) == 0
    assert "applied: 1 write(s) queued" in capsys.readouterr().out
    assert ratings(emulator) == {"53992": (9, MATRIX.watched_at)}
