"""Jellyfin: the session websocket and `/Sessions` (adapter.py, sessions.py), the webhook plugin
(webhook.py), payloads -> PlayEvent (map.py), the REST calls (api.py), resume points (resume.py) and
the library for the sync (library.py).

Importing the package loads nothing else: `simkl-bridge map --from jellyfin-…` needs only map.py,
and a Jellyfin-less bridge never loads websocket-client or requests for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.adapters.jellyfin.adapter import JellyfinAdapter
    from bridge.config import JellyfinServer


def adapters_from_config(servers: Sequence[JellyfinServer]) -> list[JellyfinAdapter]:
    from bridge.adapters.jellyfin.adapter import JellyfinAdapter

    return [JellyfinAdapter(server) for server in servers]
