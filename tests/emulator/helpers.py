"""Plain `requests` calls to the emulator (not our client), as an app that follows simkl-api.md makes them."""

from __future__ import annotations

import time

import requests

from bridge.emulator import DEFAULT_CLIENT_ID, Emulator
from tests.conftest import PACE, TOKEN

Q = {"client_id": DEFAULT_CLIENT_ID, "app-name": "test", "app-version": "1.0"}
H = {"User-Agent": "test/1.0", "Authorization": f"Bearer {TOKEN}"}
MATRIX = {"title": "The Matrix", "year": 1999, "ids": {"tmdb": 603}}


def call(emu: Emulator, method: str, path: str, body=None, params=None, headers=None, raw=None):
    time.sleep(PACE * 1.5)  # stay inside the POST limit unless a test means to break it
    return requests.request(method, emu.url + path, params={**Q, **(params or {})}, headers={**H, **(headers or {})},
                            json=body if raw is None else None, data=raw, timeout=10)


def watches(emu: Emulator) -> list[dict]:
    return emu.state()["users"]["alice"]["watches"]
