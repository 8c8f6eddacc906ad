"""The emulator's endpoint semantics: request body in, (status, reply body) out, no HTTP.

Each function follows simkl-api.md's section for its endpoint, errors included, and the newest
official page where the docs disagree (the library writes are in history.py):
- a stop without `progress` is answered with the progress Simkl extrapolated from the session's
  runtime, as https://api.simkl.org/api-reference/simkl/scrobble-stop shows;
- `/scrobble/*` takes `anime` with TMDB/TVDB ids and TV numbering, as the blueprint's own examples do;
- an empty library reads as `null` (https://api.simkl.org/conventions/null-values, "empty result").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bridge.emulator.catalog import ANIME_NATIVE, Catalog, echo_ids, media_echo, wanted_ids
from bridge.emulator.store import DUPLICATE_WINDOW, SCROBBLE_WATCHED, User, Watch, parse_stamp, stamp

# Simkl's runtimes when a catalog item has none (simkl-api.md §4), in minutes.
DEFAULT_RUNTIME = {"movie": 90, "show": 45, "anime": 25}

Reply = tuple[int, Any]


def envelope(status: int, error: str, message: str = "") -> Reply:
    body: dict[str, Any] = {"error": error, "code": status}
    if message:
        body["message"] = message
    return status, body


# -- POST /scrobble/{action} --------------------------------------------------------------------


def scrobble(user: User, catalog: Catalog, action: str, body: Any, now: float) -> Reply:
    if not isinstance(body, dict):
        return envelope(400, "wrong_parameter", "Body must be a JSON object")
    progress = body.get("progress")
    if progress is not None and (isinstance(progress, bool) or not isinstance(progress, (int, float))
                                 or not 0 <= progress <= 100 or round(progress, 2) != progress):
        return envelope(400, "wrong_parameter", "progress must be a number from 0 to 100 with at most 2 decimals")
    if progress is None and action in ("start", "pause"):
        return envelope(400, "empty_field", 'Missed "progress" parameter')
    media_key = next((k for k in ("movie", "show", "anime") if k in body), None)
    if media_key is None or not isinstance(body[media_key], dict):
        return envelope(400, "empty_field", "Missed movie, show or anime object")
    episode = body.get("episode")
    types = {"movie": ("movie",), "show": ("show", "anime"), "anime": ("anime",)}[media_key]
    item = catalog.find(body[media_key], types)
    if item is None:
        return envelope(404, "id_err", "Item could not be resolved")
    season = number = None
    tvdb = None
    target = item
    if media_key == "show" or (media_key == "anime" and episode is not None):
        if not (isinstance(episode, dict) and isinstance(episode.get("season"), int) and isinstance(episode.get("number"), int)):
            return envelope(400, "empty_field", "Missed episode season/number")
        # TV numbering unless the ids name one AniDB entry, whose own numbering it then is.
        tv_numbering = media_key == "show" or not set(wanted_ids(body[media_key].get("ids"))) & set(ANIME_NATIVE)
        found, season, number, tvdb = catalog.locate(item, episode["season"], episode["number"],
                                                     item["type"] == "anime" and tv_numbering)
        if found is None:
            return envelope(404, "id_err", "Episode could not be resolved")
        target = found
    key = (target["ids"]["simkl"], season, number)
    if progress is None:
        progress = _extrapolated(user, target, key, action, now)
    last = user.last_scrobble.get(key)
    if action in ("stop", "pause") and progress >= SCROBBLE_WATCHED and last is not None and now - last < DUPLICATE_WINDOW:
        return 409, {"watched_at": stamp(last, True), "expires_at": stamp(last + DUPLICATE_WINDOW, True)}
    reply_action, pid = action, 0
    user.started.pop(key, None)
    if action == "start":
        user.drop_playbacks(target["ids"]["simkl"])  # start replaces the session and clears earlier pauses
        user.started[key] = (float(progress), now)
    elif action == "checkin":
        pid = 1000 + len(user.watches)
    elif action == "stop" and progress >= SCROBBLE_WATCHED:
        reply_action = "scrobble"
        user.last_scrobble[key] = now
        user.add_watch(Watch(target["ids"]["simkl"], "movie" if season is None else "episode", target["title"], now,
                             season, number, tvdb), now)
        user.drop_playbacks(target["ids"]["simkl"])
        user.bump_watched(target, "completed" if target["type"] == "movie" else "watching", now)
        pid = 1000 + len(user.watches)
    else:  # pause, or stop below the threshold
        reply_action = "pause"
        pid = user.save_playback(target, float(progress), now, season, number, tvdb).id
    reply: dict[str, Any] = {"id": pid, "action": reply_action, "progress": _normal(progress)}
    reply["anime" if target["type"] == "anime" else ("movie" if target["type"] == "movie" else "show")] = media_echo(target)
    if season is not None:
        ep: dict[str, Any] = {"season": season, "number": number}
        if tvdb is not None:
            ep.update(tvdb_season=tvdb[0], tvdb_number=tvdb[1])
        reply["episode"] = ep
    return 201, reply


def _extrapolated(user: User, target: dict[str, Any], key: tuple[Any, ...], action: str, now: float) -> float:
    """The progress Simkl has for a session it was not told about: advanced by the runtime since its
    start, else a saved pause, else the start of the item (a check-in starts at 0)."""
    if key in user.started and action != "checkin":
        start, when = user.started[key]
        runtime = 60.0 * (target.get("runtime") or DEFAULT_RUNTIME[target["type"]])
        return round(min(100.0, start + 100.0 * (now - when) / runtime), 2)
    saved = next((p.progress for p in user.playbacks if (p.item["ids"]["simkl"], p.season, p.number) == key), None)
    return saved if saved is not None and action != "checkin" else 0.0


def _normal(progress: float) -> float | int:
    return int(progress) if float(progress).is_integer() else round(float(progress), 2)


# -- GET /sync/playback, all-items ------------------------------------------------------------


def playback_list(user: User, kind: str | None, query: dict[str, str], legacy_spelling: bool = False) -> Reply:
    hide_watched = query.get("hide_watched", "true").lower() != "false"
    try:
        limit = int(query.get("limit", "10000"))
    except ValueError:
        return envelope(400, "wrong_parameter", "limit must be an integer")
    if not 1 <= limit <= 10000:
        return envelope(400, "wrong_parameter", "limit must be between 1 and 10000")
    date_from, date_to = parse_stamp(query.get("date_from")), parse_stamp(query.get("date_to"))
    out = []
    for pb in sorted(user.playbacks, key=lambda p: p.paused_at, reverse=True):
        is_movie = pb.season is None
        if (kind == "movies" and not is_movie) or (kind == "episodes" and is_movie):
            continue
        if (date_from is not None and pb.paused_at < date_from) or (date_to is not None and pb.paused_at >= date_to):
            continue
        if hide_watched and user.watched_after(pb.item["ids"]["simkl"], pb.season, pb.number, pb.paused_at):
            continue
        entry: dict[str, Any] = {"id": pb.id, "progress": _normal(pb.progress), "paused_at": stamp(pb.paused_at, True),
                                 "type": "movie" if is_movie else "episode"}
        media = {"title": pb.item["title"], "year": pb.item.get("year"), "ids": dict(pb.item["ids"])}
        if is_movie:
            entry["movie"] = media
        else:
            ep = {"season": pb.season, ("episode" if legacy_spelling else "number"): pb.number}
            ep.update(tvdb_season=(pb.tvdb or (pb.season, pb.number))[0], tvdb_number=(pb.tvdb or (pb.season, pb.number))[1])
            entry["episode"] = ep
            entry["anime" if legacy_spelling and pb.item["type"] == "anime" else "show"] = media
        out.append(entry)
    return 200, out[:limit]


def playback_delete(user: User, raw_id: str) -> Reply:
    if not raw_id.isdigit() or int(raw_id) == 0:
        return envelope(404, "url_failed", "Wrong URL")
    pid = int(raw_id)
    if not any(p.id == pid for p in user.playbacks):
        return envelope(404, "empty", "Playback not found")
    user.playbacks = [p for p in user.playbacks if p.id != pid]
    return 204, None


GROUPS = {"movie": "movies", "show": "shows", "anime": "anime"}


def all_items(user: User, catalog: Catalog, kind: str | None, status: str | None, query: dict[str, str]) -> Reply:
    """The library, or with `date_from` only the entries changed since (by Simkl's clock, not the
    watch's `watched_at`: a new rating or bucket is a change too); `extended=full` lists watched
    episodes, `full_anime_seasons` adds each anime episode's TVDB coordinates,
    `episode_watched_at=yes` each episode's `watched_at`."""
    return library(user, catalog, query, lambda item, item_status: (not kind or kind == GROUPS[item["type"]])
                   and (not status or status == item_status))


def library(user: User, catalog: Catalog, query: dict[str, str], wanted: Callable[[dict[str, Any], str], bool],
            millis: bool = False, among: Iterable[int] | None = None) -> Reply:
    """The entries (of `among`, else the whole library) that `wanted` takes, grouped by type as
    all-items and the ratings read answer; `null` when there are none."""
    date_from = parse_stamp(query.get("date_from"))
    groups: dict[str, list[Any]] = {"shows": [], "anime": [], "movies": []}
    by_item: dict[int, list[Watch]] = {}
    for w in user.watches:
        by_item.setdefault(w.simkl, []).append(w)
    for simkl in dict.fromkeys([*by_item, *user.lists, *user.ratings] if among is None else among):
        item = catalog.by_simkl(simkl)
        if item is None or (date_from is not None and user.changed.get(simkl, 0.0) < date_from):
            continue
        item_status = user.status_of(item, simkl in by_item)
        if item_status is None or not wanted(item, item_status):
            continue
        groups[GROUPS[item["type"]]].append(_entry(user, item, item_status, by_item.get(simkl, []), query, millis))
    if not any(groups.values()):
        return 200, None
    return 200, {k: v for k, v in groups.items() if v}


def _entry(user: User, item: dict[str, Any], item_status: str, watches: list[Watch], query: dict[str, str],
           millis: bool) -> dict[str, Any]:
    simkl = item["ids"]["simkl"]
    last = max((w.watched_at for w in watches), default=None)
    rating, rated_at = user.ratings.get(simkl, (None, None))
    added = user.added.get(simkl)
    entry: dict[str, Any] = {
        "added_to_watchlist_at": None if added is None else stamp(added, millis),
        "last_watched_at": None if last is None else stamp(last, millis),
        "user_rated_at": None if rated_at is None else stamp(rated_at, millis),
        "user_rating": rating, "status": item_status,
        ("movie" if item["type"] == "movie" else "show"): {"title": item["title"], "year": item.get("year"),
                                                           "ids": echo_ids(item)}}
    if item["type"] != "movie":
        entry["watched_episodes_count"] = len({(w.season, w.number) for w in watches})
        extended = query.get("extended", "")
        if extended in ("full", "full_anime_seasons"):
            entry["seasons"] = _watched_seasons(watches, extended == "full_anime_seasons",
                                                query.get("episode_watched_at") == "yes")
    return entry


def _watched_seasons(watches: list[Watch], tvdb: bool, watched_at: bool) -> list[dict[str, Any]]:
    seasons: dict[int, dict[int, dict[str, Any]]] = {}
    for w in sorted(watches, key=lambda w: (w.season or 0, w.number or 0, w.watched_at)):
        ep: dict[str, Any] = {"number": w.number or 0}
        if tvdb and w.tvdb is not None:
            ep["tvdb"] = {"season": w.tvdb[0], "episode": w.tvdb[1]}
        if watched_at:
            ep["watched_at"] = stamp(w.watched_at)
        seasons.setdefault(w.season or 1, {})[w.number or 0] = ep  # the latest watch of each episode
    return [{"number": s, "episodes": list(eps.values())} for s, eps in seasons.items()]
