"""The playing item -> `events.Item`, from the player's InfoTagVideo and Kodi's video library.

`tag` is duck-typed (Kodi's `xbmc.InfoTagVideo`); `rpc(method, params)` returns a JSON-RPC
`result` or raises `RpcError`. Nothing here imports Kodi's modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kodibridge import events

Rpc = Callable[[str, dict], Any]


class RpcError(Exception):
    """Kodi's JSON-RPC answered with an error or with something that is not a result."""


def resolve(tag: Any, rpc: Rpc, playing: str = "") -> events.Item:
    """Raises `events.NoIds` (with a one-line reason) when the item cannot be matched.
    `playing` (the player's file) only names the item in log lines."""
    media = tag.getMediaType()
    label = playing or tag.getFile() or tag.getTitle() or "item"
    own = events.clean_ids({name: tag.getUniqueID(name) for name in events.PROVIDERS}, tag.getIMDBNumber())
    if media == "episode":
        return _episode(tag, own, label, rpc)
    if media == "movie":
        return events.movie(own, label=label, title=tag.getTitle(), year=tag.getYear())
    raise events.NoIds(f"{label!r}: not a library movie or episode (media type {media!r}); not sent")


def _episode(tag: Any, own: dict[str, Any], label: str, rpc: Rpc) -> events.Item:
    dbid = tag.getDbId()
    if not isinstance(dbid, int) or dbid <= 0:
        # Outside the library there is no show to take the show's ids from.
        raise events.NoIds(f"{label!r}: an episode outside Kodi's library (its show's ids are unknown); not sent")
    try:
        details = rpc("VideoLibrary.GetEpisodeDetails",
                      {"episodeid": dbid, "properties": ["tvshowid", "season", "episode", "file"]})["episodedetails"]
        show = rpc("VideoLibrary.GetTVShowDetails",
                   {"tvshowid": details["tvshowid"], "properties": ["title", "year", "uniqueid", "imdbnumber"]})["tvshowdetails"]
        same_file = _same_file(rpc, details)
    except (RpcError, KeyError, TypeError) as exc:
        raise events.NoIds(f"{label!r}: Kodi's library did not say which show it belongs to ({exc}); not sent") from None
    show_ids = events.clean_ids(show.get("uniqueid") or {}, show.get("imdbnumber"))
    return events.episode(show_ids, own, label=label, season=details.get("season"), number=details.get("episode"),
                          same_file=same_file, title=str(show.get("title") or ""), year=show.get("year"))


def _same_file(rpc: Rpc, details: dict[str, Any]) -> tuple[int, ...]:
    """Episode numbers stored in this episode's file: a multi-episode file is several library episodes."""
    reply = rpc("VideoLibrary.GetEpisodes", {"tvshowid": details["tvshowid"], "season": details.get("season"),
                                             "properties": ["episode", "file"]})
    return tuple(e["episode"] for e in reply.get("episodes") or []
                 if isinstance(e, dict) and e.get("file") == details.get("file") and isinstance(e.get("episode"), int))
