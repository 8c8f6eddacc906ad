"""Plex Media Server: the alert websocket (adapter.py, alerts.py) and `/status/sessions`
(sessions.py), webhooks (webhook.py), payloads -> PlayEvent (map.py, guid.py), the server's HTTP
calls through plexapi (api.py) and resume points (resume.py).

Importing the package loads nothing else: `simkl-bridge map --from plex-…` needs only map.py, and a
Plex-less bridge never loads plexapi.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.adapters.plex.adapter import PlexAdapter
    from bridge.config import PlexServer


def adapters_from_config(servers: Sequence[PlexServer]) -> list[PlexAdapter]:
    from bridge.adapters.plex.adapter import PlexAdapter

    return [PlexAdapter(server) for server in servers]
