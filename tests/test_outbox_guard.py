"""The outbox file that holds everything acknowledged is never swapped for an empty one unseen: a file
deleted or replaced under a running bridge is written back from the open outbox; a damaged, empty,
missing, foreign or older file is refused at start with one line saying how to recover (a damaged
one is copied aside first); the CLI's commands never create one."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.daemon import Bridge
from bridge.outbox import Outbox
from bridge.outbox_guard import OutboxError, OutboxRefused
from bridge.writes import HISTORY
from tests.conftest import SECRET, config_for
from tests.test_outbox import w


def filled(path: Path, writes: int, first: int = 0) -> Outbox:
    box = Outbox(path)
    for n in range(first, first + writes):
        assert box.enqueue(w(HISTORY, tmdb=1000 + n, at=float(n)))
    return box


def refusal(path: Path) -> str:
    with pytest.raises(OutboxRefused) as refused:
        Outbox(path)
    line = str(refused.value)
    assert "\n" not in line
    return line


@pytest.mark.parametrize("files", [("outbox.sqlite",), ("outbox.sqlite", "outbox.sqlite-wal", "outbox.sqlite-shm")])
def test_an_outbox_deleted_while_running_is_written_back_with_every_acknowledged_write(tmp_path, caplog, files) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.outbox")
    path = tmp_path / "outbox.sqlite"
    box = filled(path, 3)
    for name in files:
        (tmp_path / name).unlink()
    assert box.enqueue(w(HISTORY, tmdb=2000, at=10.0)) and box.enqueue(w(HISTORY, tmdb=2001, at=11.0))
    box.close()
    assert Outbox(path).pending() == 5
    assert path.stat().st_mode & 0o077 == 0  # private, as the state dir's files must be
    (line,) = [r.getMessage() for r in caplog.records]
    assert "was deleted while the bridge ran; written back from the open outbox, nothing lost" in line


def test_an_outbox_replaced_while_running_is_written_back_and_the_other_file_kept(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.outbox")
    path = tmp_path / "outbox.sqlite"
    box = filled(path, 3)
    other = filled(tmp_path / "other" / "outbox.sqlite", 1, first=50)
    other.close()
    os.replace(tmp_path / "other" / "outbox.sqlite", path)
    assert box.enqueue(w(HISTORY, tmdb=2000, at=10.0))
    box.close()
    assert Outbox(path).pending() == 4
    (kept,) = tmp_path.glob("outbox.sqlite.replaced-*")
    assert Outbox(kept, create=False).pending() == 1
    assert f"replaced while the bridge ran; written back from the open outbox, nothing lost (the other file is kept as {kept.name})" \
        in caplog.records[0].getMessage()


def test_a_truncated_outbox_is_refused_with_a_copy_kept(tmp_path) -> None:
    path = tmp_path / "outbox.sqlite"
    filled(path, 300).close()
    os.truncate(path, path.stat().st_size // 2)
    line = refusal(path)
    (copy,) = tmp_path.glob("outbox.sqlite.damaged-*")
    assert line.startswith(f"{path} is damaged (") and f"a copy is kept at {copy.name}" in line
    assert copy.stat().st_size == path.stat().st_size
    assert refusal(path) == line and len(list(tmp_path.glob("outbox.sqlite.damaged-*"))) == 1  # one copy, however often


def test_a_damaged_index_is_refused_and_the_recovery_the_line_gives_keeps_every_write(tmp_path) -> None:
    path = tmp_path / "outbox.sqlite"
    filled(path, 300).close()
    with sqlite3.connect(path) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name='writes_pending'").fetchone()
    db.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\xff" * page)
    line = refusal(path)
    if shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 command to follow the line's recovery with")
    recover = line.split("`")[1]  # the command the line gives, run where the file is
    subprocess.run(recover, shell=True, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    os.replace(tmp_path / "outbox.sqlite.recovered", path)
    assert Outbox(path).pending() == 300


def test_a_file_that_is_no_database_is_refused(tmp_path) -> None:
    path = tmp_path / "outbox.sqlite"
    filled(path, 1).close()
    path.write_bytes(b"this is not a database" * 200)
    assert "is damaged (file is not a database)" in refusal(path)


def test_an_outbox_emptied_after_a_checkpoint_is_refused_not_started_empty(tmp_path) -> None:
    path = tmp_path / "outbox.sqlite"
    filled(path, 3).close()  # closing checkpoints: the main file holds everything, the WAL is gone
    os.truncate(path, 0)
    line = refusal(path)
    assert line.startswith(f"{path} is empty (0 bytes), but this state dir had an outbox (sealed at write #3)")
    assert line.endswith(f"delete {path}.seal to start with an empty outbox")
    (tmp_path / "outbox.sqlite.seal").unlink()  # what the line says to do
    assert Outbox(path).pending() == 0


def test_a_missing_outbox_is_refused_where_one_was(tmp_path) -> None:
    path = tmp_path / "outbox.sqlite"
    filled(path, 2).close()
    path.unlink()
    assert refusal(path).startswith(f"{path} is missing, but this state dir had an outbox")
    assert not path.exists()


def test_another_outbox_or_an_older_copy_of_this_one_is_refused(tmp_path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = filled(path, 2)
    box.close()
    shutil.copy(path, tmp_path / "backup.sqlite")
    box = filled(path, 3, first=10)
    box.renew_seal()  # the daemon's hourly upkeep
    box.close()
    filled(tmp_path / "elsewhere" / "outbox.sqlite", 1).close()
    shutil.copy(tmp_path / "elsewhere" / "outbox.sqlite", path)
    assert "is not the outbox this state dir had" in refusal(path)
    shutil.copy(tmp_path / "backup.sqlite", path)
    assert "is older than the outbox the bridge last ran with (writes up to #2, it had #5)" in refusal(path)


def test_the_cli_s_outbox_never_creates_one(tmp_path) -> None:
    path = tmp_path / "state" / "outbox.sqlite"
    with pytest.raises(OutboxError, match="no outbox here yet"):
        Outbox(path, create=False)
    assert not path.exists() and not path.parent.exists()


def test_an_outbox_damaged_under_the_running_bridge_refuses_commits_from_the_hourly_check(tmp_path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = filled(path, 300)
    box._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(path, "r+b") as f:  # a disk that returns garbage in the middle of the file
        f.seek(path.stat().st_size // 2)
        f.write(os.urandom(8192))
    problem = box.verify()
    assert problem.startswith(f"{path} is damaged (") and problem.endswith("restart the bridge to keep a copy and recover it")
    with pytest.raises(OutboxError, match="is damaged"):
        box.enqueue(w(HISTORY, tmdb=5, at=999.0))


def test_the_daemon_refuses_to_start_on_a_damaged_outbox_with_one_line(emulator, tmp_path) -> None:
    config = config_for(emulator, tmp_path)
    path = Path(config.state_dir) / "outbox.sqlite"
    filled(path, 300).close()
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(OutboxRefused, match=r"is damaged \(.*\); a copy is kept at outbox\.sqlite\.damaged-"):
        Bridge(config, adapters=[])
    assert SECRET  # the config's endpoint never opened


def test_run_on_a_damaged_outbox_says_how_to_recover_in_one_line_and_exits_2(tmp_path) -> None:
    state = tmp_path / "state"
    path = state / "outbox.sqlite"
    filled(path, 300).close()
    os.chmod(state, 0o700)
    os.chmod(path, 0o600)
    os.truncate(path, path.stat().st_size // 2)
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {state}\nsimkl: {{client_id: emulator-client, api_url: 'http://127.0.0.1:9'}}\n"
                      "accounts: {alice: {}}\nusers: [{user: alice, account: alice}]\n")
    run = subprocess.run([sys.executable, "-m", "bridge", "run", "-c", str(config)], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == 2, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"simkl-bridge: {path} is damaged (") and "a copy is kept at outbox.sqlite.damaged-" in line
