"""The emulator's endpoint semantics: request body in, (status, reply body) out, no HTTP.

Each function follows simkl-api.md's section for its endpoint, errors included.
"""

from __future__ import annotations

from typing import Any

from bridge.emulator.catalog import Catalog, echo_ids, media_echo
from bridge.emulator.store import DUPLICATE_WINDOW, SCROBBLE_WATCHED, User, Watch, parse_stamp, stamp

Reply = tuple[int, Any]


def envelope(status: int, error: str, message: str = "") -> Reply:
    body: dict[str, Any] = {"error": error, "code": status}
    if message:
        body["message"] = message
    return status, body


# -- POST /sync/history -------------------------------------------------------------------------


def history_add(user: User, catalog: Catalog, body: Any, now: float, allow_rewatch: bool) -> Reply:
    if not isinstance(body, dict):
        return envelope(400, "wrong_parameter", "Body must be a JSON object")
    buckets: dict[str, Any] = {k: body.get(k) for k in ("movies", "shows", "anime", "episodes") if k in body}
    if not buckets:
        return envelope(400, "empty_field", "Missed movies, shows, anime or episodes")
    for name, items in buckets.items():
        if not isinstance(items, list):
            return envelope(400, "wrong_parameter", f"{name} must be an array")
    added: dict[str, Any] = {"movies": 0, "shows": 0, "episodes": 0, "statuses": []}
    not_found: dict[str, list[Any]] = {"movies": [], "shows": [], "episodes": []}
    for req in buckets.get("movies", []):
        item = catalog.find(req, ("movie",))
        if item is None:
            not_found["movies"].append(req)
            continue
        when = _when(req, None, now)
        if user.add_watch(Watch(item["ids"]["simkl"], "movie", item["title"], when), allow_rewatch):
            added["movies"] += 1
            user.bump(item, "completed", now)
        added["statuses"].append(_status(req, "movie", item, "completed"))
    for bucket, types in (("shows", ("show", "anime")), ("anime", ("anime",))):
        for req in buckets.get(bucket, []):
            item = catalog.find(req, types)
            if item is None:
                not_found["shows"].append(req)  # no anime bucket in not_found
                continue
            count = _mark_show(user, catalog, item, req, now, allow_rewatch, tvdb_numbering=bucket == "shows")
            if count:
                added["shows"] += 1
                added["episodes"] += count
                user.bump(item, "watching", now)
            added["statuses"].append(_status(req, "anime" if item["type"] == "anime" else "tv", item, "watching"))
    for req in buckets.get("episodes", []):
        # Top-level episodes are addressed by their own ids (simkl-api.md §6, §9 form c).
        found = catalog.find_episode(req.get("ids") if isinstance(req, dict) else None)
        if found is None:
            not_found["episodes"].append(req)
            continue
        show, season, number = found
        watch = Watch(show["ids"]["simkl"], "episode", show["title"], _when(req, None, now), season, number)
        if user.add_watch(watch, allow_rewatch):
            added["episodes"] += 1
            user.bump(show, "watching", now)
    return 201, {"added": added, "not_found": not_found}


def _when(req: Any, parent: float | None, now: float) -> float:
    value = parse_stamp(req.get("watched_at")) if isinstance(req, dict) else None
    return value if value is not None else (parent if parent is not None else now)


def _status(req: dict[str, Any], kind: str, item: dict[str, Any], status: str) -> dict[str, Any]:
    return {"request": {**req, "type": kind if kind != "tv" else "show"},
            "response": {"status": status, "simkl_type": kind, "anime_type": item.get("anime_type")}}


def _mark_show(user: User, catalog: Catalog, item: dict[str, Any], req: dict[str, Any], now: float,
               allow_rewatch: bool, tvdb_numbering: bool) -> int:
    """Mark the episodes a show/anime request names; returns how many watches counted."""
    item_when = _when(req, None, now)
    seasons = req.get("seasons")
    if not isinstance(seasons, list):
        episodes = req.get("episodes")
        # show-level `episodes` is shorthand for season 1; nothing at all means every episode
        seasons = [{"number": 1, "episodes": episodes}] if isinstance(episodes, list) else _all_seasons(item)
    tvdb_anime = item["type"] == "anime" and (tvdb_numbering or req.get("use_tvdb_anime_seasons") is True)
    count = 0
    for season in seasons:
        if not isinstance(season, dict) or not isinstance(season.get("number"), int):
            continue
        s_when = _when(season, item_when, now)
        eps = season.get("episodes")
        numbers = ([(e.get("number"), _when(e, s_when, now)) for e in eps if isinstance(e, dict)]
                   if isinstance(eps, list) else [(n, s_when) for n in _episodes_of(catalog, item, season["number"], tvdb_anime)])
        for number, when in numbers:
            if not isinstance(number, int):
                continue
            target, s, n, tvdb = _locate(catalog, item, season["number"], number, tvdb_anime)
            if target is None:
                continue  # nonexistent episode numbers are silently ignored
            watch = Watch(target["ids"]["simkl"], "episode", target["title"], when, s, n, tvdb)
            count += user.add_watch(watch, allow_rewatch)
    return count


Located = tuple[dict[str, Any] | None, int | None, int | None, tuple[int, int] | None]  # (item, season, number, tvdb)


def _locate(catalog: Catalog, item: dict[str, Any], season: int, number: int, tvdb_anime: bool) -> Located:
    if tvdb_anime:
        mapped = catalog.tvdb_to_anidb(item, season, number)
        if mapped is None:
            return None, None, None, None
        return mapped[0], 1, mapped[1], (season, number)
    if not catalog.has_episode(item, season, number):
        return None, None, None, None
    return item, season, number, None


def _all_seasons(item: dict[str, Any]) -> list[dict[str, Any]]:
    if item["type"] == "anime":
        return [{"number": 1}]
    return [{"number": int(s)} for s in item.get("seasons", {}) if s != "0"]


def _episodes_of(catalog: Catalog, item: dict[str, Any], season: int, tvdb_anime: bool) -> range:
    if tvdb_anime:
        cour = next((c for c in catalog.cours(item) if c.get("tvdb_season", 1) == season), None)
        return range(1, (cour or {}).get("episodes", 0) + 1)
    if item["type"] == "anime":
        return range(1, item.get("episodes", 0) + 1)
    return range(1, int(item.get("seasons", {}).get(str(season), 0)) + 1)


def history_remove(user: User, catalog: Catalog, body: Any, now: float) -> Reply:
    if not isinstance(body, dict) or not any(k in body for k in ("movies", "shows")):
        return envelope(400, "empty_field", "Missed movies or shows")
    deleted = {"movies": 0, "shows": 0, "episodes": 0}
    not_found: dict[str, list[Any]] = {"movies": [], "shows": []}
    for bucket, types in (("movies", ("movie",)), ("shows", ("show", "anime"))):
        for req in body.get(bucket) or []:
            item = catalog.find(req, types)
            if item is None:
                not_found[bucket].append(req)
                continue
            simkl = item["ids"]["simkl"]
            before = len(user.watches)
            wanted = None
            if isinstance(req.get("seasons"), list):
                wanted = {(s.get("number"), e.get("number")) for s in req["seasons"] if isinstance(s, dict)
                          for e in (s.get("episodes") or [{"number": None}]) if isinstance(e, dict)}
            user.watches = [w for w in user.watches if not (w.simkl == simkl and (
                wanted is None or (w.season, w.number) in wanted or (w.season, None) in wanted))]
            removed = before - len(user.watches)
            if removed:
                deleted["movies" if bucket == "movies" else "shows"] += 1
                deleted["episodes"] += removed if bucket == "shows" else 0
                user.bump(item, "removed_from_list", now)
    return 201, {"deleted": deleted, "not_found": not_found}


# -- POST /scrobble/{action} --------------------------------------------------------------------


def scrobble(user: User, catalog: Catalog, action: str, body: Any, now: float) -> Reply:
    if not isinstance(body, dict):
        return envelope(400, "wrong_parameter", "Body must be a JSON object")
    progress = body.get("progress", 0 if action == "checkin" else None)
    if progress is None:
        return envelope(400, "empty_field", 'Missed "progress" parameter')
    if isinstance(progress, bool) or not isinstance(progress, (int, float)) or not 0 <= progress <= 100 \
            or round(progress, 2) != progress:
        return envelope(400, "wrong_parameter", "progress must be a number from 0 to 100 with at most 2 decimals")
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
        found, season, number, tvdb = _locate(catalog, item, episode["season"], episode["number"],
                                              item["type"] == "anime" and media_key == "show")
        if found is None:
            return envelope(404, "id_err", "Episode could not be resolved")
        target = found
    key = (target["ids"]["simkl"], season, number)
    last = user.last_scrobble.get(key)
    if action in ("stop", "pause") and progress >= SCROBBLE_WATCHED and last is not None and now - last < DUPLICATE_WINDOW:
        return 409, {"watched_at": stamp(last, True), "expires_at": stamp(last + DUPLICATE_WINDOW, True)}
    reply_action, pid = action, 0
    if action == "start":
        user.drop_playbacks(target["ids"]["simkl"])  # start replaces the session and clears earlier pauses
    elif action == "checkin":
        pid = 1000 + len(user.watches)
    elif action == "stop" and progress >= SCROBBLE_WATCHED:
        reply_action = "scrobble"
        user.last_scrobble[key] = now
        user.add_watch(Watch(target["ids"]["simkl"], "movie" if season is None else "episode", target["title"], now,
                             season, number, tvdb), allow_rewatch=True)
        user.drop_playbacks(target["ids"]["simkl"])
        user.bump(target, "completed" if target["type"] == "movie" else "watching", now)
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


def all_items(user: User, catalog: Catalog, kind: str | None, status: str | None, query: dict[str, str]) -> Reply:
    date_from = parse_stamp(query.get("date_from"))
    groups: dict[str, list[Any]] = {"shows": [], "anime": [], "movies": []}
    by_item: dict[int, list[Watch]] = {}
    for w in user.watches:
        by_item.setdefault(w.simkl, []).append(w)
    for simkl, watches in by_item.items():
        item = next((i for i in catalog.items if i["ids"]["simkl"] == simkl), None)
        if item is None:
            continue
        last = max(w.watched_at for w in watches)
        if date_from is not None and last < date_from:
            continue
        group = {"movie": "movies", "show": "shows", "anime": "anime"}[item["type"]]
        item_status = "completed" if item["type"] == "movie" else "watching"
        if (kind and kind != group) or (status and status != item_status):
            continue
        entry: dict[str, Any] = {"last_watched_at": stamp(last), "status": item_status, "user_rating": None,
                                 ("movie" if group == "movies" else "show"): {"title": item["title"], "year": item.get("year"),
                                                                              "ids": echo_ids(item)}}
        if group != "movies":
            entry["watched_episodes_count"] = len({(w.season, w.number) for w in watches})
            if query.get("extended") == "full":
                seasons: dict[int, list[dict[str, int]]] = {}
                for w in sorted(watches, key=lambda w: (w.season or 0, w.number or 0)):
                    seasons.setdefault(w.season or 1, []).append({"number": w.number or 0})
                entry["seasons"] = [{"number": s, "episodes": e} for s, e in seasons.items()]
        groups[group].append(entry)
    if not any(groups.values()):
        return 200, None
    return 200, {k: v for k, v in groups.items() if v}
