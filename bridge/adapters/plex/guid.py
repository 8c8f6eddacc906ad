"""Plex GUID strings -> ids, and season/episode where the GUID carries them. Pure functions.

- New agents give an opaque `plex://…` guid; the external ids are in the item's `Guid` list
  (`imdb://…`, `tmdb://…`, `tvdb://…`). For an episode that list names the *episode*.
- Legacy agents put one id in `guid` only. An episode's legacy guid is the show's guid plus
  `/season/episode` (`com.plexapp.agents.thetvdb://81189/1/2`), so it locates the episode alone.
- HAMA (anime) prefixes its ids with a mode (`anidb-`, `tvdb3-`, …) that decides what the
  season/episode numbers mean; see `_HAMA_MODES`.
- `local://`, `com.plexapp.agents.none://` and `plex://` carry no external id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bridge.ids import clean_ids, parse_imdb, provider_key
from bridge.item import Ids, Numbering
from bridge.wire import digits


@dataclass(frozen=True)
class GuidMatch:
    """What one GUID string says about an item."""

    ids: Ids
    season: int | None = None  # legacy tvdb/hama episode GUIDs carry season/episode
    episode: int | None = None
    numbering: Numbering = Numbering.TV
    form: str = ""  # which kind of GUID it was, for matched_by and log lines
    # Why the season/episode numbers of this scheme cannot be sent (HAMA absolute modes, DVD
    # order): the ids still name the show, but no Simkl episode can be derived from them.
    unusable_numbering: str = ""


_NO_IDS = Ids()
_LEGACY = "com.plexapp.agents."
_NO_ID_SCHEMES = ("local", "plex", _LEGACY + "none", _LEGACY + "localmedia")
_GUID_LIST_PROVIDERS = ("imdb", "tmdb", "tvdb")  # what new agents put in an item's `Guid` list
_MAL_AGENT = "net.fribbtastic.coding.plex.myanimelist"
# ASCII digits only: `\d` alone takes any script's digits, which int() reads as numbers too.
_HAMA = re.compile(r"(?P<source>anidb|tvdb|tmdb|tsdb|imdb)(?P<mode>\d?)-", re.ASCII)
_PATH = re.compile(r"(?P<id>[^/?]+)(?:/(?P<s>\d+)/(?P<e>\d+))?$", re.ASCII)
# The Kodi-nfo importers invent a long title hash when the nfo has no <id>; database ids are short.
_NFO_ID_DIGITS = 8

# HAMA mode (source + digit) -> numbering of the season/episode Plex shows, or why it is unusable.
# Facts from HAMA's / Absolute Series Scanner's documentation of the forced-id modes.
_HAMA_MODES: dict[str, Numbering | str] = {
    "anidb": Numbering.ANIDB,  # one AniDB entry (cour): season 1, episodes from 1; 0 = specials
    "anidb2": Numbering.TV,  # the AniDB entry placed at its TVDB season/episode (ScudLee mapping)
    "anidb3": "HAMA anidb3 moves TVDB specials into regular seasons (neither AniDB nor TVDB numbering)",
    "anidb4": "HAMA anidb4 inserts seasons of its own (neither AniDB nor TVDB numbering)",
    "tvdb": Numbering.TV,  # TVDB seasons and episodes
    "tvdb2": Numbering.TV,  # absolute files shown as TVDB seasons, episodes restart each season
    "tvdb3": "HAMA tvdb3 keeps absolute episode numbers inside TVDB seasons",
    "tvdb4": "HAMA tvdb4 keeps absolute episode numbers inside arc seasons",
    "tvdb5": "HAMA tvdb5 uses TVDB's absolute order",
    "tmdb": Numbering.TV,
    "tsdb": Numbering.TV,  # TMDB's series side
    "imdb": Numbering.TV,
}


def parse_guid(guid: Any) -> GuidMatch | None:
    """One GUID string -> its ids (and season/episode when the GUID carries them); None when it
    holds no external id (local, none, plex://, music agents, malformed)."""
    if not isinstance(guid, str) or "://" not in guid:
        return None
    scheme, _, rest = guid.strip().partition("://")
    scheme = scheme.lower()
    rest = rest.split("?", 1)[0].strip("/")
    if scheme in _NO_ID_SCHEMES or not rest:
        return None
    if scheme in _GUID_LIST_PROVIDERS:
        ids = clean_ids({scheme: rest}, strict=False)
        return GuidMatch(ids, form="plex guid list") if known(ids) else None
    if scheme == _MAL_AGENT:
        # The MyAnimeList agent: one MAL entry per cour, numbered like AniDB.
        return _located("mal", rest, Numbering.ANIDB, "myanimelist agent")
    if not scheme.startswith(_LEGACY):
        return None
    agent = scheme[len(_LEGACY) :]
    if agent == "hama":
        return _hama(rest)
    if agent in ("xbmcnfo", "xbmcnfotv"):
        return _nfo(agent, rest)
    if agent == "thetvdbdvd":
        return _located("tvdb", rest, Numbering.TV, "legacy thetvdbdvd",
                        unusable="TheTVDB DVD order differs from the aired order Simkl uses")
    key = provider_key(agent)
    return _located(key, rest, Numbering.TV, f"legacy {agent}") if key else None


def _located(provider: str, path: str, numbering: Numbering, form: str, unusable: str = "") -> GuidMatch | None:
    """`id[/season/episode]` of one provider -> GuidMatch."""
    m = _PATH.match(path)
    if not m:
        return None
    ids = clean_ids({provider: m["id"]}, strict=False)
    if not known(ids):
        return None
    season, episode = (int(m["s"]), int(m["e"])) if m["s"] is not None else (None, None)
    return GuidMatch(ids, season, episode, numbering, form, unusable)


def _hama(path: str) -> GuidMatch | None:
    m = _HAMA.match(path)
    if not m:
        return None  # youtube playlists and other HAMA sources Simkl does not know
    mode = m["source"] + m["mode"]
    meaning = _HAMA_MODES.get(mode, f"HAMA {mode} is a mode this bridge does not know")
    numbering = meaning if isinstance(meaning, Numbering) else Numbering.TV
    unusable = "" if isinstance(meaning, Numbering) else meaning
    source = "tmdb" if m["source"] == "tsdb" else m["source"]
    return _located(source, path[m.end() :], numbering, f"hama {mode}", unusable)


def _nfo(agent: str, path: str) -> GuidMatch | None:
    """The Kodi-nfo importers put the nfo's <id> in the GUID, unlabelled: a tt… id is IMDb's; a
    number is what Kodi's scrapers write there, TMDB's for movies and TheTVDB's for shows."""
    m = _PATH.match(path)
    if not m:
        return None
    if parse_imdb(m["id"]):
        provider = "imdb"
    elif digits(m["id"]) is not None and len(m["id"]) <= _NFO_ID_DIGITS:
        provider = "tvdb" if agent == "xbmcnfotv" else "tmdb"
    else:
        return None
    return _located(provider, path, Numbering.TV, f"legacy {agent}")


def guid_list_ids(entries: Any) -> tuple[Ids, list[str]]:
    """A new agent's `Guid` list ([{"id": "tmdb://603"}, …]) -> merged ids and the GUIDs used."""
    raw: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        guid = entry.get("id") if isinstance(entry, dict) else None
        scheme, _, value = guid.partition("://") if isinstance(guid, str) else ("", "", "")
        if scheme in _GUID_LIST_PROVIDERS and value and scheme not in raw:
            raw[scheme] = value
    ids = clean_ids(raw, strict=False)
    return ids, [f"{k}://{v}" for k, v in raw.items() if getattr(ids, k) is not None]


def known(ids: Ids) -> bool:
    # Same answer as bool(ids), without building the dict Ids.__bool__ builds (the mapping's main cost).
    return ids != _NO_IDS
