"""What every Simkl call passes (bridge/emulator/door.py): the emulator refuses what Simkl refuses,
in Simkl's order, and logs each call before anything of it can be seen."""

from __future__ import annotations

import threading

import pytest
import requests

from bridge.emulator import DEFAULT_CLIENT_ID
from bridge.emulator.store import User
from tests.conftest import TOKEN
from tests.emulator.helpers import MATRIX, H, Q, call, watches


@pytest.mark.parametrize("change", [{"client_id": None}, {"client_id": "nope"}])
def test_unknown_client_id_is_412(emulator, change) -> None:
    params = {k: v for k, v in {**Q, **change}.items() if v is not None}
    r = requests.get(emulator.url + "/sync/activities", params=params, headers=H, timeout=5)
    assert r.status_code == 412 and r.json()["error"] == "client_id_failed"


def test_client_id_may_come_as_header(emulator) -> None:
    params = {k: v for k, v in Q.items() if k != "client_id"}
    r = requests.get(emulator.url + "/sync/activities", params=params, headers={**H, "simkl-api-key": DEFAULT_CLIENT_ID}, timeout=5)
    assert r.status_code == 200


@pytest.mark.parametrize("missing", ["app-name", "app-version"])
def test_missing_app_params_are_refused(emulator, missing) -> None:
    params = {k: v for k, v in Q.items() if k != missing}
    r = requests.get(emulator.url + "/sync/activities", params=params, headers=H, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "empty_field" and missing in r.json()["message"]


def test_token_is_required_and_revocation_is_401(emulator) -> None:
    assert call(emulator, "GET", "/sync/playback", headers={"Authorization": ""}).status_code == 401
    assert call(emulator, "GET", "/sync/playback").status_code == 200
    emulator.revoke(TOKEN)
    r = call(emulator, "GET", "/sync/playback")
    assert r.status_code == 401 and r.json()["error"] == "user_token_failed"


def test_post_needs_json(emulator) -> None:
    r = call(emulator, "POST", "/sync/history", raw=b"movies=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json()["error"] == "wrong_parameter"
    r = call(emulator, "POST", "/sync/history", raw=b"{bad", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_concurrent_scrobbles_of_one_user_collide(emulator) -> None:
    emulator.scrobble_hold = 0.3
    emulator.post_interval = 0
    results = []

    def scrobble():
        results.append(requests.post(emulator.url + "/scrobble/start", params=Q, headers=H, json={"progress": 1, "movie": MATRIX}, timeout=5))

    threads = [threading.Thread(target=scrobble) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [201, 400]
    assert any(r.json().get("error") == "RATE_LIMIT" for r in results)


def test_post_rate_limit_answers_429_with_retry_after(emulator) -> None:
    emulator.post_interval = 1.0
    assert call(emulator, "POST", "/sync/history", {"movies": [MATRIX]}).status_code == 201
    r = requests.post(emulator.url + "/sync/history", params=Q, headers=H, json={"movies": [MATRIX]}, timeout=5)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_faults(emulator) -> None:
    emulator.fault("503", count=2)
    assert [call(emulator, "GET", "/sync/activities").status_code for _ in range(3)] == [503, 503, 200]
    emulator.fault("429", retry_after=7)
    r = call(emulator, "GET", "/sync/activities")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    emulator.fault("drop")
    with pytest.raises(requests.ConnectionError):
        call(emulator, "GET", "/sync/activities")
    emulator.fault("down")
    for _ in range(3):
        with pytest.raises(requests.ConnectionError):
            call(emulator, "GET", "/sync/activities")
    emulator.recover()
    assert call(emulator, "GET", "/sync/activities").status_code == 200


def test_a_call_is_logged_before_its_effect_can_be_seen(emulator, monkeypatch) -> None:
    # A reader that looks the moment the watch is recorded, while the call is still being answered,
    # finds the call in the request log: seeing a watch and then reading the log never misses it.
    seen: list = []
    readers: list[threading.Thread] = []
    add_watch = User.add_watch

    def add_and_look(user, watch, allow_rewatch):
        counted = add_watch(user, watch, allow_rewatch)
        look = lambda: seen.append((len(watches(emulator)), [r["path"] for r in emulator.requests]))  # noqa: E731
        readers.append(threading.Thread(target=look))
        readers[-1].start()
        return counted

    monkeypatch.setattr(User, "add_watch", add_and_look)
    assert call(emulator, "POST", "/sync/history", {"movies": [MATRIX]}).status_code == 201
    assert call(emulator, "POST", "/scrobble/stop", {"progress": 90, "show": {"ids": {"tvdb": 81189}},
                                                     "episode": {"season": 1, "number": 1}}).status_code == 201
    for reader in readers:
        reader.join()
    assert seen == [(1, ["/sync/history"]), (2, ["/sync/history", "/scrobble/stop"])]
