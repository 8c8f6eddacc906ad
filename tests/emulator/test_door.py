"""What every Simkl call passes (bridge/emulator/door.py): the emulator refuses what Simkl refuses,
in Simkl's order, and logs each call before anything of it can be seen."""

from __future__ import annotations

import threading

import pytest
import requests

from bridge.emulator import DEFAULT_CLIENT_ID, Emulator
from bridge.emulator.store import User
from tests.conftest import TOKEN, eventually
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


def _scrobble(emulator, results: list) -> threading.Thread:
    def post():
        results.append(requests.post(emulator.url + "/scrobble/start", params=Q, headers=H,
                                     json={"progress": 1, "movie": MATRIX}, timeout=30))

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def test_concurrent_scrobbles_of_one_user_collide(emulator) -> None:
    """Past Simkl's lock time a user's second scrobble is refused with 400 RATE_LIMIT. The first is
    held in progress until the second has been answered: the collision is made, not raced."""
    emulator.scrobble_lock = 0  # no time to wait for a turn
    emulator.post_interval = 0
    emulator.fault("hold", path="/scrobble/")
    first: list = []
    holder = _scrobble(emulator, first)
    eventually(lambda: emulator.held == 1, "the first scrobble held in progress")
    second: list = []
    _scrobble(emulator, second).join()
    emulator.release()
    holder.join()
    assert (first[0].status_code, second[0].status_code) == (201, 400)
    assert second[0].json()["error"] == "RATE_LIMIT"


def test_a_users_scrobbles_wait_their_turn(emulator) -> None:
    """Within the lock's time a second scrobble is queued behind the first, not refused."""
    emulator.scrobble_lock = 3600
    emulator.post_interval = 0
    emulator.fault("hold", path="/scrobble/")
    results: list = []
    holder = _scrobble(emulator, results)
    eventually(lambda: emulator.held == 1, "the first scrobble held in progress")
    waiter = _scrobble(emulator, results)
    eventually(lambda: emulator.state()["users"]["alice"]["scrobbles_waiting"] == 1, "the second one queued")
    emulator.release()
    holder.join()
    waiter.join()
    assert [r.status_code for r in results] == [201, 201]


def test_posts_over_the_limit_start_a_block_that_grows(emulator) -> None:
    """api.simkl.org/resources/rate-limits: a POST over 1/s starts a throttling block of the token,
    and each further POST during it extends it. The clock is the emulator's, held still."""
    now = [100.0]
    emulator.monotonic = lambda: now[0]
    emulator.post_interval = 1.0
    post = lambda: requests.post(emulator.url + "/sync/history", params=Q, headers=H, json={"movies": [MATRIX]}, timeout=5)  # noqa: E731
    assert post().status_code == 201
    refused = [post() for _ in range(3)]
    assert [r.status_code for r in refused] == [429, 429, 429]
    assert [int(r.headers["Retry-After"]) for r in refused] == [1, 2, 4]
    now[0] += 3.5
    assert post().status_code == 429  # still blocked: one more offence
    now[0] += 8
    assert post().status_code == 201


def test_delete_is_not_counted_as_a_post(emulator) -> None:
    now = [100.0]
    emulator.monotonic = lambda: now[0]
    emulator.post_interval = 1.0
    pid = requests.post(emulator.url + "/scrobble/pause", params=Q, headers=H,
                        json={"progress": 20, "movie": MATRIX}, timeout=5).json()["id"]
    r = requests.delete(f"{emulator.url}/sync/playback/{pid}", params=Q, headers=H, timeout=5)
    assert r.status_code == 204


def test_calls_without_a_token_are_limited_per_client_id() -> None:
    """10 GET/s for each client_id's unauthenticated calls; another app's are its own."""
    with Emulator(client_ids=(DEFAULT_CLIENT_ID, "other-app"), post_interval=0) as emu:
        emu.start()
        emu.monotonic = lambda: 100.0
        pin = lambda cid: requests.get(emu.url + "/oauth/pin", params={**Q, "client_id": cid},  # noqa: E731
                                       headers={"User-Agent": "t/1"}, timeout=5).status_code
        assert [pin(DEFAULT_CLIENT_ID) for _ in range(11)] == [200] * 10 + [429]
        assert pin("other-app") == 200


@pytest.mark.parametrize(("kind", "error"), [("403", "api_limits"), ("412", "limit_exceeded"), ("423", "locked")])
def test_quota_refusals_can_be_injected(emulator, kind, error) -> None:
    emulator.fault(kind, retry_after=600)
    r = call(emulator, "POST", "/sync/history", {"movies": [MATRIX]})
    assert (r.status_code, r.json()["error"], r.headers["Retry-After"]) == (int(kind), error, "600")
    assert call(emulator, "POST", "/sync/history", {"movies": [MATRIX]}).status_code == 201


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
    record = User._record

    def record_and_look(user, new, now):
        record(user, new, now)
        look = lambda: seen.append((len(watches(emulator)), [r["path"] for r in emulator.requests]))  # noqa: E731
        readers.append(threading.Thread(target=look))
        readers[-1].start()

    monkeypatch.setattr(User, "_record", record_and_look)
    assert call(emulator, "POST", "/sync/history", {"movies": [MATRIX]}).status_code == 201
    assert call(emulator, "POST", "/scrobble/stop", {"progress": 90, "show": {"ids": {"tvdb": 81189}},
                                                     "episode": {"season": 1, "number": 1}}).status_code == 201
    for reader in readers:
        reader.join()
    assert seen == [(1, ["/sync/history"]), (2, ["/sync/history", "/scrobble/stop"])]
