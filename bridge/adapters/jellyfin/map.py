"""Jellyfin items, sessions and webhook bodies -> PlayEvent. Pure functions, no sockets.

What Jellyfin tells us, and what it does not:
- A BaseItemDto's `ProviderIds` ({"Tmdb": "603", "Imdb": "tt…", "AniDB": "…"}) are the item's own
  ids. For an episode they are the *episode's*; the show's come from the series' BaseItemDto.
- The webhook plugin flattens them to `Provider_<lowercased key>`, still the episode's for an
  episode. It never sends the series' ids: an episode known only by its own ids is sent with empty
  show ids and its `episode_ids`, unless the caller fetched the series and passes it.
- Webhook values may be strings ("True", "1234"): the plugin's Generic Form destination and
  hand-written templates stringify everything.
- Positions and lengths are ticks of 100 ns.
- An item without usable ids is not mapped (NotMatched). Titles and paths are never guessed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from bridge.events import EventError, Ids, Kind, PlayEvent, State
from bridge.ids import clean_ids, numbering_for
from bridge.times import ticks_to_seconds
from bridge.wire import digits, is_count, loads, one_line

# A multi-episode file spans a handful of episodes; a wider range is a broken IndexNumberEnd.
MAX_EPISODES_PER_FILE = 50


class NotMatched(EventError):
    """No usable ProviderIds, or not a movie or an episode: the caller logs once and skips it."""


@dataclass(frozen=True)
class _Wire:
    """Where one wire form keeps each item field; the names also label errors."""

    where: str
    type: str
    id: str
    year: str
    season: str
    number: str
    number_end: str
    runtime: str
    series_year: str | None  # the webhook's `Year` is the series' year for an episode
    ids_label: str


@dataclass(frozen=True)
class _Play:
    """Whose play it is, in which session, in what state and when; `ticks` None: position unknown."""

    server: str
    user: str
    session: str
    state: State
    ticks: int | None
    at: float


_ITEM = _Wire("jellyfin item", "Type", "Id", "ProductionYear", "ParentIndexNumber", "IndexNumber",
              "IndexNumberEnd", "RunTimeTicks", None, "ProviderIds")
_WEBHOOK = _Wire("jellyfin webhook", "ItemType", "ItemId", "Year", "SeasonNumber", "EpisodeNumber",
                 "EpisodeNumberEnd", "RunTimeTicks", "Year", "Provider_*")


def item_event(
    item: dict[str, Any],
    *,
    server: str,
    user: str,
    session: str,
    state: State,
    position_ticks: int | None,
    at: float,
    series: dict[str, Any] | None = None,
) -> PlayEvent:
    """One BaseItemDto (+ its series' BaseItemDto for an episode) -> PlayEvent.

    `position_ticks=None` means the position is unknown: the event then carries no duration either,
    which tells the engine to keep the last position it knew for the session.
    """
    if not isinstance(item, dict):
        raise EventError("jellyfin item: expected a JSON object")
    raw = item.get("ProviderIds")
    if raw is not None and not isinstance(raw, dict):
        raise EventError(f"jellyfin item.ProviderIds: expected an object, got {type(raw).__name__}")
    return _event(item, _ITEM, raw or {}, series, _Play(server, user, session, state, position_ticks, at))


def session_event(session: dict[str, Any], *, server: str, at: float) -> PlayEvent | None:
    """One element of GET /Sessions (or of a websocket `Sessions` push); None when nothing plays."""
    if not isinstance(session, dict):
        raise EventError("jellyfin session: expected a JSON object")
    item = session.get("NowPlayingItem")
    if item is None:
        return None
    if not isinstance(item, dict):
        raise EventError("jellyfin session.NowPlayingItem: expected an object")
    play = session.get("PlayState")
    if play is not None and not isinstance(play, dict):
        raise EventError("jellyfin session.PlayState: expected an object")
    play = play or {}
    paused = _flag(play.get("IsPaused"), "jellyfin session.PlayState.IsPaused")
    series = item.get("Series") or session.get("Series")
    if series is not None and not isinstance(series, dict):
        raise EventError("jellyfin session.Series: expected an object")
    if "Id" not in session:
        raise EventError("jellyfin session.Id: missing")
    return item_event(
        item, server=server, user=_text(session.get("UserName")), session=str(session["Id"]),
        state=State.PAUSED if paused else State.PLAYING,
        position_ticks=_whole(play.get("PositionTicks"), "jellyfin session.PlayState.PositionTicks"),
        at=at, series=series,
    )


PLAYBACK_NOTIFICATIONS = ("PlaybackStart", "PlaybackProgress", "PlaybackStop")


def webhook_state(body: dict[str, Any]) -> State | None:
    """What a webhook body reports: a player action, a hand-made "played" (`watched`), or None for
    any other notification. Cheap, so the caller decides with it before looking anything up."""
    if not isinstance(body, dict):
        raise EventError("jellyfin webhook: expected a JSON object")
    kind = body.get("NotificationType")
    if not isinstance(kind, str) or not kind:
        if isinstance(body.get("Item"), dict) and "Event" in body:
            raise EventError("jellyfin webhook: this is shemanaev/jellyfin-plugin-webhooks' format; use the Webhook "
                             "plugin from Jellyfin's catalog with plugins/jellyfin/simkl-bridge.handlebars")
        raise EventError("jellyfin webhook.NotificationType: missing")
    if kind in PLAYBACK_NOTIFICATIONS:
        paused = _flag(body.get("IsPaused"), "jellyfin webhook.IsPaused")
        return State.STOPPED if kind == "PlaybackStop" else State.PAUSED if paused else State.PLAYING
    # Marked played by hand. Other save reasons repeat what the playback notifications said.
    if kind == "UserDataSaved" and body.get("SaveReason") == "TogglePlayed":
        return State.WATCHED if _flag(body.get("Played"), "jellyfin webhook.Played") else None
    return None


def webhook_user(body: dict[str, Any]) -> str:
    return _text(body.get("NotificationUsername")) or _text(body.get("Username"))


def webhook_event(body: dict[str, Any], *, server: str, at: float,
                  series: dict[str, Any] | None = None) -> PlayEvent | None:
    """A webhook-plugin body ("Send All Properties", or the shipped template) -> PlayEvent.

    None for notifications that are not playback. `series` is the series' BaseItemDto when the
    caller fetched it (GET /Items/{SeriesId}); the plugin itself never sends the series' ids.
    """
    state = webhook_state(body)
    if state is None:
        return None
    completed = state is State.STOPPED and _flag(body.get("PlayedToCompletion"), "jellyfin webhook.PlayedToCompletion")
    user = webhook_user(body)
    if not user:
        raise EventError("jellyfin webhook.NotificationUsername: missing (whose play is it?)")
    item_id = norm_id(body.get("ItemId"))
    if not item_id:
        raise EventError("jellyfin webhook.ItemId: missing")
    # The plugin reports an unknown position as 0: treat it as unknown rather than as the start.
    ticks = _whole(body.get("PlaybackPositionTicks"), "jellyfin webhook.PlaybackPositionTicks") or None
    if state is State.WATCHED:
        session, ticks = played_session(_text(body.get("UserId")) or user, item_id), None
    else:
        # Stable for one playback on one device.
        session = f"{_text(body.get('DeviceId')) or _text(body.get('UserId')) or user}/{item_id}"
    raw = {k: v for k, v in body.items() if isinstance(k, str) and k.lower().startswith("provider_")}
    return _event(body, _WEBHOOK, raw, series, _Play(server, user, session, state, ticks, at), completed=completed)


def played_session(user_id: str, item_id: str) -> str:
    """The session of Jellyfin's own "played": a hand-made mark (the webhook's UserDataSaved) or an
    item found played at a stop (the adapter reads it); one session key lets the engine mark it once."""
    return f"played/{norm_id(user_id)}/{norm_id(item_id)}"


def parse_webhook_body(payload: bytes) -> dict[str, Any]:
    """The bytes the plugin POSTed: JSON (Generic destination, whatever its Content-Type says) or
    form fields (Generic Form destination)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(f"jellyfin webhook: not UTF-8 text ({exc.reason})") from None
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        data = loads(stripped, "jellyfin webhook")
        if not isinstance(data, dict):
            raise EventError("jellyfin webhook: expected a JSON object")
        return data
    form = dict(parse_qsl(stripped, keep_blank_values=True))
    if "NotificationType" not in form:
        raise EventError("jellyfin webhook: neither a JSON object nor form fields with a NotificationType")
    return form


def map_webhook(payload: bytes) -> PlayEvent:
    """`simkl-bridge map --from jellyfin-webhook FILE`."""
    body = parse_webhook_body(payload)
    event = webhook_event(body, server="jellyfin", at=0.0)
    if event is None:
        raise EventError(f"jellyfin webhook: {_shown(body.get('NotificationType'))} is not a playback notification")
    return event


def map_session(payload: bytes) -> PlayEvent:
    """`simkl-bridge map --from jellyfin-session FILE`: one SessionInfo, the GET /Sessions array (the
    first playing session counts) or a websocket `Sessions` message."""
    data = loads(payload, "jellyfin session")
    if isinstance(data, dict) and isinstance(data.get("Data"), list):
        data = data["Data"]
    sessions = data if isinstance(data, list) else [data]
    for session in sessions:
        event = session_event(session, server="jellyfin", at=0.0)
        if event is not None:
            return event
    raise EventError("jellyfin session: no NowPlayingItem (nothing is playing)")


def _event(fields: Mapping[str, Any], wire: _Wire, raw_ids: Mapping[str, Any], series: dict[str, Any] | None,
           play: _Play, completed: bool = False) -> PlayEvent:
    where = wire.where
    kind = fields.get(wire.type)
    item_id = one_line(_text(fields.get(wire.id))) or "no id"
    label = f"{where} {one_line(str(kind or 'item'))} {_shown(_text(fields.get('Name')))} ({item_id})"
    if kind not in ("Movie", "Episode"):
        raise NotMatched(f"{label}: only movies and episodes are sent to Simkl")
    runtime = _whole(fields.get(wire.runtime), f"{where}.{wire.runtime}") or 0
    state, position_ticks = play.state, play.ticks
    if completed:
        # The server decided this viewing is complete (past its own max-resume point): report it
        # as a stop at the end so the engine marks it, or as `watched` when the length is unknown.
        if runtime:
            position_ticks = runtime
        else:
            state, position_ticks = State.WATCHED, None
    position = duration = 0.0
    if position_ticks is not None:
        position, duration = ticks_to_seconds(position_ticks), ticks_to_seconds(runtime)
    own_ids = clean_ids(raw_ids, strict=False)
    common: dict[str, Any] = dict(source="jellyfin", server=play.server, user=play.user, session=play.session,
                                  state=state, position=position, duration=duration, at=play.at)
    if kind == "Movie":
        if not own_ids:
            raise NotMatched(f"{label}: no usable {wire.ids_label} (tmdb, imdb, …); identify it in Jellyfin to have it sent")
        return PlayEvent(kind=Kind.MOVIE, ids=own_ids, title=_text(fields.get("Name")),
                         year=_year(fields.get(wire.year), f"{where}.{wire.year}"),
                         matched_by=f"{where} {wire.ids_label} {_names(own_ids)}", **common)

    season = _whole(fields.get(wire.season), f"{where}.{wire.season}")
    first = _whole(fields.get(wire.number), f"{where}.{wire.number}")
    last = _whole(fields.get(wire.number_end), f"{where}.{wire.number_end}")
    if season is None or not first:
        raise NotMatched(f"{label}: no {wire.season}/{wire.number}; the episode cannot be located")
    if last is not None and last - first >= MAX_EPISODES_PER_FILE:
        raise EventError(f"{where}.{wire.number_end}: {last} is not the end of a multi-episode file starting at {first}")
    episodes = tuple(range(first, max(first, last or first) + 1))
    show = series if isinstance(series, dict) else {}
    show_raw = show.get("ProviderIds")
    show_ids = clean_ids(show_raw if isinstance(show_raw, dict) else {}, strict=False)
    numbering = numbering_for(show_ids)
    if not show_ids and not own_ids:
        raise NotMatched(f"{label}: neither the episode nor its series has usable ProviderIds")
    how = [f"series ProviderIds {_names(show_ids)}"] if show_ids else []
    how += [f"episode {wire.ids_label} {_names(own_ids)}"] if own_ids else []
    year_field = "ProductionYear" if show else wire.series_year
    year_source = show if show else fields
    return PlayEvent(
        kind=Kind.EPISODE, ids=show_ids, episode_ids=own_ids, season=season, episodes=episodes,
        numbering=numbering, title=_text(show.get("Name")) or _text(fields.get("SeriesName")),
        year=_year(year_source.get(year_field), f"{where}.{year_field}") if year_field else None,
        matched_by=f"{where} " + "; ".join(how), **common,
    )


def _whole(value: Any, field: str) -> int | None:
    """A non-negative whole number, as an int or decimal text; None when absent or empty."""
    if value is None or value == "":
        return None
    if is_count(value):
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if (number := digits(value)) is not None:
        return number
    raise EventError(f"{field}: {_shown(value)} is not a whole number")


def _flag(value: Any, field: str) -> bool:
    """A boolean as JSON or as the C# text a template renders ("True"/"False"); absent is False."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise EventError(f"{field}: {_shown(value)} is not true or false")


def _shown(value: Any, limit: int = 80) -> str:
    """A value for an error message: these end up in log lines and HTTP replies, whatever was sent."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _year(value: Any, field: str) -> int | None:
    year = _whole(value, field)
    return year if year and year > 1800 else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def norm_id(value: Any) -> str:
    """Jellyfin serialises ids as 32 hex digits; templates, plugins and clients render them dashed:
    one form for both."""
    return _text(value).replace("-", "").lower()


def _names(ids: Ids) -> str:
    return ",".join(sorted(ids.as_dict()))
