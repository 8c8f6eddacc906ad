"""Simkl's paused positions -> Jellyfin resume points for the configured user.

Items are found by provider id in the user's library listing (Jellyfin's own provider-id filter
has been ignored or broken across releases, so the match is done here), episodes through their
series and season. A resume point is written only when Simkl's pause is newer than the user's
`LastPlayedDate` in Jellyfin; the write sets that date to the pause, so running it again is a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from bridge.adapters.jellyfin.api import JellyfinApi
from bridge.events import Ids, Kind, Resume
from bridge.ids import clean_ids, numbering_for
from bridge.times import iso_ms, parse_iso, ticks_to_seconds
from bridge.wire import is_count

log = logging.getLogger("bridge.adapters.jellyfin")

# Dates round-trip through Jellyfin at millisecond (or second) precision: our own write comes back a
# little earlier than the pause it was made from, and must still count as "the same, not older".
SAME_INSTANT = 1.0


def item_ids(item: dict[str, Any]) -> Ids:
    raw = item.get("ProviderIds")
    return clean_ids(raw if isinstance(raw, dict) else {}, strict=False)


def find_by_ids(items: list[dict[str, Any]], ids: Ids) -> dict[str, Any] | None:
    """The first item whose ProviderIds overlap `ids`."""
    return next((item for item in items if item_ids(item).overlaps(ids)), None)


def numbers_agree(series: dict[str, Any], resume: Resume) -> bool:
    """Whether a Simkl playback's season/episode name the same episode in this Jellyfin series."""
    return resume.numbers_fit(numbering_for(item_ids(series)))


def find_episode(episodes: list[dict[str, Any]], season: int, number: int) -> dict[str, Any] | None:
    for ep in episodes:
        first, last = ep.get("IndexNumber"), ep.get("IndexNumberEnd")
        if ep.get("ParentIndexNumber") != season or not is_count(first):
            continue
        if first == number or (is_count(last) and first <= number <= last):
            return ep
    return None


def resume_ticks(item: dict[str, Any], resume: Resume) -> int | None:
    """The position to set, or None when the item's length is unknown or Jellyfin's state is newer."""
    runtime = item.get("RunTimeTicks")
    if not is_count(runtime) or runtime == 0:
        return None
    user_data = item.get("UserData")
    jellyfin_at = parse_iso(user_data.get("LastPlayedDate")) if isinstance(user_data, dict) else None
    if jellyfin_at is not None and jellyfin_at >= resume.paused_at - SAME_INSTANT:
        return None
    return int(runtime * min(100.0, max(0.0, resume.progress)) / 100)


class ResumePusher:
    def __init__(self, api: JellyfinApi, name: str):
        self.api = api
        self.name = name

    def push(self, user_id: str, resumes: list[Resume]) -> int:
        listings: dict[str, list[dict[str, Any]]] = {}

        def listing(kind: str) -> list[dict[str, Any]]:
            if kind not in listings:
                listings[kind] = self.api.library_items(user_id, kind)
            return listings[kind]

        done = 0
        for resume in resumes:
            if resume.kind is Kind.MOVIE:
                target = find_by_ids(listing("Movie"), resume.ids)
            else:
                target = self._episode(listing("Series"), resume, user_id)
            ticks = resume_ticks(target, resume) if target is not None else None
            if target is None or ticks is None:
                continue
            self.api.set_resume(str(target["Id"]), user_id, ticks, iso_ms(resume.paused_at))
            log.info("%s: resume point of %s set to %.0f s from Simkl", self.name, resume.title or target.get("Name"),
                     ticks_to_seconds(ticks))
            done += 1
        return done

    def _episode(self, shows: list[dict[str, Any]], resume: Resume, user_id: str) -> dict[str, Any] | None:
        if resume.season is None or resume.episode is None:
            return None
        show = find_by_ids([s for s in shows if numbers_agree(s, resume)], resume.ids)
        if show is None:
            if find_by_ids(shows, resume.ids) is not None:
                log.info("%s: resume point of %s S%sE%s not set: Simkl numbers this anime's episodes differently "
                         "from Jellyfin", self.name, resume.title, resume.season, resume.episode)
            return None
        episodes = self.api.episodes(str(show["Id"]), resume.season, user_id)
        return find_episode(episodes, resume.season, resume.episode)
