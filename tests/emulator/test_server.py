"""The emulator's controls over HTTP (bridge/emulator/server.py), for subprocess tests and the demo."""

from __future__ import annotations

import requests

from tests.emulator.helpers import Q


def test_admin_api_over_http(emulator) -> None:
    assert requests.post(emulator.url + "/_emulator/token", json={"token": "t2", "user": "bob"}, timeout=5).json() == {"ok": True}
    r = requests.get(emulator.url + "/sync/activities", params=Q, headers={"User-Agent": "t/1", "Authorization": "Bearer t2"}, timeout=5)
    assert r.status_code == 200
    assert requests.post(emulator.url + "/_emulator/fault", json={"kind": "bogus"}, timeout=5).status_code == 400
    assert "bob" in requests.get(emulator.url + "/_emulator/state", timeout=5).json()["users"]
