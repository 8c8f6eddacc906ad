"""Shared fixtures: a real Simkl emulator on 127.0.0.1 and clients paced to match it."""

from __future__ import annotations

import pytest

from bridge.simkl.client import ClientConfig, SimklClient
from bridge.simkl.emulator import DEFAULT_CLIENT_ID, Emulator

# Tests run the emulator's POST limit faster than Simkl's 1/s; client and emulator agree on it.
PACE = 0.02
TOKEN = "test-token-0123456789abcdef"


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
