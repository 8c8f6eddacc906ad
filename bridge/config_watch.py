"""Hot reload: watch the config file and apply a good edit; a bad edit keeps the old config.

Editors save by writing a temporary file and renaming it over the old one, so the watch is on the
directory, and only writes, creations and moves onto the config's own path count: opening or
reading it (the reload itself, `cat`, `simkl-bridge status`) and every other file in the directory
(a log written next to it) are not edits. A short debounce folds the burst of events one save
makes, and the file's content is compared with the last one seen, so an event without a change
(a `touch`, a save of the same text) reloads nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from bridge.config import Config, ConfigError, parse

log = logging.getLogger("bridge.config_watch")

DEBOUNCE = 0.3
# "closed" is a close after writing (IN_CLOSE_WRITE); a close after reading is "closed_no_write".
EDITS = (EVENT_TYPE_MODIFIED, EVENT_TYPE_CREATED, EVENT_TYPE_MOVED, EVENT_TYPE_CLOSED)


class ConfigWatcher(FileSystemEventHandler):
    def __init__(self, path: str | Path, on_change: Callable[[Config], None], on_error: Callable[[str], None], *,
                 debounce: float = DEBOUNCE, applied: bytes | None = None):
        """`applied`: the text the running config was read from (default: the file as it is now)."""
        self.path = Path(path).resolve()
        self.on_change, self.on_error, self.debounce = on_change, on_error, debounce
        self._seen = applied if applied is not None else self.path.read_bytes()
        self._applied = self._seen
        self._observer = Observer()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()  # over the timer
        self._checking = threading.Lock()  # one reload at a time

    def start(self) -> None:
        self._observer.schedule(self, str(self.path.parent), recursive=False)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(5)
        with self._lock:
            if self._timer:
                self._timer.cancel()

    def is_edit(self, event: FileSystemEvent) -> bool:
        """Whether the event writes, creates or moves something onto the config's path."""
        if event.is_directory or event.event_type not in EDITS:
            return False
        target = event.dest_path if event.event_type == EVENT_TYPE_MOVED else event.src_path
        return os.fsdecode(target) == str(self.path)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not self.is_edit(event):
            return
        with self._lock:
            if self._timer:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self.check)
            self._timer.daemon = True
            self._timer.start()

    def check(self) -> bool:
        """Reload when the file's text differs from the last text seen; True when a config was applied."""
        with self._checking:
            try:
                text = self.path.read_bytes()
            except OSError as exc:
                self.on_error(f"{self.path}: cannot read it ({exc.strerror or exc})")
                return False
            if text == self._seen:
                return False
            self._seen = text
            try:
                config = parse(text.decode("utf-8"), str(self.path))
            except UnicodeDecodeError:
                self.on_error(f"{self.path}: not UTF-8 text")
                return False
            except ConfigError as exc:
                self.on_error(str(exc))
                return False
            try:
                self.on_change(config)
            except Exception as exc:  # the old config stays; saving the file again retries
                self._seen = self._applied
                self.on_error(f"{self.path}: applying it failed: {type(exc).__name__}: {exc}")
                return False
            self._applied = text
            return True

