"""Shared fixtures: a real Simkl emulator on 127.0.0.1 and clients paced to match it."""

from __future__ import annotations

import time

import pytest

from bridge.config import Config, parse
from bridge.daemon import Bridge
from bridge.emulator import DEFAULT_CLIENT_ID, Emulator
from bridge.simkl.auth import TokenStore
from bridge.simkl.client import ClientConfig, SimklClient

# Tests run the emulator's POST limit faster than Simkl's 1/s; client and emulator agree on it.
PACE = 0.02
TOKEN = "test-token-0123456789abcdef"
SECRET = "a-secret-of-24-characters"


@pytest.fixture
def emulator():
    with Emulator(post_interval=PACE, pin_interval=0.05) as emu:
        emu.start()
        emu.add_token(TOKEN, "alice")
        yield emu


def make_client(emulator: Emulator, token: str | None = TOKEN, **kw) -> SimklClient:
    cfg = ClientConfig(base_url=emulator.url, client_id=DEFAULT_CLIENT_ID, post_interval=PACE,
                       backoff_base=0.01, backoff_cap=0.05, **kw)
    return SimklClient(cfg, token)


@pytest.fixture
def client(emulator):
    return make_client(emulator)


def config_for(emulator: Emulator, tmp_path, extra: str = "") -> Config:
    """A household of two against the emulator; `extra` adds YAML (servers, more `users:` rules)."""
    return parse(f"""
state_dir: {tmp_path}/state
simkl: {{client_id: emulator-client, api_url: "{emulator.url}"}}
accounts: {{alice: {{}}, bob: {{}}}}
users:
  - {{user: alice, account: alice}}
  - {{user: bob, account: bob}}
http: {{listen: "127.0.0.1:0", secret: {SECRET}}}
{"" if "sync:" in extra else "sync: {enabled: false}  # a test that wants the library sync says so"}
{extra}""")


@pytest.fixture
def bridge_for(emulator, tmp_path):
    """Makes Bridges wired to the emulator (alice logged in), stopped at the end of the test.
    `adapters=None` builds them from the config, as the daemon does."""
    made = []

    def make(extra: str = "", adapters=(), **kw):
        config = config_for(emulator, tmp_path, extra)
        store = TokenStore(config.state_dir)
        if not store.get("alice"):
            store.put("alice", TOKEN)
        factory = kw.pop("client_factory", lambda account, token: make_client(emulator, token=token, max_retries=0))
        b = Bridge(config, adapters=list(adapters) if adapters is not None else None, client_factory=factory, **kw)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


def watches(emulator: Emulator, user: str = "alice") -> list:
    return emulator.state()["users"].get(user, {}).get("watches", [])


def eventually(probe, what: str, timeout: float = 10.0, interval: float = 0.02):
    """Poll `probe` until it returns something truthy (returned), or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# -- real Kodi (tests/adapters/kodi/real.py) --------------------------------------------------------


@pytest.fixture(autouse=True)
def _real_kodi_running(request):
    """A real Kodi that aborted during an earlier test is started again before the next one."""
    if "kodi" in request.fixturenames:
        kodi = request.getfixturevalue("kodi")
        if hasattr(kodi, "ensure_running"):
            kodi.ensure_running()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A failure while the test's real Kodi died is reported as KodiCrashed, with Kodi's last words."""
    try:
        return (yield)
    except Exception as exc:
        kodi = item.funcargs.get("kodi")
        if hasattr(kodi, "crashed") and kodi.crashed():
            from tests.adapters.kodi.real import KodiCrashed

            raise KodiCrashed(f"Kodi died during the test ({kodi._last_words()}): {exc}") from exc
        raise
