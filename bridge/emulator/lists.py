"""The emulator's buckets: POST /sync/add-to-list, and the bucket a rating files an unlisted item in.

Written from https://api.simkl.org/conventions/list-statuses (the seed page, the per-type matrix),
https://api.simkl.org/api-reference/simkl/add-to-list and the blueprint's "Add Item to the List":
- movies have three buckets (plantowatch, dropped, completed), shows and anime five; a movie sent
  `to: watching` is completed and its watch recorded ("quietly converts it to completed and records
  the watch"); a movie sent `to: hold` "has no defined behavior", so the emulator refuses the whole
  request (400 `wrong_parameter`, nothing changed): a client that sent it would otherwise pass
  against whatever the emulator made up;
- `to` per item (the add-to-list page and the blueprint) or once at the top level (the seed page's
  examples); an item's own wins; none anywhere is 400 `empty_field`;
- the reply echoes items (movies with the bucket they landed in, shows/anime with their wrapper's
  `type`), not counts; both the bucket left and the bucket entered move in activities.
The filing rule for ratings is https://api.simkl.org/api-reference/simkl/add-ratings's table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridge.emulator.api import Reply, envelope
from bridge.emulator.catalog import Catalog
from bridge.emulator.history import buckets_of, when
from bridge.emulator.store import User, Watch

LIST_STATUSES = ("plantowatch", "watching", "hold", "dropped", "completed")
MOVIE_STATUSES = ("plantowatch", "dropped", "completed")


def filed_status(item: dict[str, Any], now: float) -> str:
    """The bucket a rating files an item in that is not in the library yet."""
    if item["type"] == "movie":
        return "completed" if released(item, now) else "plantowatch"
    return "completed" if total_episodes(item) == 1 else "watching"


def released(item: dict[str, Any], now: float) -> bool:
    """By the catalog's `release_date` (YYYY-MM-DD), else its year; neither: released."""
    date = item.get("release_date")
    if isinstance(date, str):
        try:
            return datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp() <= now
        except ValueError:
            pass
    year = item.get("year")
    return not isinstance(year, int) or year <= datetime.fromtimestamp(now, UTC).year


def total_episodes(item: dict[str, Any]) -> int:
    if item["type"] == "anime":
        return int(item.get("episodes", 0))
    return sum(int(n) for s, n in item.get("seasons", {}).items() if s != "0")


def file_item(user: User, item: dict[str, Any], to: str, now: float, watched: bool) -> None:
    """Put an entry in bucket `to`: the bucket it leaves and the one it enters move in activities."""
    source = user.status_of(item, watched)
    user.lists[item["ids"]["simkl"]] = to
    user.touch(item["ids"]["simkl"], now)
    if source is not None and source != to:
        user.bump(item, source, now)
    user.bump(item, to, now)


def add_to_list(user: User, catalog: Catalog, body: Any, now: float) -> Reply:
    buckets = buckets_of(body, ("movies", "shows", "anime"))
    if not isinstance(buckets, dict):
        return buckets
    top = body.get("to")
    wanted: list[tuple[str, Any, Any]] = []
    for bucket, group in buckets.items():
        for req in group:
            own = req.get("to") if isinstance(req, dict) else None
            wanted.append((bucket, req, own if own is not None else top))
    if any(to is None for _, _, to in wanted):
        return envelope(400, "empty_field", 'Missed "to" parameter')
    if any(to not in LIST_STATUSES for _, _, to in wanted):
        return envelope(400, "wrong_parameter", f"to must be one of {', '.join(LIST_STATUSES)}")
    if any(bucket == "movies" and to == "hold" for bucket, _, to in wanted):
        return envelope(400, "wrong_parameter", 'A movie cannot be "hold": movies are plantowatch, dropped or completed')
    added: dict[str, list[Any]] = {"movies": [], "shows": []}
    not_found: dict[str, list[Any]] = {"movies": [], "shows": []}
    watched = user.watched_ids()
    for bucket, req, to in wanted:
        out = "movies" if bucket == "movies" else "shows"
        item = catalog.find(req, ("movie",) if bucket == "movies" else ("show", "anime"))
        if item is None:
            not_found[out].append(req)
            continue
        simkl = item["ids"]["simkl"]
        if item["type"] == "movie" and to not in MOVIE_STATUSES:
            to = "completed"  # a movie sent to watching
        if to == "completed" and item["type"] == "movie":
            user.add_watch(Watch(simkl, "movie", item["title"], when(req, None, now)), now)
        file_item(user, item, to, now, simkl in watched)
        echo = {**req, "to": to}
        added[out].append(echo if out == "movies" else {**echo, "type": "show" if bucket == "shows" else "anime"})
    return 201, {"added": added, "not_found": not_found}
