"""Plex metadata and webhooks -> PlayEvent. Pure functions, no sockets.

What Plex tells us, and what it does not:
- An item's ids come from its GUIDs (`guid.py`). For a new-agent episode they name the episode;
  the show's ids are on the grandparent (the show's own metadata, which the live adapter reads
  and inlines as `meta["grandparent"]`). A legacy or HAMA episode GUID names the show itself.
- A file holding several episodes (`S01E01-E02`) is several episode items of one season whose
  Media parts name the same file: `same_file_episodes` finds them among the season's children.
- An item without an external id is not mapped. Titles and file names are never guessed from.
Positions and durations are milliseconds on the wire, seconds in a PlayEvent.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

from bridge.adapters.plex.guid import GuidMatch, guid_list_ids, known, parse_guid
from bridge.events import EventError, Ids, Kind, Numbering, PlayEvent, State
from bridge.wire import digits, is_count, is_number, loads, one_line


class NotMatched(EventError):
    """No usable id (local://, unmatched, no agent): the caller logs once and skips the item."""


class NotVideo(NotMatched):
    """A track, clip, trailer or photo: nothing Simkl tracks."""


WEBHOOK_STATES = {"media.play": State.PLAYING, "media.resume": State.PLAYING, "media.pause": State.PAUSED,
                  "media.stop": State.STOPPED, "media.scrobble": State.WATCHED}

# HAMA numbers AniDB's own specials 1-99 in season 0 and codes its credits, trailers, parodies and
# "other" episodes as 101+, 201+, 301+, 401+ (O1 is 0/401): only the first kind has an episode number.
_HAMA_SPECIALS_END = 100


def _item_match(meta: dict[str, Any]) -> tuple[GuidMatch | None, str]:
    """The ids one metadata object carries itself: its `Guid` list, else its legacy `guid`."""
    ids, used = guid_list_ids(meta.get("Guid"))
    if known(ids):
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
    common: dict[str, Any] = dict(source="plex", server=server, user=user, session=session, state=state,
                  position=position, duration=duration, at=at)
    own, own_how = _item_match(meta)
    if kind == "movie":
        if own is None:
            raise NotMatched(f"plex movie {label}: guid {_guids(meta)} carries no usable id")
        return PlayEvent(kind=Kind.MOVIE, ids=own.ids, title=_text(meta, "title"), year=_int(meta, "year"),
                         matched_by=own_how, **common)

    show, show_how, episode_ids = _show_match(meta, own, own_how)
    if show is None and not known(episode_ids):
        raise NotMatched(f"plex episode {label}: guid {_guids(meta)} and its show carry no usable id")
    season, number = _position_in_show(meta, show, label)
    episodes: tuple[int, ...] = (number,)
    inlined = meta.get("season")
    if isinstance(inlined, dict):  # the season's children, inlined like the show (map --from plex-metadata)
        found = same_file_episodes(meta, inlined.get("Metadata"))
        episodes = found if number in found else episodes
    grandparent = gp if isinstance(gp := meta.get("grandparent"), dict) else {}
    title = _text(grandparent, "title") or _text(meta, "grandparentTitle")
    how = "; ".join(h for h in (show_how, f"episode {own_how}" if known(episode_ids) else "") if h)
    return PlayEvent(kind=Kind.EPISODE, ids=show.ids if show else Ids(), episode_ids=episode_ids,
                     season=season, episodes=episodes, numbering=show.numbering if show else Numbering.TV,
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
    """An episode's season and number as Simkl counts them in `show`'s numbering: its legacy or HAMA
    GUID's own, else Plex's parentIndex/index. NotMatched when they name no Simkl episode."""
    if show is not None and show.unusable_numbering:
        raise NotMatched(f"plex episode {label}: {show.unusable_numbering}; no Simkl episode can be derived")
    season, number = meta.get("parentIndex"), meta.get("index")
    if show is not None and show.episode is not None:
        season, number = show.season, show.episode
    if not is_count(season) or not is_count(number) or number == 0:
        raise EventError(f"plex episode {label}: parentIndex/index {season!r}/{number!r} are not season/episode numbers")
    if show is not None and show.form == "hama anidb" and season == 0 and number > _HAMA_SPECIALS_END:
        raise NotMatched(f"plex episode {label}: special 0/{number} is HAMA's code for an AniDB credit, trailer, "
                         "parody or other episode, which has no Simkl episode number")
    return season, number


def same_file_episodes(item: Any, children: Any) -> tuple[int, ...]:
    """The episode numbers stored in the played episode's file, sorted; () when that cannot be told.

    Plex lists a multi-episode file (`S01E01-E02`) as one episode item per episode, each of the
    season, whose Media parts name the same file. `children` are the season's items (the JSON form
    of /library/metadata/{parentRatingKey}/children): those whose part files include every file
    of the played item are in the same file. The played item's files are its own Media parts or,
    when its metadata carries none (webhooks), those of its own entry among the children. No file
    to compare, or numbers that are no season/episode numbers: ()."""
    if not isinstance(item, dict) or not isinstance(children, list):
        return ()
    rows = [c for c in children if isinstance(c, dict) and c.get("type") == "episode"]
    key = item.get("ratingKey")
    files = _part_files(item) or next((_part_files(c) for c in rows if key not in (None, "")
                                       and str(c.get("ratingKey")) == str(key)), frozenset())
    own = _episode_position(item)
    if not files or own is None:
        return ()
    found = {own[1]}
    for child in rows:
        position = _episode_position(child) if files <= _part_files(child) else None
        if position is not None and position[0] == own[0]:
            found.add(position[1])
    return tuple(sorted(found))


def _part_files(meta: dict[str, Any]) -> frozenset[str]:
    """The file paths of an item's Media parts (every version and part)."""
    media = m if isinstance(m := meta.get("Media"), list) else []
    return frozenset(part["file"] for m in media if isinstance(m, dict) and isinstance(m.get("Part"), list)
                     for part in m["Part"] if isinstance(part, dict) and isinstance(part.get("file"), str) and part["file"])


def _episode_position(meta: dict[str, Any]) -> tuple[int, int] | None:
    """An episode's season and number as `event_from_metadata` numbers it (a legacy or HAMA GUID's
    own, else Plex's parentIndex/index); None when it has none Simkl could use."""
    own, _ = _item_match(meta)
    try:
        return _position_in_show(meta, own if own is not None and own.episode is not None else None, _label(meta))
    except EventError:
        return None


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
    user = next((str(v) for v in (account.get("title"), account.get("id")) if is_key(v)), None)
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
    section = digits(section) if isinstance(section, str) else section
    for entry in excluded:
        if isinstance(title, str) and str(entry).casefold() == title.casefold():
            return True
        wanted = digits(entry) if isinstance(entry, str) else entry
        if is_count(wanted) and wanted == section:
            return True
    return False


def to_read(meta: dict[str, Any]) -> tuple[str | None, str | None]:
    """The ratingKeys of what an episode's mapping needs read from the server (None: nothing): its
    show, for the ids a new agent's episode GUID lacks (a legacy or HAMA one names the show), to
    inline as `grandparent`; its season, whose episodes (inlined as `season`) tell its file's."""
    if meta.get("type") != "episode":
        return None, None
    own = parse_guid(meta.get("guid"))
    show, season = meta.get("grandparentRatingKey"), meta.get("parentRatingKey")
    needs_show = show and not isinstance(meta.get("grandparent"), dict) and (own is None or own.episode is None)
    has_season = not isinstance(meta.get("season"), dict) and (is_count(season) or digits(season) is not None)
    return (str(show) if needs_show else None), (str(season) if has_season else None)


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
    media = [{"Part": [dict(p.attrib) for p in m.findall("Part")]} for m in element.findall("Media")]
    if media:
        meta["Media"] = media  # only the parts' attributes (file, id, key) are used
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
    name = title if isinstance(server, dict) and isinstance(title := server.get("title"), str) else "plex"
    event = webhook_event(data, server=name, at=0.0)
    if event is None:
        meta = data.get("Metadata") if isinstance(data.get("Metadata"), dict) else {}
        raise EventError(f"plex webhook {data.get('event')!r} about {meta.get('type', 'nothing')!r}: "
                         "not a playback of a movie or episode, nothing to send")
    return event


def map_metadata(payload: bytes) -> PlayEvent:
    """`simkl-bridge map --from plex-metadata FILE`: a /library/metadata/{key} response (XML or
    JSON); an episode's JSON may inline its show's metadata as `grandparent` and its season's
    children as `season: {"Metadata": [...]}` (then a multi-episode file is every episode in it)."""
    meta = parse_metadata_response(payload)
    return event_from_metadata(meta, server="plex", user="plex", session=_rating_key(meta), state=State.STOPPED,
                               position=_ms(meta, "viewOffset") / 1000, at=0.0)


def _json(payload: bytes) -> Any:
    return loads(payload, "plex")


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
    if not is_number(value) or value < 0:
        raise EventError(f"plex Metadata.{name}: expected milliseconds, got {value!r}")
    return float(value)


def is_key(value: Any) -> bool:
    """A ratingKey or sessionKey: Plex's JSON gives them as strings or numbers."""
    return (isinstance(value, str) and value != "") or (isinstance(value, int) and not isinstance(value, bool))


def _rating_key(meta: dict[str, Any]) -> str:
    key = meta.get("ratingKey")
    if not is_key(key):
        raise EventError(f"plex Metadata.ratingKey: expected a string, got {key!r}")
    return str(key)


def _label(meta: dict[str, Any]) -> str:
    key = meta.get("ratingKey")
    title = meta.get("title")
    return f"{one_line(str(key))} {title!r}" if isinstance(title, str) and title else one_line(str(key))


def _guids(meta: dict[str, Any]) -> str:
    entries = e if isinstance(e := meta.get("Guid"), list) else []
    found: Iterable[Any] = [meta.get("guid")] + [g.get("id") for g in entries if isinstance(g, dict)]
    shown = [g for g in found if isinstance(g, str) and g]
    return one_line(", ".join(shown)) if shown else "(none)"


def _text(meta: dict[str, Any], name: str) -> str:
    value = meta.get(name)
    return value if isinstance(value, str) else ""


def _int(meta: dict[str, Any], name: str) -> int | None:
    value = meta.get(name)
    return value if is_count(value) and value > 0 else None
