"""Hot reload: watch the config file and apply a good edit; a bad edit keeps the old config.

Editors save by writing a temporary file and renaming it over the old one, so the watch is on
the directory and filtered by name; a short debounce folds the burst of events one save makes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from bridge.config import Config, ConfigError, load

log = logging.getLogger("bridge.config_watch")

DEBOUNCE = 0.3


class ConfigWatcher(FileSystemEventHandler):
    def __init__(self, path: str | Path, on_change: Callable[[Config], None], on_error: Callable[[str], None]):
        self.path = Path(path).resolve()
        self.on_change, self.on_error = on_change, on_error
        self._observer = Observer()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._observer.schedule(self, str(self.path.parent), recursive=False)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(5)
        with self._lock:
            if self._timer:
                self._timer.cancel()

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = {getattr(event, "src_path", ""), getattr(event, "dest_path", "")}
        if str(self.path) not in {str(Path(p).resolve()) for p in paths if p}:
            return
        with self._lock:
            if self._timer:
                self._timer.cancel()
            self._timer = threading.Timer(DEBOUNCE, self._reload)
            self._timer.daemon = True
            self._timer.start()

    def _reload(self) -> None:
        try:
            config = load(self.path)
        except ConfigError as exc:
            self.on_error(str(exc))
            return
        except OSError as exc:
            self.on_error(f"{self.path}: cannot read ({exc.strerror})")
            return
        self.on_change(config)
