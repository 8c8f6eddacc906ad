"""Logging in with the PIN flow and keeping tokens private on disk."""

from __future__ import annotations

import stat
import threading
import time

import pytest

from bridge.simkl.auth import TokenStore, login
from tests.conftest import make_client


def test_token_files_are_private(tmp_path) -> None:
    store = TokenStore(tmp_path)
    store.put("alice", "tok-a")
    path = tmp_path / "tokens" / "alice.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700
    assert store.get("alice") == "tok-a" and store.get("bob") is None and store.accounts() == ["alice"]
    assert store.remove("alice") and not store.remove("alice") and store.get("alice") is None


def test_bad_account_names_and_corrupt_files(tmp_path) -> None:
    store = TokenStore(tmp_path)
    with pytest.raises(ValueError, match="letters, digits"):
        store.put("../evil", "x")
    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "carol.json").write_text("{not json")
    assert store.get("carol") is None


def test_login_with_a_pin_approved_on_the_website(emulator, tmp_path) -> None:
    store = TokenStore(tmp_path)
    lines: list[str] = []

    def approve_when_shown(line: str) -> None:
        lines.append(line)
        if "enter the code" in line:
            code = line.rsplit(" ", 1)[1]
            threading.Timer(0.15, emulator.approve_pin, (code, "new-token-xyz", "alice")).start()

    assert login(make_client(emulator, token=None), store, "alice", out=approve_when_shown)
    assert store.get("alice") == "new-token-xyz"
    assert "https://simkl.com/pin" in lines[0]
    assert not any("new-token-xyz" in line for line in lines)
    # the stored token works against Simkl
    assert make_client(emulator, token=store.get("alice")).get_playback() == []


def test_login_gives_up_when_the_code_expires(emulator, tmp_path) -> None:
    emulator.pin_expires = 0.3
    lines: list[str] = []
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        time.sleep(seconds)

    assert not login(make_client(emulator, token=None), TokenStore(tmp_path), "alice", out=lines.append, sleep=sleep)
    # It waits out the code's lifetime, not its own 15-minute default: counted in the flow's own
    # waits (each at least as long as asked), so a slow machine cannot make it fail.
    assert sum(waited) < 5
    assert "expired" in lines[-1] and TokenStore(tmp_path).get("alice") is None


def test_login_reports_an_unreachable_simkl(tmp_path) -> None:
    from bridge.simkl.client import ClientConfig, SimklClient

    client = SimklClient(ClientConfig(base_url="http://127.0.0.1:9", client_id="x", max_retries=0))
    lines: list[str] = []
    assert not login(client, TokenStore(tmp_path), "alice", out=lines.append)
    assert lines[0].startswith("login: could not start")
