"""Kodi JSON-RPC results -> PlayEvent. Pure functions, no sockets.

What Kodi tells us, and what it does not:
- `Player.GetItem` `uniqueid` is a {provider: id-string} map. For an episode these are the
  *episode's* ids; the show's come from `VideoLibrary.GetTVShowDetails`.
- `imdbnumber` is the item's *default* unique id, whatever its provider ("603" is a tmdb id). It is
  used only when it is unmistakably an IMDb id (tt…).
- A loose file outside the library has no ids at all (`type: "unknown"`): it is not mapped. Titles
  and file names are never guessed from.
"""

from __future__ import annotations

import math
from typing import Any

from bridge.events import EventError, Ids, Kind, PlayEvent, State
from bridge.ids import clean_ids, numbering_for, parse_imdb
from bridge.wire import is_count, is_number, loads


class NotInLibrary(EventError):
    """The item carries no ids (a loose file, a stream): it cannot be matched and is not sent."""


def seconds(t: Any) -> float:
    """Kodi's {hours, minutes, seconds, milliseconds} object -> seconds (0 for anything else)."""
    if not isinstance(t, dict):
        return 0.0
    parts = [t.get(k, 0) for k in ("hours", "minutes", "seconds", "milliseconds")]
    if not all(is_number(p) for p in parts):
        return 0.0
    h, m, s, ms = parts
    total = float(h * 3600 + m * 60 + s + ms / 1000)
    # Just after a start Kodi can report a few milliseconds below zero; parts past float range add up to inf.
    return max(0.0, total) if math.isfinite(total) else 0.0


def kodi_ids(obj: dict[str, Any]) -> tuple[Ids, str]:
    """The ids of one Kodi library object and how they were found (for `matched_by`)."""
    raw = obj.get("uniqueid")
    found = dict(raw) if isinstance(raw, dict) else {}
    imdb = parse_imdb(obj.get("imdbnumber"))
    if imdb and "imdb" not in found:
        found["imdb"] = imdb
    ids = clean_ids(found, strict=False)
    how = ",".join(sorted(ids.as_dict()))
    return ids, how


def event_from_item(
    item: dict[str, Any],
    *,
    server: str,
    user: str,
    session: str,
    state: State,
    at: float,
    tvshow: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    same_file: tuple[int, ...] = (),
    show_mapped: tuple[Ids, str] | None = None,
) -> PlayEvent:
    """One Player.GetItem `item` (+ the show's details and Player.GetProperties) -> PlayEvent.

    `same_file` lists the episode numbers of the season that share the item's file (a
    multi-episode file is several library episodes with one path); all of them are marked.
    `show_mapped` is kodi_ids(tvshow) when the caller has it already: a library read maps each show
    once, not once for each of its episodes.
    """
    if not isinstance(item, dict):
        raise EventError("kodi item: expected a JSON object")
    kind = item.get("type")
    label = item.get("file") or item.get("label") or "item"
    if kind not in ("movie", "episode"):
        raise NotInLibrary(f"kodi item {label!r}: type {kind!r} is not a library movie or episode (no ids)")
    props = properties if isinstance(properties, dict) else {}
    duration = seconds(props.get("totaltime")) or positive(item.get("runtime"))
    position = seconds(props.get("time"))
    own_ids, own_how = kodi_ids(item)
    common: dict[str, Any] = dict(source="kodi", server=server, user=user, session=session, state=state,
                  position=position, duration=duration, at=at)
    if kind == "movie":
        if not own_ids:
            raise NotInLibrary(f"kodi movie {label!r}: no uniqueid; scrape it with ids to have it sent")
        return PlayEvent(kind=Kind.MOVIE, ids=own_ids, title=str(item.get("title") or ""), year=kodi_year(item.get("year")),
                         matched_by=f"kodi uniqueid {own_how}", **common)

    show = tvshow if isinstance(tvshow, dict) else {}
    show_ids, show_how = show_mapped if show_mapped is not None else kodi_ids(show)
    numbering = numbering_for(show_ids)
    if not show_ids:
        # Episode numbers mean nothing without the show they count in.
        raise NotInLibrary(f"kodi episode {label!r}: its show has no uniqueid")
    season, number = item.get("season"), item.get("episode")
    if not is_count(season) or not is_count(number) or number == 0:
        raise EventError(f"kodi episode {label!r}: season/episode {season!r}/{number!r} are not episode numbers")
    episodes = tuple(sorted({number, *(n for n in same_file if is_count(n) and n > 0)}))
    how = f"kodi show uniqueid {show_how}" + (f"; episode uniqueid {own_how}" if own_ids else "")
    return PlayEvent(kind=Kind.EPISODE, ids=show_ids, episode_ids=own_ids, season=season, episodes=episodes,
                     numbering=numbering, title=str(show.get("title") or item.get("showtitle") or ""),
                     year=kodi_year(show.get("year")), matched_by=how, **common)


def map_file(payload: bytes) -> PlayEvent:
    """`simkl-bridge map --from kodi FILE`: a Player.GetItem result, optionally with `tvshow`
    (GetTVShowDetails' tvshowdetails) and `properties` (GetProperties) objects beside `item`."""
    data = loads(payload, "kodi")
    if isinstance(data, dict) and "result" in data:  # the whole JSON-RPC reply was saved
        data = data["result"]
    if not isinstance(data, dict) or not isinstance(data.get("item"), dict):
        raise EventError("kodi: expected a Player.GetItem result with an `item` object")
    tvshow = data.get("tvshow") or data.get("tvshowdetails")
    return event_from_item(data["item"], server="kodi", user="kodi", session="map", state=State.STOPPED, at=0.0,
                           tvshow=tvshow, properties=data.get("properties"))


def positive(v: Any) -> float:
    """A length or position Kodi gave as a number; 0 for anything else (unknown)."""
    return float(v) if is_number(v) and v > 0 else 0.0


def kodi_year(v: Any) -> int | None:
    # Kodi reports 1970 for an episode without an aired date: not a year worth sending.
    return v if is_count(v) and v > 1900 and v != 1970 else None
