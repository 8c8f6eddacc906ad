"""Hot reload: which file events are edits (the handler driven directly), and a real watchdog
observer on real files."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from watchdog.events import (
    DirModifiedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from bridge import logs
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


# -- what counts as an edit ----------------------------------------------------------------------

CONFIG = GOOD.replace("{t}", "80")


def watcher_on(path, **kw):
    changes: list = []
    errors: list[str] = []
    return ConfigWatcher(path, changes.append, errors.append, **kw), changes, errors


def test_only_writes_creations_and_moves_onto_the_config_are_edits(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    watcher, _, _ = watcher_on(path)
    c, other = str(path.resolve()), str(tmp_path / "bridge.log")
    edits = [FileModifiedEvent(c), FileCreatedEvent(c), FileClosedEvent(c), FileMovedEvent(str(tmp_path / ".config.yaml.swp"), c)]
    not_edits = [FileOpenedEvent(c), FileClosedNoWriteEvent(c), FileDeletedEvent(c), FileMovedEvent(c, str(tmp_path / "old.yaml")),
                 FileModifiedEvent(other), FileCreatedEvent(other), FileClosedEvent(other), DirModifiedEvent(str(tmp_path))]
    assert [watcher.is_edit(e) for e in edits] == [True] * len(edits)
    assert [watcher.is_edit(e) for e in not_edits] == [False] * len(not_edits)


def test_a_save_without_a_change_reloads_nothing(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    watcher, changes, errors = watcher_on(path)
    assert not watcher.check()  # an event on the file as it was started with
    path.write_text(GOOD.replace("{t}", "90"))
    assert watcher.check() and not watcher.check()  # one change, one reload
    path.write_text("engine: [\n")
    assert not watcher.check() and not watcher.check()  # a bad text is said once
    assert [c.engine.watched_threshold for c in changes] == [90] and len(errors) == 1


def test_a_reload_that_fails_is_one_line_and_saving_again_retries(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    failing = [True]
    applied, errors = [], []

    def apply(config) -> None:
        if failing[0]:
            raise RuntimeError("the engine said no")
        applied.append(config)

    watcher = ConfigWatcher(path, apply, errors.append)
    path.write_text(GOOD.replace("{t}", "90"))
    assert not watcher.check()
    (line,) = errors
    assert "applying it failed: RuntimeError: the engine said no" in line and "\n" not in line
    failing[0] = False
    assert watcher.check() and applied[0].engine.watched_threshold == 90


# -- with a real observer: reads, logs and the reload's own reading are not edits ----------------


def replace_text(path, text: str) -> None:
    """An editor's save: a temporary file renamed over the config."""
    tmp = path.with_name(".config.yaml.swp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_one_edit_is_one_reload_and_reading_the_file_is_none(tmp_path) -> None:
    """No debounce: every event the watcher accepted would be a check of its own, so a reload that
    read the file and saw that as an edit would loop, and a reader's open would reload. The second
    edit is the barrier: everything before it has been seen once it is reloaded."""
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("abc", "emulator-client") + f"state_dir: {tmp_path / 'state'}\n")
    reloaded = threading.Semaphore(0)
    thresholds: list[float] = []
    watcher = ConfigWatcher(path, lambda c: (thresholds.append(c.engine.watched_threshold), reloaded.release()),
                            lambda e: None, debounce=0)
    watcher.start()
    try:
        replace_text(path, path.read_text().replace("watched_threshold: 80", "watched_threshold: 90"))
        assert reloaded.acquire(timeout=10)
        path.read_bytes()
        subprocess.run(["cat", str(path)], check=True, capture_output=True)
        done = subprocess.run([sys.executable, "-m", "bridge", "status", "-c", str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        replace_text(path, path.read_text().replace("watched_threshold: 90", "watched_threshold: 70"))
        assert reloaded.acquire(timeout=10)
    finally:
        watcher.stop()
    assert thresholds == [90, 70]


def test_a_debug_log_written_next_to_the_config_is_no_edit(tmp_path) -> None:
    """The daemon's own logging at debug level into the config's directory: without the watcher's
    events kept out of that log, each line would be an event and each event a line."""
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    log_file = tmp_path / "bridge.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.setup("debug", "text", log_file)
    reloaded = threading.Event()
    watcher = ConfigWatcher(path, lambda c: reloaded.set(), lambda e: None, debounce=0)
    try:
        watcher.start()
        for i in range(20):
            logging.getLogger("bridge.test").info("line %d", i)
        replace_text(path, GOOD.replace("{t}", "90"))
        assert reloaded.wait(10)
        watcher.stop()
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        root.handlers[:], root.level = saved
    lines = log_file.read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [f"line {i}" for i in range(20)]
