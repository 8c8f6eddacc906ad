"""Simkl resume points -> Kodi's library: `VideoLibrary.SetMovieDetails` / `SetEpisodeDetails`.

Kodi's own resume point wins when Kodi played the item after Simkl's pause. Kodi writes
`lastplayed` as a naive local time in its own time zone, read here from its clock labels.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bridge.adapters.kodi.api import CLOCK_LABELS, KodiApi, RpcError
from bridge.adapters.kodi.map import kodi_ids, positive
from bridge.events import Ids, Kind, Resume
from bridge.ids import numbering_for
from bridge.times import parse_local
from bridge.wire import is_count

_MERIDIEM = {"": 0, "am": 0, "pm": 12}


def find_by_ids(objects: list[dict[str, Any]], ids: Ids) -> dict[str, Any] | None:
    """The library object (movie or show) sharing an id with `ids`; None when no id overlaps."""
    return next((obj for obj in objects if kodi_ids(obj)[0].overlaps(ids)), None)


def kodi_utc_offset(labels: Any, now: float) -> float | None:
    """Kodi's local time minus UTC, in seconds, from an XBMC.GetInfoLabels reply for CLOCK_LABELS
    read at epoch `now`; None when the reply cannot be read (e.g. a localized meridiem). Rounded to
    15 minutes, the granularity of time zones, so that the read's delay and clock drift vanish."""
    if not isinstance(labels, dict):
        return None
    clock, _, meridiem = str(labels.get(CLOCK_LABELS[1], "")).strip().partition(" ")
    meridiem = meridiem.strip().lower()
    local = parse_local(f"{labels.get(CLOCK_LABELS[0])} {clock}", 0)
    if local is None or meridiem not in _MERIDIEM:
        return None
    if meridiem:  # "12:05:00 AM" is five past midnight
        hour = time.gmtime(local).tm_hour
        local += (hour % 12 + _MERIDIEM[meridiem] - hour) * 3600
    return round((local - now) / 900) * 900


def read_utc_offset(api: KodiApi, name: str, log: logging.Logger, now: float) -> float | None:
    """Kodi's UTC offset from its clock, read at epoch `now`; None (said in the log) when it cannot
    be read, and Kodi's lastplayed is then taken in this machine's zone."""
    try:
        offset = kodi_utc_offset(api.clock(), now)
    except RpcError:
        offset = None
    if offset is None:
        log.info("%s: cannot read Kodi's clock; taking its lastplayed in this machine's time zone", name)
    return offset


def numbers_agree(show: dict[str, Any], resume: Resume) -> bool:
    """Whether a Simkl playback's season/episode name the same episode in this Kodi show."""
    return resume.numbers_fit(numbering_for(kodi_ids(show)[0]))


def resume_point(obj: dict[str, Any], resume: Resume, utc_offset: float | None = None) -> dict[str, float] | None:
    """The `resume` value to set on a Kodi library item for a Simkl playback, or None to leave it:
    Kodi played the item after Simkl's pause (its own state is newer), the length is unknown, or
    Kodi already resumes there. `utc_offset` is Kodi's (kodi_utc_offset); None assumes this
    machine's time zone."""
    current = obj.get("resume")
    if not isinstance(current, dict):
        current = {}
    total = positive(current.get("total")) or positive(obj.get("runtime"))
    if not total:
        return None
    played = parse_local(obj.get("lastplayed"), utc_offset)
    # `lastplayed` has one-second resolution: a play within the same second as Simkl's pause may be
    # the later one, and Kodi's own state is never overwritten on a maybe.
    if played is not None and played + 1 > resume.paused_at:
        return None
    position = round(total * resume.progress / 100, 1)
    if abs(positive(current.get("position")) - position) < 1:
        return None
    return {"position": position, "total": total}


class ResumeWriter:
    """Sets one Kodi's resume points from Simkl's, reading its library once per batch."""

    def __init__(self, api: KodiApi, name: str, log: logging.Logger):
        self.api, self.name, self.log = api, name, log

    def apply(self, resumes: list[Resume], now: float) -> int:
        """Set Kodi's resume point for each Simkl playback of a library item, unless Kodi's own is
        newer. Returns how many were set; a refused one does not stop the rest."""
        offset = read_utc_offset(self.api, self.name, self.log, now)
        library: dict[str, list[dict[str, Any]]] = {}
        done = 0
        for resume in resumes:
            try:
                done += self._one(resume, offset, library)
            except RpcError as exc:
                self.log.warning("%s: resume point of %s not set: %s", self.name, resume.title or resume.ids.key(), exc)
        return done

    def _one(self, resume: Resume, offset: float | None, library: dict[str, list[dict[str, Any]]]) -> int:
        if resume.kind is Kind.MOVIE:
            if "movies" not in library:
                library["movies"] = self.api.movies()
            target = find_by_ids(library["movies"], resume.ids)
        else:
            if "tvshows" not in library:
                library["tvshows"] = self.api.shows()
            target = self._episode(library["tvshows"], resume)
        point = resume_point(target, resume, offset) if target else None
        if point is None or target is None or not self.api.set_resume(resume.kind, target, point):
            return 0
        self.log.info("%s: resume point of %s set to %.0f s from Simkl", self.name, resume.title or target.get("title"),
                      point["position"])
        return 1

    def _episode(self, shows: list[dict[str, Any]], resume: Resume) -> dict[str, Any] | None:
        show = find_by_ids(shows, resume.ids)
        if show is None or not is_count(show.get("tvshowid")) or resume.season is None or resume.episode is None:
            return None
        if not numbers_agree(show, resume):
            self.log.info("%s: resume point of %s S%sE%s not set: Simkl numbers this anime's episodes differently from Kodi",
                          self.name, resume.title or show.get("title"), resume.season, resume.episode)
            return None
        episodes = self.api.episodes(show["tvshowid"], resume.season)
        return next((e for e in episodes if e.get("episode") == resume.episode), None)
