"""The daemon's log lines: UTC with the zone, text or JSON, to a file as well."""

from __future__ import annotations

import json
import logging
import re

import pytest

from bridge import logs
from bridge.times import parse_iso


@pytest.fixture
def root():
    """The root logger as the test found it, restored afterwards."""
    logger = logging.getLogger()
    saved = logger.handlers[:], logger.level
    yield logger
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
        handler.close()
    logger.handlers[:], logger.level = saved


def test_text_lines_carry_utc_times_with_the_zone(root, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")  # the machine's zone must not show
    log_file = tmp_path / "bridge.log"
    logs.setup("info", "text", log_file)
    logging.getLogger("bridge.x").info("hello %s", "world")
    logging.getLogger("bridge.x").debug("not at info")
    (line,) = log_file.read_text().splitlines()
    stamp, level, rest = line.split(" ", 2)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp) and parse_iso(stamp) is not None
    assert (level, rest) == ("INFO", "bridge.x: hello world")


def test_json_lines_are_one_object_each_and_the_level_changes_live(root, tmp_path) -> None:
    log_file = tmp_path / "bridge.log"
    logs.setup("warning", "json", log_file)
    logging.getLogger("bridge.x").info("hidden")
    logs.set_level("debug")  # what a reload with log_level: debug does
    logging.getLogger("bridge.x").debug("shown \"quoted\"\nand a second line")
    (line,) = log_file.read_text().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "DEBUG" and entry["logger"] == "bridge.x" and entry["time"].endswith("Z")
    assert entry["message"] == "shown \"quoted\"\nand a second line"


def test_watchdog_stays_quiet_at_debug(root, tmp_path) -> None:
    log_file = tmp_path / "bridge.log"
    logs.setup("debug", "text", log_file)
    logging.getLogger("watchdog.observers.inotify_move_event_grouper").debug("in-event %s", "x")
    logging.getLogger("bridge.x").debug("ours")
    assert [line.split(": ", 1)[1] for line in log_file.read_text().splitlines()] == ["ours"]


def test_watchdog_stopping_is_not_an_error_line(root, tmp_path) -> None:
    log_file = tmp_path / "bridge.log"
    logs.setup("info", "text", log_file)
    logging.getLogger("watchdog.observers.inotify").error("InotifyEmitter.queue_events() called when the thread is inactive")
    logging.getLogger("watchdog.observers.inotify").error("a real failure")
    assert [line.split(": ", 1)[1] for line in log_file.read_text().splitlines()] == ["a real failure"]
