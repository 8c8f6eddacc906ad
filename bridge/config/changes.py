"""What a reloaded config changed, and which of it applies only after a restart.

Servers, the HTTP endpoint's address and the state dir are held by running connections, sockets
and open files; everything else (who is whom, the engine, accounts, Simkl's settings, the log
level, the health threshold, the webhook secret) is read afresh or handed over on reload.
"""

from __future__ import annotations

import dataclasses

from bridge.config.settings import Config

RESTART = ("state_dir", "http.listen", "plex", "jellyfin", "kodi")


def changed(old: Config, new: Config) -> list[str]:
    """The keys whose value differs, one level deep: `engine.watched_threshold`, `plex`, `http`."""
    keys: list[str] = []
    for f in dataclasses.fields(Config):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a == b:
            continue
        if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
            keys += [f"{f.name}.{g.name}" for g in dataclasses.fields(a) if getattr(a, g.name) != getattr(b, g.name)]
        else:
            keys.append(f.name)
    return keys


def needs_restart(key: str) -> bool:
    # `http` as a whole changes when the endpoint is added or removed: a socket to open or close.
    return key == "http" or any(key == r or key.startswith(r + ".") for r in RESTART)
