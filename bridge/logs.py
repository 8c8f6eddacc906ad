"""The daemon's log: UTC times with their zone, plain text or one JSON object a line, to standard
error and optionally to a file.

Times are UTC and say so (`2026-03-01T18:04:05.123Z`): a log read months later on another machine,
or next to a server's log, must not depend on the zone the bridge happened to run in.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from pathlib import Path
from typing import Literal

from bridge.times import iso_ms
from bridge.wire import one_line

Format = Literal["text", "json"]
FORMATS: tuple[Format, ...] = ("text", "json")
# watchdog logs every inotify event at debug level: with the log file next to the config, each
# line would be an event, and each event a line.
QUIET = {"watchdog": logging.INFO, "urllib3": logging.INFO, "websocket": logging.INFO}
# watchdog says this at ERROR when its inotify thread is stopped while reading (its own choice in
# gorakhargosh/watchdog#963: "return as if there were no events, and log"): a stop, not an error.
WATCHDOG_STOPPING = "InotifyEmitter.queue_events() called when the thread is inactive"


def _not_watchdog_stopping(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(WATCHDOG_STOPPING)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # A line break in a value the message quotes (an id, a title) must not start a line of its own.
        line = f"{iso_ms(record.created)} {record.levelname} {record.name}: {one_line(record.getMessage())}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": iso_ms(record.created), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup(level: str, fmt: Format = "text", file: Path | None = None) -> None:
    """Replace the root logger's handlers: standard error, plus `file` when given.

    The file is reopened when logrotate moves it away (WatchedFileHandler)."""
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if file is not None:
        handlers.append(logging.handlers.WatchedFileHandler(file, encoding="utf-8"))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    for name, floor in QUIET.items():
        logging.getLogger(name).setLevel(floor)
    inotify = logging.getLogger("watchdog.observers.inotify")
    if _not_watchdog_stopping not in inotify.filters:
        inotify.addFilter(_not_watchdog_stopping)
    set_level(level)


def set_level(level: str) -> None:
    """The level of the bridge's own messages; a reloaded config calls it."""
    logging.getLogger().setLevel(level.upper())
