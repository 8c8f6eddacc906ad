"""The emulator's history writes: POST /sync/history and /sync/history/remove (lists.py has
add-to-list, ratings.py the ratings).

Each follows the newest official page where the two generations of Simkl's docs disagree:
- https://api.simkl.org/api-reference/simkl/add-to-history: `added` counts what was really recorded;
  `statuses[].request` echoes the item without its seasons, with `type` and `rating`; an episode of a
  known show that does not exist is silently ignored; `not_found.episodes` holds a reduced echo of a
  top-level episode (its ids as strings, no title, no `watched_at`).
- the blueprint's "Handling Anime Seasons": anime seasons are separate series unless the item says
  `use_tvdb_anime_seasons: true`; its "Episode-Level External IDs": an episode's own ids win over
  its season and number.
- https://api.simkl.org/guides/rewatches: `?allow_rewatch=yes` sessions, `rewatch_id` and
  `rewatch_status` in `statuses[].response` (store.py keeps the rules).
- https://api.simkl.org/api-reference/simkl/remove-from-history and the list-statuses page
  (https://api.simkl.org/conventions/list-statuses, "Removing also clears the rating"): a movie or
  show named with nothing else leaves the library entirely, its watches, bucket and rating, and
  both `removed_from_list` and `rated_at` move.
"""

from __future__ import annotations

from typing import Any

from bridge.emulator.api import Reply, envelope
from bridge.emulator.catalog import Catalog, Located
from bridge.emulator.store import Added, User, Watch, parse_stamp


def history_add(user: User, catalog: Catalog, body: Any, now: float, allow_rewatch: bool) -> Reply:
    buckets = buckets_of(body, ("movies", "shows", "anime", "episodes"))
    if not isinstance(buckets, dict):
        return buckets
    added: dict[str, Any] = {"movies": 0, "shows": 0, "episodes": 0, "statuses": []}
    not_found: dict[str, list[Any]] = {"movies": [], "shows": [], "episodes": []}
    for req in buckets.get("movies", []):
        item = catalog.find(req, ("movie",))
        if item is None:
            not_found["movies"].append(req)
            continue
        got = user.add_watches([Watch(item["ids"]["simkl"], "movie", item["title"], when(req, None, now))],
                               allow_rewatch, req.get("rewatch_id"), now)
        if got.count:
            added["movies"] += 1
            user.bump_watched(item, "completed", now)
        added["statuses"].append(_status(req, "movie", item, "completed", got))
    for bucket, types in (("shows", ("show", "anime")), ("anime", ("anime",))):
        for req in buckets.get(bucket, []):
            item = catalog.find(req, types)
            if item is None:
                not_found["shows"].append(req)  # no anime bucket in not_found
                continue
            got = user.add_watches(_show_watches(catalog, item, req, now), allow_rewatch, req.get("rewatch_id"), now)
            if got.count:
                added["shows"] += 1
                added["episodes"] += got.count
                user.bump_watched(item, "watching", now)
            added["statuses"].append(_status(req, "show" if bucket == "shows" else "anime", item, "watching", got))
    for req in buckets.get("episodes", []):
        # Top-level episodes are addressed by their own ids.
        found = catalog.find_episode(req.get("ids") if isinstance(req, dict) else None)
        if found is None:
            not_found["episodes"].append(_reduced(req))
            continue
        show, season, number = found
        watch = Watch(show["ids"]["simkl"], "episode", show["title"], when(req, None, now), season, number)
        if user.add_watches([watch], allow_rewatch, None, now).count:
            added["episodes"] += 1
            user.bump_watched(show, "watching", now)
    return 201, {"added": added, "not_found": not_found}


def buckets_of(body: Any, names: tuple[str, ...]) -> dict[str, list[Any]] | Reply:
    if not isinstance(body, dict):
        return envelope(400, "wrong_parameter", "Body must be a JSON object")
    buckets = {k: body[k] for k in names if k in body}
    if not buckets:
        return envelope(400, "empty_field", f"Missed {', '.join(names)}")
    for name, items in buckets.items():
        if not isinstance(items, list):
            return envelope(400, "wrong_parameter", f"{name} must be an array")
    return buckets


def when(req: Any, parent: float | None, now: float) -> float:
    value = parse_stamp(req.get("watched_at")) if isinstance(req, dict) else None
    return value if value is not None else (parent if parent is not None else now)


def _reduced(req: Any) -> dict[str, Any]:
    ids = req.get("ids") if isinstance(req, dict) else None
    return {"ids": {k: str(v) for k, v in ids.items()} if isinstance(ids, dict) else {}}


def _status(req: dict[str, Any], kind: str, item: dict[str, Any], status: str, got: Added) -> dict[str, Any]:
    echo = {k: v for k, v in req.items() if k not in ("seasons", "episodes")}
    echo["type"] = kind
    echo.setdefault("rating", None)
    simkl_type = "anime" if item["type"] == "anime" else ("movie" if item["type"] == "movie" else "tv")
    response: dict[str, Any] = {"status": status, "simkl_type": simkl_type, "anime_type": item.get("anime_type")}
    if got.rewatch_id is not None:
        response.update(rewatch_id=got.rewatch_id, rewatch_status="completed" if item["type"] == "movie" else "active")
    return {"request": echo, "response": response}


def _show_watches(catalog: Catalog, item: dict[str, Any], req: dict[str, Any], now: float) -> list[Watch]:
    """The watch events a show/anime request names, in the catalog's own numbering."""
    item_when = when(req, None, now)
    seasons = req.get("seasons")
    if not isinstance(seasons, list):
        episodes = req.get("episodes")
        # show-level `episodes` is shorthand for season 1; nothing at all means every episode
        seasons = [{"number": 1, "episodes": episodes}] if isinstance(episodes, list) else _all_seasons(item)
    tvdb_anime = item["type"] == "anime" and req.get("use_tvdb_anime_seasons") is True
    watches = []
    for season in seasons:
        if not isinstance(season, dict) or not isinstance(season.get("number"), int):
            continue
        s_when = when(season, item_when, now)
        eps = season.get("episodes")
        named = ([e for e in eps if isinstance(e, dict)] if isinstance(eps, list)
                 else [{"number": n} for n in _episodes_of(catalog, item, season["number"], tvdb_anime)])
        for ep in named:
            by_ids = catalog.find_episode(ep.get("ids"), within=item) if ep.get("ids") else None
            if by_ids is not None:
                located: Located = (by_ids[0], by_ids[1], by_ids[2], None)
            elif isinstance(ep.get("number"), int):
                located = catalog.locate(item, season["number"], ep["number"], tvdb_anime)
            else:
                continue
            target, s, n, tvdb = located
            if target is not None:  # nonexistent episode numbers are silently ignored
                watches.append(Watch(target["ids"]["simkl"], "episode", target["title"], when(ep, s_when, now), s, n, tvdb))
    return watches


def _tvdb_targets(catalog: Catalog, item: dict[str, Any], seasons: list[Any]) -> set[tuple[int, int | None, int | None]]:
    """(simkl id, season, number) of every episode TVDB-numbered seasons name, in the cours' own numbering."""
    out: set[tuple[int, int | None, int | None]] = set()
    for season in seasons:
        if not isinstance(season, dict) or not isinstance(season.get("number"), int):
            continue
        eps = season.get("episodes")
        numbers = ([e["number"] for e in eps if isinstance(e, dict) and isinstance(e.get("number"), int)]
                   if isinstance(eps, list) else list(_episodes_of(catalog, item, season["number"], True)))
        for number in numbers:
            target, s, n, _ = catalog.locate(item, season["number"], number, True)
            if target is not None:
                out.add((target["ids"]["simkl"], s, n))
    return out


def _all_seasons(item: dict[str, Any]) -> list[dict[str, Any]]:
    if item["type"] == "anime":
        return [{"number": 1}]
    return [{"number": int(s)} for s in item.get("seasons", {}) if s != "0"]


def _episodes_of(catalog: Catalog, item: dict[str, Any], season: int, tvdb_anime: bool) -> range:
    if tvdb_anime:
        cour = next((c for c in catalog.cours(item) if c.get("tvdb_season", 1) == season), None)
        return range(1, (cour or {}).get("episodes", 0) + 1)
    if item["type"] == "anime":
        return range(1, item.get("episodes", 0) + 1) if season == 1 else range(0)
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
            # show-level `episodes` is shorthand for season 1, as in a history write
            seasons = req.get("seasons") if "seasons" in req else (
                [{"number": 1, "episodes": req["episodes"]}] if isinstance(req.get("episodes"), list) else None)
            if isinstance(seasons, list):
                wanted = {(s.get("number"), e.get("number")) for s in seasons if isinstance(s, dict)
                          for e in (s.get("episodes") or [{"number": None}]) if isinstance(e, dict)}
            whole = wanted is None and (simkl in user.lists or simkl in user.ratings)
            if isinstance(seasons, list) and item["type"] == "anime" and req.get("use_tvdb_anime_seasons") is True:
                # Removal takes the shapes a history write does: TVDB seasons name episodes of any cour.
                targets = _tvdb_targets(catalog, item, seasons)
                user.watches = [w for w in user.watches if (w.simkl, w.season, w.number) not in targets]
            else:
                user.watches = [w for w in user.watches if not (w.simkl == simkl and (
                    wanted is None or (w.season, w.number) in wanted or (w.season, None) in wanted))]
            removed = before - len(user.watches)
            if removed or whole:
                deleted["movies" if bucket == "movies" else "shows"] += 1
                deleted["episodes"] += removed if bucket == "shows" else 0
                user.bump(item, "removed_from_list", now)
                user.changed[simkl] = now
            if wanted is None and user.forget(simkl):
                user.bump(item, "rated_at", now)
    return 201, {"deleted": deleted, "not_found": not_found}
