"""Plex metadata, webhooks and GUIDs -> PlayEvent. Pure functions, no sockets.

What Plex tells us, and what it does not:
- New agents give an opaque `plex://…` guid; the external ids are in the `Guid` list. For an
  episode that list names the *episode*; the show's ids are on the grandparent (the show's own
  metadata, which the live adapter fetches and inlines as `meta["grandparent"]`).
- Legacy agents put one id in `guid` only. An episode's legacy guid is the show's guid plus
  `/season/episode` (`com.plexapp.agents.thetvdb://81189/1/2`), so it locates the episode alone.
- HAMA (anime) prefixes its ids with a mode (`anidb-`, `tvdb3-`, …) that decides what the
  season/episode numbers mean; see `_HAMA_MODES`.
- `local://`, `com.plexapp.agents.none://` and a `plex://` item with no `Guid` list carry no
  external id: the item is not mapped. Titles and file names are never guessed from.
Positions and durations are milliseconds on the wire, seconds in a PlayEvent.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from bridge.events import EventError, Ids, Kind, Numbering, PlayEvent, State
from bridge.ids import clean_ids, parse_imdb, provider_key


class NotMatched(EventError):
    """No usable id (local://, unmatched, no agent): the caller logs once and skips the item."""


class NotVideo(NotMatched):
    """A track, clip, trailer or photo: nothing Simkl tracks."""


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

WEBHOOK_STATES = {
    "media.play": State.PLAYING,
    "media.resume": State.PLAYING,
    "media.pause": State.PAUSED,
    "media.stop": State.STOPPED,
    "media.scrobble": State.WATCHED,
}

_LEGACY = "com.plexapp.agents."
_NO_ID_SCHEMES = ("local", "plex", _LEGACY + "none", _LEGACY + "localmedia")
_GUID_LIST_PROVIDERS = ("imdb", "tmdb", "tvdb")  # what new agents put in an item's `Guid` list
_MAL_AGENT = "net.fribbtastic.coding.plex.myanimelist"
_HAMA = re.compile(r"(?P<source>anidb|tvdb|tmdb|tsdb|imdb)(?P<mode>\d?)-")
_PATH = re.compile(r"(?P<id>[^/?]+)(?:/(?P<s>\d+)/(?P<e>\d+))?$")
# The Kodi-nfo importers invent a long title hash when the nfo has no <id>; database ids are short.
_NFO_ID_DIGITS = 8

# HAMA numbers AniDB's own specials 1-99 in season 0 and codes its credits, trailers, parodies and
# "other" episodes as 101+, 201+, 301+, 401+ (O1 is 0/401): only the first kind has an episode number.
_HAMA_SPECIALS_END = 100

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
        return GuidMatch(ids, form="plex guid list") if _known(ids) else None
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
    if not _known(ids):
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
    elif m["id"].isdigit() and len(m["id"]) <= _NFO_ID_DIGITS:
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


def _item_match(meta: dict[str, Any]) -> tuple[GuidMatch | None, str]:
    """The ids one metadata object carries itself: its `Guid` list, else its legacy `guid`."""
    ids, used = guid_list_ids(meta.get("Guid"))
    if _known(ids):
        return GuidMatch(ids, form="plex guid list"), "plex guid " + ", ".join(used)
    guid = meta.get("guid")
    match = parse_guid(guid)
    return (match, f"plex guid {guid}") if match else (None, "")


def event_from_metadata(meta: Any, *, server: str, user: str, session: str, state: State,
                        position: float, at: float) -> PlayEvent:
    """One Metadata object (JSON form; an episode may inline its show as `grandparent`) -> PlayEvent.

    Raises NotMatched when no usable id is found, NotVideo for music/clips, EventError for bad fields.
    """
    if not isinstance(meta, dict):
        raise EventError("plex Metadata: expected a JSON object")
    kind = meta.get("type")
    label = _label(meta)
    if kind not in ("movie", "episode"):
        raise NotVideo(f"plex item {label}: type {kind!r} is not a movie or episode")
    duration = _ms(meta, "duration") / 1000
    common = dict(source="plex", server=server, user=user, session=session, state=state,
                  position=position, duration=duration, at=at)
    own, own_how = _item_match(meta)
    if kind == "movie":
        if own is None:
            raise NotMatched(f"plex movie {label}: guid {_guids(meta)} carries no usable id")
        return PlayEvent(kind=Kind.MOVIE, ids=own.ids, title=_text(meta, "title"), year=_int(meta, "year"),
                         matched_by=own_how, **common)

    show, show_how, episode_ids = _show_match(meta, own, own_how)
    if show is not None and show.unusable_numbering:
        raise NotMatched(f"plex episode {label}: {show.unusable_numbering}; no Simkl episode can be derived")
    if show is None and not _known(episode_ids):
        raise NotMatched(f"plex episode {label}: guid {_guids(meta)} and its show carry no usable id")
    season, number = _position_in_show(meta, show, label)
    if show is not None and show.form == "hama anidb" and season == 0 and number > _HAMA_SPECIALS_END:
        raise NotMatched(f"plex episode {label}: special 0/{number} is HAMA's code for an AniDB credit, trailer, "
                         "parody or other episode, which has no Simkl episode number")
    grandparent = meta.get("grandparent") if isinstance(meta.get("grandparent"), dict) else {}
    title = _text(grandparent, "title") or _text(meta, "grandparentTitle")
    how = "; ".join(h for h in (show_how, f"episode {own_how}" if _known(episode_ids) else "") if h)
    return PlayEvent(kind=Kind.EPISODE, ids=show.ids if show else Ids(), episode_ids=episode_ids,
                     season=season, episodes=(number,), numbering=show.numbering if show else Numbering.TV,
                     title=title, year=_int(grandparent, "year"), matched_by=how, **common)


def _show_match(meta: dict[str, Any], own: GuidMatch | None, own_how: str) -> tuple[GuidMatch | None, str, Ids]:
    """The show's ids for an episode, how they were found, and the episode's own ids."""
    if own is not None and own.episode is not None:
        return own, own_how, Ids()  # a legacy episode GUID is the show's id plus season/episode
    episode_ids = own.ids if own is not None and own.form == "plex guid list" else Ids()
    grandparent = meta.get("grandparent")
    if isinstance(grandparent, dict):
        show, how = _item_match(grandparent)
        if show is not None:
            return show, how, episode_ids
    guid = meta.get("grandparentGuid")
    show = parse_guid(guid)
    return (show, f"plex guid {guid}", episode_ids) if show else (None, "", episode_ids)


def _position_in_show(meta: dict[str, Any], show: GuidMatch | None, label: str) -> tuple[int, int]:
    if show is not None and show.episode is not None:
        season, number = show.season, show.episode
    else:
        season, number = meta.get("parentIndex"), meta.get("index")
    if not _count(season) or not _count(number) or number == 0:
        raise EventError(f"plex episode {label}: parentIndex/index {season!r}/{number!r} are not season/episode numbers")
    return season, number


def webhook_event(payload: Any, *, server: str, at: float) -> PlayEvent | None:
    """The JSON of a webhook's `payload` part -> PlayEvent; None for events that are not playback
    (library.new, media.rate, admin.*, …) and for items that are not movies or episodes."""
    if not isinstance(payload, dict):
        raise EventError("plex webhook: expected a JSON object")
    name = payload.get("event")
    if not isinstance(name, str):
        raise EventError(f"plex webhook event: expected a string, got {type(name).__name__}")
    state = WEBHOOK_STATES.get(name)
    if state is None:
        return None
    meta = _object(payload, "Metadata")
    if not isinstance(meta.get("type"), str):
        raise EventError(f"plex webhook Metadata.type: expected a string, got {meta.get('type')!r}")
    if meta["type"] not in ("movie", "episode"):
        return None
    account = _object(payload, "Account")
    user = next((str(v) for v in (account.get("title"), account.get("id"))
                 if isinstance(v, (str, int)) and not isinstance(v, bool) and v != ""), None)
    if user is None:
        raise EventError("plex webhook Account: neither a title nor an id")
    player = _object(payload, "Player").get("uuid")
    if not isinstance(player, str) or not player:
        raise EventError("plex webhook Player.uuid: missing")
    return event_from_metadata(meta, server=server, user=user, session=f"{player}/{_rating_key(meta)}",
                               state=state, position=_ms(meta, "viewOffset") / 1000, at=at)


def in_excluded_library(meta: dict[str, Any], excluded: Sequence[str | int]) -> bool:
    """Whether the item's library is listed in `excluded`, by title (any case) or section id."""
    title = meta.get("librarySectionTitle")
    section = meta.get("librarySectionID")
    section = int(section) if isinstance(section, str) and section.isdigit() else section
    for entry in excluded:
        if isinstance(title, str) and str(entry).casefold() == title.casefold():
            return True
        wanted = int(entry) if isinstance(entry, str) and entry.isdigit() else entry
        if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted == section:
            return True
    return False


# Attributes Plex's JSON API sends as numbers; XML sends every attribute as text.
_XML_NUMBERS = ("index", "parentIndex", "year", "duration", "viewOffset", "librarySectionID",
                "viewCount", "lastViewedAt", "addedAt", "updatedAt", "leafCount")
_XML_ITEMS = ("Video", "Directory", "Track", "Photo")


def metadata_from_xml(element: ET.Element) -> dict[str, Any]:
    """A <Video>/<Directory> element of a /library/metadata response -> the JSON form."""
    meta: dict[str, Any] = dict(element.attrib)
    for name in _XML_NUMBERS:
        if name in meta:
            try:
                meta[name] = int(meta[name])
            except ValueError:
                raise EventError(f"plex {element.tag} {name}: {meta[name]!r} is not a number") from None
    guids = [{"id": g.get("id")} for g in element.findall("Guid") if g.get("id")]
    if guids:
        meta["Guid"] = guids
    return meta


def parse_metadata_response(payload: bytes) -> dict[str, Any]:
    """A whole /library/metadata/{key} response, XML or JSON -> its first Metadata object."""
    if payload.lstrip()[:1] == b"<":
        try:
            root = ET.fromstring(payload)
        except ET.ParseError as exc:
            raise EventError(f"not XML: {exc}") from None
        first = next((child for child in root if child.tag in _XML_ITEMS), None)
        if root.tag != "MediaContainer" or first is None:
            raise EventError("plex MediaContainer: no <Video> or <Directory> item")
        return metadata_from_xml(first)
    data = _json(payload)
    if isinstance(data, dict) and "MediaContainer" in data:
        data = data["MediaContainer"]
        items = data.get("Metadata") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise EventError("plex MediaContainer.Metadata: missing or empty")
        data = items[0]
    if not isinstance(data, dict) or "type" not in data:
        raise EventError("plex MediaContainer.Metadata: missing (expected a /library/metadata response)")
    return data


def map_webhook(payload: bytes) -> PlayEvent:
    """`simkl-bridge map --from plex-webhook FILE`: the JSON of a webhook's `payload` part."""
    data = _json(payload)
    server = data.get("Server") if isinstance(data, dict) else None
    name = server.get("title") if isinstance(server, dict) and isinstance(server.get("title"), str) else "plex"
    event = webhook_event(data, server=name, at=0.0)
    if event is None:
        meta = data.get("Metadata") if isinstance(data.get("Metadata"), dict) else {}
        raise EventError(f"plex webhook {data.get('event')!r} about {meta.get('type', 'nothing')!r}: "
                         "not a playback of a movie or episode, nothing to send")
    return event


def map_metadata(payload: bytes) -> PlayEvent:
    """`simkl-bridge map --from plex-metadata FILE`: a /library/metadata/{key} response (XML or
    JSON); an episode's JSON may inline its show's metadata as `grandparent`."""
    meta = parse_metadata_response(payload)
    return event_from_metadata(meta, server="plex", user="plex", session=_rating_key(meta), state=State.STOPPED,
                               position=_ms(meta, "viewOffset") / 1000, at=0.0)


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError(f"not JSON: {exc}") from None


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        got = "missing" if value is None else f"expected an object, got {type(value).__name__}"
        raise EventError(f"plex webhook {name}: {got}")
    return value


def _ms(meta: dict[str, Any], name: str) -> float:
    """A millisecond field; absent means unknown (0). Plex omits them on some events."""
    value = meta.get(name)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise EventError(f"plex Metadata.{name}: expected milliseconds, got {value!r}")
    return float(value)


def _rating_key(meta: dict[str, Any]) -> str:
    key = meta.get("ratingKey")
    if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "":
        raise EventError(f"plex Metadata.ratingKey: expected a string, got {key!r}")
    return str(key)


def _label(meta: dict[str, Any]) -> str:
    key = meta.get("ratingKey")
    title = meta.get("title")
    return f"{key} {title!r}" if isinstance(title, str) and title else f"{key}"


def _guids(meta: dict[str, Any]) -> str:
    entries = meta.get("Guid") if isinstance(meta.get("Guid"), list) else []
    found: Iterable[Any] = [meta.get("guid")] + [g.get("id") for g in entries if isinstance(g, dict)]
    shown = [g for g in found if isinstance(g, str) and g]
    return ", ".join(shown) if shown else "(none)"


def _text(meta: dict[str, Any], name: str) -> str:
    value = meta.get(name)
    return value if isinstance(value, str) else ""


def _int(meta: dict[str, Any], name: str) -> int | None:
    value = meta.get(name)
    return value if _count(value) and value > 0 else None


def _known(ids: Ids) -> bool:
    # Same answer as bool(ids), without building the dict Ids.__bool__ builds (the mapping's main cost).
    return ids != _NO_IDS


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0
