"""Simkl's paused positions -> Plex view offsets (`apply_resume`).

Items are found by ids with the lookup plexapi documents for `LibrarySection.getGuid`: each movie
or show section listed once with `includeGuids=1`, matched on any shared external id (new agents'
`Guid` lists and legacy/HAMA `guid`s both count, so legacy libraries work too). Episodes are then
found in the show's `allLeaves` by season and episode number (for an anime, only in a show
numbered like AniDB, as Simkl counts it). The offset is set with `/:/progress` (plexapi's
`updateProgress`), which sets it for the user the token belongs to: setting another user's needs
that user's token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from bridge.adapters.plex.guid import guid_list_ids, parse_guid
from bridge.adapters.plex.map import in_excluded_library
from bridge.events import Ids, Kind, Resume

if TYPE_CHECKING:
    from bridge.adapters.plex.api import PlexApi

log = logging.getLogger("bridge.adapters.plex")

SECTION_TYPES = {Kind.MOVIE: "movie", Kind.EPISODE: "show"}


def item_ids(meta: dict[str, Any]) -> Ids:
    """Every external id an item carries: its `Guid` list merged with its own `guid`."""
    ids, _ = guid_list_ids(meta.get("Guid"))
    match = parse_guid(meta.get("guid"))
    if match is not None:
        ids = Ids(**{**match.ids.as_dict(), **ids.as_dict()})
    return ids


def numbering_agrees(show: dict[str, Any], resume: Resume) -> bool:
    """Whether a Simkl playback's season/episode name the same episode in this Plex show."""
    match = parse_guid(show.get("guid"))
    return resume.numbers_fit(match.numbering if match is not None else None)


def resume_offset(meta: dict[str, Any], resume: Resume) -> int | None:
    """The view offset (ms) to set on this item, or None when Plex's own is as new or newer.

    Plex wins when the item was viewed on Plex after Simkl's pause: its resume point is newer, or,
    when it has none, the viewing was finished there."""
    duration = meta.get("duration")
    if not isinstance(duration, int) or duration <= 0:
        return None
    own = meta.get("viewOffset")
    viewed = meta.get("lastViewedAt")
    if isinstance(viewed, int) and viewed >= resume.paused_at:
        return None
    offset = int(duration * resume.progress / 100)
    # Plex ignores an offset of 0 (that is "unwatched", set another way).
    return offset if offset > 0 and offset != own else None


class ResumeWriter:
    """One reconciliation's worth of lookups against one server (sections listed once per kind)."""

    def __init__(self, name: str, api: PlexApi, excluded: Sequence[str | int]):
        self.name = name
        self.api = api
        self.excluded = excluded
        self._catalog: dict[Kind, list[dict[str, Any]]] = {}

    def apply(self, resumes: Iterable[Resume]) -> int:
        done = 0
        for resume in resumes:
            target = self._find(resume)
            offset = resume_offset(target, resume) if target else None
            if target is None or offset is None:
                continue
            self.api.set_progress(str(target["ratingKey"]), offset)
            log.info("%s: resume point of %s set to %.0f s from Simkl", self.name,
                     resume.title or target.get("title"), offset / 1000)
            done += 1
        return done

    def _find(self, resume: Resume) -> dict[str, Any] | None:
        matches = [m for m in self._library(resume.kind) if item_ids(m).overlaps(resume.ids)]
        if resume.kind is Kind.MOVIE:
            return next(iter(matches), None)
        item = next((m for m in matches if numbering_agrees(m, resume)), None)
        if item is None:
            if matches:
                log.info("%s: resume point of %s S%sE%s not set: Simkl numbers this anime's episodes differently "
                         "from Plex", self.name, resume.title, resume.season, resume.episode)
            return None
        leaves = self.api.items(f"/library/metadata/{item['ratingKey']}/allLeaves")
        return next((e for e in leaves if (e.get("parentIndex"), e.get("index")) == (resume.season, resume.episode)), None)

    def _library(self, kind: Kind) -> list[dict[str, Any]]:
        if kind not in self._catalog:
            items: list[dict[str, Any]] = []
            for section in self.api.items("/library/sections"):
                meta = {"librarySectionID": section.get("key"), "librarySectionTitle": section.get("title")}
                if section.get("type") != SECTION_TYPES[kind] or in_excluded_library(meta, self.excluded):
                    continue
                items += self.api.items(f"/library/sections/{section.get('key')}/all?includeGuids=1")
            self._catalog[kind] = items
        return self._catalog[kind]
