"""Hot reload with a real watchdog observer on real files."""

from __future__ import annotations

import os
import threading

from bridge.config_watch import ConfigWatcher

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
