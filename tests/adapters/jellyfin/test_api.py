"""Jellyfin's REST calls and what the adapter keeps from them: cached series, the server's users,
ids as path segments, memories shared by webhook threads and the worker."""

from __future__ import annotations

import logging
import sys
import threading

from bridge.adapters import base
from bridge.adapters.jellyfin.api import USER_RETRY, JellyfinError
from tests.adapters.jellyfin.helpers import adapter_for, jellyfin, minutes, post, running, settle, webhook_body  # noqa: F401 - fixtures
from tests.adapters.jellyfin.standin import ALICE
from tests.conftest import eventually

LOG = "bridge.adapters.jellyfin"


def test_an_episode_whose_series_is_gone_is_looked_up_once(jellyfin, running, emulator) -> None:
    bridge, _ = running()
    orphan = jellyfin.add_episode(jellyfin.bb, 1, 3, {"Tvdb": "349240"}, minutes=47)
    jellyfin.items[orphan]["SeriesId"] = "d" * 32  # a series Jellyfin no longer has
    def lookups() -> int:
        return sum(r.path == "/Items" and r.query.get("Ids") == "d" * 32 for r in jellyfin.server.requests)

    for seconds in (60, 70, 80, 90):
        jellyfin.play("s1", ALICE, orphan, seconds)
    jellyfin.stop("s1")
    eventually(lambda: lookups() == 1, "the series to be looked up")
    settle(bridge)
    assert lookups() == 1


def test_a_configured_user_the_server_does_not_know_is_not_looked_up_per_webhook(jellyfin, running, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    bridge, adapter = running(webhooks=True, user="carol")
    lookups = sum(r.path == "/Users" for r in jellyfin.server.requests)
    for seconds in (60, 70, 80):
        alices = webhook_body(jellyfin, "PlaybackProgress", jellyfin.matrix, seconds)
        assert post(bridge, alices).json()["accepted"] is False
    assert sum(r.path == "/Users" for r in jellyfin.server.requests) == lookups
    adapter.users._fetched_at -= USER_RETRY  # a minute on, still unknown: looked up again, said once
    assert post(bridge, webhook_body(jellyfin, "PlaybackProgress", jellyfin.matrix, 90)).json()["accepted"] is False
    assert sum(r.path == "/Users" for r in jellyfin.server.requests) == lookups + 1
    assert sum("'carol' is not a user" in r.getMessage() for r in caplog.records) == 1


def test_an_id_from_a_message_is_one_path_segment(jellyfin) -> None:
    adapter = adapter_for(jellyfin, exclude_libraries=("Kids",))
    for odd in ("../../Users", "x/Ancestors?api_key=1#"):
        try:
            adapter.api.library(odd, ALICE)
        except JellyfinError:
            pass
    assert not any(r.path in ("/Users", "/Items/x/Ancestors") for r in jellyfin.server.requests)


def test_memories_shared_by_webhook_threads_and_the_listener_stay_whole(monkeypatch) -> None:
    monkeypatch.setattr(base, "MEMORY_LIMIT", 50)
    memory: dict = {}
    errors: list = []

    def fill(n: int) -> None:
        try:
            for i in range(20_000):
                base.remember(memory, (n, i), None)
        except Exception as exc:  # the race shows as a KeyError or "changed size during iteration"
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and len(memory) == 50
