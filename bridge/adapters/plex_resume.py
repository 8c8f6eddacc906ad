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
import xml.etree.ElementTree as ET
from typing import Any, Callable, Iterable, Sequence

from bridge.adapters.plex_guid import guid_list_ids, parse_guid
from bridge.adapters.plex_map import in_excluded_library, metadata_from_xml
from bridge.events import EventError, Ids, Kind, Resume

log = logging.getLogger("bridge.adapters.plex")

Query = Callable[[str], "ET.Element | None"]  # plexapi's PlexServer.query: path -> parsed XML
SECTION_TYPES = {Kind.MOVIE: "movie", Kind.EPISODE: "show"}


def item_ids(meta: dict[str, Any]) -> Ids:
    """Every external id an item carries: its `Guid` list merged with its own `guid`."""
    ids, _ = guid_list_ids(meta.get("Guid"))
    match = parse_guid(meta.get("guid"))
    if match is not None:
        ids = Ids(**{**match.ids.as_dict(), **ids.as_dict()})
    return ids


def same_item(a: Ids, b: Ids) -> bool:
    mine = a.as_dict()
    return any(mine.get(k) == v for k, v in b.as_dict().items())


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


def _items(root: ET.Element | None) -> list[dict[str, Any]]:
    out = []
    for element in root if root is not None else ():
        if element.tag in ("Video", "Directory"):
            try:
                out.append(metadata_from_xml(element))
            except EventError as exc:
                log.debug("plex item skipped while looking for resume targets: %s", exc)
    return out


class ResumeWriter:
    """One reconciliation's worth of lookups against one server (sections listed once per kind)."""

    def __init__(self, name: str, query: Query, excluded: Sequence[str | int]):
        self.name = name
        self.query = query
        self.excluded = excluded
        self._catalog: dict[Kind, list[dict[str, Any]]] = {}

    def apply(self, resumes: Iterable[Resume]) -> int:
        done = 0
        for resume in resumes:
            target = self._find(resume)
            offset = resume_offset(target, resume) if target else None
            if target is None or offset is None:
                continue
            self.query(f"/:/progress?key={target['ratingKey']}&identifier=com.plexapp.plugins.library"
                       f"&time={offset}&state=stopped")
            log.info("%s: resume point of %s set to %.0f s from Simkl", self.name,
                     resume.title or target.get("title"), offset / 1000)
            done += 1
        return done

    def _find(self, resume: Resume) -> dict[str, Any] | None:
        matches = [m for m in self._library(resume.kind) if same_item(item_ids(m), resume.ids)]
        if resume.kind is Kind.MOVIE:
            return next(iter(matches), None)
        item = next((m for m in matches if numbering_agrees(m, resume)), None)
        if item is None:
            if matches:
                log.info("%s: resume point of %s S%sE%s not set: Simkl numbers this anime's episodes differently "
                         "from Plex", self.name, resume.title, resume.season, resume.episode)
            return None
        leaves = _items(self.query(f"/library/metadata/{item['ratingKey']}/allLeaves"))
        return next((e for e in leaves if (e.get("parentIndex"), e.get("index")) == (resume.season, resume.episode)), None)

    def _library(self, kind: Kind) -> list[dict[str, Any]]:
        if kind not in self._catalog:
            items: list[dict[str, Any]] = []
            for section in _items(self.query("/library/sections")):
                meta = {"librarySectionID": section.get("key"), "librarySectionTitle": section.get("title")}
                if section.get("type") != SECTION_TYPES[kind] or in_excluded_library(meta, self.excluded):
                    continue
                items += _items(self.query(f"/library/sections/{section.get('key')}/all?includeGuids=1"))
            self._catalog[kind] = items
        return self._catalog[kind]
