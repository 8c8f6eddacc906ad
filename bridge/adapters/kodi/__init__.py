"""Kodi: JSON-RPC notifications of a Kodi host -> PlayEvents, and Simkl resume points -> Kodi.

`adapter` (lifecycle, live events), `map` (pure: Kodi results -> PlayEvent), `api` (JSON-RPC over
TCP and HTTP, and the requests made), `sessions` (pure: the play in progress), `resume` (Simkl
resume points -> Kodi's library). The in-Kodi addon (plugins/kodi) posts normalized events to the
bridge's own `POST /event` (bridge/daemon.py), so Kodi has no webhook route here.

The adapter is imported on first use, so that `simkl-bridge map --from kodi` loads only `map`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.adapters.kodi.adapter import KodiAdapter, adapters_from_config

__all__ = ["KodiAdapter", "adapters_from_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bridge.adapters.kodi import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
