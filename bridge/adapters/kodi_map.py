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

import calendar
import json
import time
from typing import Any

from bridge.events import EventError, Ids, Kind, PlayEvent, Resume, State
from bridge.ids import clean_ids, numbering_for, parse_imdb


class NotInLibrary(EventError):
    """The item carries no ids (a loose file, a stream): it cannot be matched and is not sent."""


def seconds(t: Any) -> float:
    """Kodi's {hours, minutes, seconds, milliseconds} object -> seconds (0 for anything else)."""
    if not isinstance(t, dict):
        return 0.0
    parts = [t.get(k, 0) for k in ("hours", "minutes", "seconds", "milliseconds")]
    if not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts):
        return 0.0
    h, m, s, ms = parts
    # Just after a start Kodi can report a few milliseconds below zero.
    return max(0.0, h * 3600 + m * 60 + s + ms / 1000)


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
) -> PlayEvent:
    """One Player.GetItem `item` (+ the show's details and Player.GetProperties) -> PlayEvent.

    `same_file` lists the episode numbers of the season that share the item's file (a
    multi-episode file is several library episodes with one path); all of them are marked.
    """
    if not isinstance(item, dict):
        raise EventError("kodi item: expected a JSON object")
    kind = item.get("type")
    label = item.get("file") or item.get("label") or "item"
    if kind not in ("movie", "episode"):
        raise NotInLibrary(f"kodi item {label!r}: type {kind!r} is not a library movie or episode (no ids)")
    props = properties if isinstance(properties, dict) else {}
    duration = seconds(props.get("totaltime")) or _number(item.get("runtime"))
    position = seconds(props.get("time"))
    own_ids, own_how = kodi_ids(item)
    common = dict(source="kodi", server=server, user=user, session=session, state=state,
                  position=position, duration=duration, at=at)
    if kind == "movie":
        if not own_ids:
            raise NotInLibrary(f"kodi movie {label!r}: no uniqueid; scrape it with ids to have it sent")
        return PlayEvent(kind=Kind.MOVIE, ids=own_ids, title=str(item.get("title") or ""), year=_year(item.get("year")),
                         matched_by=f"kodi uniqueid {own_how}", **common)

    show = tvshow if isinstance(tvshow, dict) else {}
    show_ids, show_how = kodi_ids(show)
    numbering = numbering_for(show_ids)
    if not show_ids:
        # Episode numbers mean nothing without the show they count in.
        raise NotInLibrary(f"kodi episode {label!r}: its show has no uniqueid")
    season, number = item.get("season"), item.get("episode")
    if not _count(season) or not _count(number) or number == 0:
        raise EventError(f"kodi episode {label!r}: season/episode {season!r}/{number!r} are not episode numbers")
    episodes = tuple(sorted({number, *(n for n in same_file if _count(n) and n > 0)}))
    how = f"kodi show uniqueid {show_how}" + (f"; episode uniqueid {own_how}" if own_ids else "")
    return PlayEvent(kind=Kind.EPISODE, ids=show_ids, episode_ids=own_ids, season=season, episodes=episodes,
                     numbering=numbering, title=str(show.get("title") or item.get("showtitle") or ""),
                     year=_year(show.get("year")), matched_by=how, **common)


def map_file(payload: bytes) -> PlayEvent:
    """`simkl-bridge map --from kodi FILE`: a Player.GetItem result, optionally with `tvshow`
    (GetTVShowDetails' tvshowdetails) and `properties` (GetProperties) objects beside `item`."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError(f"not JSON: {exc}") from None
    if isinstance(data, dict) and "result" in data:  # the whole JSON-RPC reply was saved
        data = data["result"]
    if not isinstance(data, dict) or not isinstance(data.get("item"), dict):
        raise EventError("kodi: expected a Player.GetItem result with an `item` object")
    tvshow = data.get("tvshow") or data.get("tvshowdetails")
    return event_from_item(data["item"], server="kodi", user="kodi", session="map", state=State.STOPPED, at=0.0,
                           tvshow=tvshow, properties=data.get("properties"))


def find_by_ids(objects: list[dict[str, Any]], ids: Ids) -> dict[str, Any] | None:
    """The library object (movie or show) sharing an id with `ids`; None when no id overlaps."""
    wanted = ids.as_dict()
    for obj in objects:
        have = kodi_ids(obj)[0].as_dict() if isinstance(obj, dict) else {}
        if any(have.get(k) == v for k, v in wanted.items()):
            return obj
    return None


# Kodi's clock as info labels: `lastplayed` is in Kodi's local time, which need not be this
# machine's (a bridge in a UTC container next to a Kodi on local time is the usual case). Kodi
# lowercases label arguments, so "hh" is all there is: 24-hour or 12-hour plus a meridiem,
# depending on Kodi's regional settings.
CLOCK_LABELS = ("System.Date(yyyy-mm-dd)", "System.Time(hh:mm:ss xx)")
_STAMP = "%Y-%m-%d %H:%M:%S"
_MERIDIEM = {"": 0, "am": 0, "pm": 12}


def kodi_utc_offset(labels: Any, now: float) -> float | None:
    """Kodi's local time minus UTC, in seconds, from an XBMC.GetInfoLabels reply for CLOCK_LABELS
    read at epoch `now`; None when the reply cannot be read (e.g. a localized meridiem). Rounded to
    15 minutes, the granularity of time zones, so that the read's delay and clock drift vanish."""
    if not isinstance(labels, dict):
        return None
    clock, _, meridiem = str(labels.get(CLOCK_LABELS[1], "")).strip().partition(" ")
    meridiem = meridiem.strip().lower()
    local = _naive_epoch(f"{labels.get(CLOCK_LABELS[0])} {clock}")
    if local is None or meridiem not in _MERIDIEM:
        return None
    if meridiem:  # "12:05:00 AM" is five past midnight
        hour = time.gmtime(local).tm_hour
        local += (hour % 12 + _MERIDIEM[meridiem] - hour) * 3600
    return round((local - now) / 900) * 900


def numbers_agree(show: dict[str, Any], resume: Resume) -> bool:
    """Whether a Simkl playback's season/episode name the same episode in this Kodi show."""
    return resume.numbers_fit(numbering_for(kodi_ids(show)[0]))


def resume_point(obj: dict[str, Any], resume: Resume, utc_offset: float | None = None) -> dict[str, float] | None:
    """The `resume` value to set on a Kodi library item for a Simkl playback, or None to leave it:
    Kodi played the item after Simkl's pause (its own state is newer), the length is unknown, or
    Kodi already resumes there. `utc_offset` is Kodi's (kodi_utc_offset); None assumes this
    machine's time zone."""
    current = obj.get("resume") if isinstance(obj.get("resume"), dict) else {}
    total = _number(current.get("total")) or _number(obj.get("runtime"))
    if not total:
        return None
    played = _naive_epoch(obj.get("lastplayed"))
    if played is not None:
        played -= utc_offset if utc_offset is not None else _this_machines_offset(played)
        # `lastplayed` has one-second resolution: a play within the same second as Simkl's pause
        # may be the later one, and Kodi's own state is never overwritten on a maybe.
        if played + 1 > resume.paused_at:
            return None
    position = round(total * resume.progress / 100, 1)
    if abs(_number(current.get("position")) - position) < 1:
        return None
    return {"position": position, "total": total}


def _naive_epoch(text: Any) -> float | None:
    """"2026-11-20 15:30:05" read as if it were UTC; None for anything else (Kodi says "" for never)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return float(calendar.timegm(time.strptime(text.strip(), _STAMP)))
    except ValueError:
        return None


def _this_machines_offset(naive: float) -> float:
    return float(time.localtime(naive).tm_gmtoff)


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else 0.0


def _year(v: Any) -> int | None:
    # Kodi reports 1970 for an episode without an aired date: not a year worth sending.
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 1900 and v != 1970 else None
