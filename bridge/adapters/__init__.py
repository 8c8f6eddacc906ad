"""Media-server adapters. Each turns its server's messages into `PlayEvent`s.

`MAP_SOURCES` names the pure mapping functions behind `simkl-bridge map --from SOURCE FILE`:
"module:function", imported on use so that the CLI does not load every server's client library.
Each function takes the file's bytes and returns a PlayEvent, or raises EventError.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from bridge.events import EventError, PlayEvent, from_json
from bridge.wire import loads

MAP_SOURCES: dict[str, str] = {
    "event": "bridge.adapters:map_event",
    "kodi": "bridge.adapters.kodi.map:map_file",
    "plex-webhook": "bridge.adapters.plex.map:map_webhook",
    "plex-metadata": "bridge.adapters.plex.map:map_metadata",
    "jellyfin-webhook": "bridge.adapters.jellyfin.map:map_webhook",
    "jellyfin-session": "bridge.adapters.jellyfin.map:map_session",
}


def map_event(payload: bytes) -> PlayEvent:
    return from_json(loads(payload, "event"))


def mapper(source: str) -> Callable[[bytes], PlayEvent]:
    if source not in MAP_SOURCES:
        raise EventError(f"unknown source {source!r} (known: {', '.join(sorted(MAP_SOURCES))})")
    module, func = MAP_SOURCES[source].split(":")
    mapping: Callable[[bytes], PlayEvent] = getattr(importlib.import_module(module), func)
    return mapping
