"""Hot reload with a real watchdog observer on real files."""

from __future__ import annotations

import os
import threading

from bridge.config_watch import ConfigWatcher
from bridge.events import State
from tests.conftest import watches
from tests.test_daemon import MATRIX, at

GOOD = "simkl:\n  client_id: abc\naccounts:\n  alice: {}\nengine:\n  watched_threshold: {t}\n"


def test_good_edit_applies_bad_edit_keeps_the_old_config(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("{t}", "80"))
    changes, errors = [], []
    changed, failed = threading.Event(), threading.Event()
    watcher = ConfigWatcher(path, lambda c: (changes.append(c), changed.set()), lambda e: (errors.append(e), failed.set()))
    watcher.start()
    try:
        # an editor's save: write a temporary file and rename it over the config
        tmp = tmp_path / ".config.yaml.swp"
        tmp.write_text(GOOD.replace("{t}", "90"))
        os.replace(tmp, path)
        assert changed.wait(5)
        assert changes[-1].engine.watched_threshold == 90
        path.write_text(GOOD.replace("{t}", "900"))
        assert failed.wait(5)
        assert "engine.watched_threshold: must be between 1 and 100, got 900" in errors[-1]
        assert len(changes) == 1
        (tmp_path / "unrelated.txt").write_text("x")
    finally:
        watcher.stop()


def test_a_good_edit_reaches_the_running_bridge(emulator, bridge_for, tmp_path) -> None:
    """Who is whom and the engine's settings change without a restart: after the edit, a guest's
    stop at 60% is a watch on the catch-all account (before it, the guest maps to nobody and 60% is
    below the threshold)."""
    bridge = bridge_for()
    path = tmp_path / "config.yaml"
    edited = f"simkl: {{client_id: emulator-client, api_url: '{emulator.url}'}}\naccounts: {{alice: {{}}}}\n"
    path.write_text(edited)
    reloaded = threading.Event()
    watcher = ConfigWatcher(path, lambda c: (bridge.reconfigure(c), reloaded.set()), lambda e: None)
    watcher.start()
    try:
        path.write_text(edited + "catch_all: alice\nengine: {watched_threshold: 50}\n")
        assert reloaded.wait(5)
    finally:
        watcher.stop()
    t = 1_700_000_000.0
    bridge.sink(at(MATRIX, State.PLAYING, 0, t, user="guest"))
    bridge.sink(at(MATRIX, State.STOPPED, 60, t + 60, user="guest"))
    bridge.flush()
    assert len(watches(emulator, "alice")) == 1
