"""The emulator's controls over HTTP (bridge/emulator/server.py), for subprocess tests and the demo."""

from __future__ import annotations

import threading

import requests

from tests.conftest import TOKEN, eventually
from tests.emulator.helpers import Q


def test_admin_api_over_http(emulator) -> None:
    assert requests.post(emulator.url + "/_emulator/token", json={"token": "t2", "user": "bob"}, timeout=5).json() == {"ok": True}
    r = requests.get(emulator.url + "/sync/activities", params=Q, headers={"User-Agent": "t/1", "Authorization": "Bearer t2"}, timeout=5)
    assert r.status_code == 200
    assert requests.post(emulator.url + "/_emulator/fault", json={"kind": "bogus"}, timeout=5).status_code == 400
    assert "bob" in requests.get(emulator.url + "/_emulator/state", timeout=5).json()["users"]


def test_a_pin_approved_without_a_token_gets_one_made_up(emulator) -> None:
    ua = {"User-Agent": "t/1"}
    code = requests.get(emulator.url + "/oauth/pin", params=Q, headers=ua, timeout=5).json()["user_code"]
    approved = requests.post(emulator.url + "/_emulator/approve_pin", json={"user_code": code, "user": "carol", "plan": "vip"},
                             timeout=5).json()
    token = approved["token"]
    assert approved["ok"] and len(token) >= 16
    r = requests.get(emulator.url + "/sync/activities", params=Q, headers={**ua, "Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 200
    assert requests.get(emulator.url + "/_emulator/state", timeout=5).json()["users"]["carol"]["plan"] == "vip"
    assert requests.post(emulator.url + "/_emulator/token", json={"token": "t3", "plan": "gold"}, timeout=5).status_code == 400


def test_held_calls_go_on_when_released_over_http(emulator) -> None:
    emulator.fault("hold", path="/sync/activities")
    got: list = []
    headers = {"User-Agent": "t/1", "Authorization": f"Bearer {TOKEN}"}
    t = threading.Thread(target=lambda: got.append(
        requests.get(emulator.url + "/sync/activities", params=Q, headers=headers, timeout=30)))
    t.start()
    eventually(lambda: requests.get(emulator.url + "/_emulator/state", timeout=5).json()["held"] == 1, "a held call")
    assert requests.post(emulator.url + "/_emulator/release", json={}, timeout=5).json() == {"ok": True}
    t.join()
    assert got[0].status_code == 200
