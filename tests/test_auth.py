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


def test_the_token_of_an_account_is_its_variable_when_set_else_its_login(tmp_path) -> None:
    from bridge.simkl.auth import login_hint, token_for

    store = TokenStore(tmp_path)
    assert token_for(store, "bob", "BOB_TOKEN", {}) == (None, "")
    store.put("bob", "from-login")
    assert token_for(store, "bob", "BOB_TOKEN", {}) == ("from-login", "login")
    assert token_for(store, "bob", "BOB_TOKEN", {"BOB_TOKEN": ""}) == ("from-login", "login")
    assert token_for(store, "bob", "BOB_TOKEN", {"BOB_TOKEN": "from-env"}) == ("from-env", "environment variable BOB_TOKEN")
    assert login_hint("bob", "BOB_TOKEN") == "run `simkl-bridge login --account bob` or set BOB_TOKEN"


def test_a_token_that_cannot_be_stored_after_the_code_was_approved_is_said(emulator, tmp_path) -> None:
    """The CLI checks the state dir before the code is shown; a disk that fills up meanwhile still
    gets one line, not a traceback."""

    class FullDisk(TokenStore):
        def put(self, account: str, token: str) -> None:
            raise OSError(28, "No space left on device")

    lines: list[str] = []

    def approve_when_shown(line: str) -> None:
        lines.append(line)
        if "enter the code" in line:
            emulator.approve_pin(line.rsplit(" ", 1)[1], "new-token-xyz", "alice")

    assert not login(make_client(emulator, token=None), FullDisk(tmp_path), "alice", out=approve_when_shown)
    assert lines[-1].startswith("login: Simkl approved the code but the token could not be stored in ")
    assert lines[-1].endswith("No space left on device; fix that and run login again")


def test_a_login_makes_the_state_dir_private_too(tmp_path) -> None:
    store = TokenStore(tmp_path / "new-state")
    store.put("alice", "tok")
    assert stat.S_IMODE((tmp_path / "new-state").stat().st_mode) == 0o700
