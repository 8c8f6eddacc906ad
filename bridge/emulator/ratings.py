"""The emulator's ratings: POST /sync/ratings, POST /sync/ratings/remove, GET /sync/ratings/{type}/{rating}.

Written from https://api.simkl.org/api-reference/simkl/add-ratings, .../remove-ratings and
.../get-user-ratings, and the blueprint's "Add Ratings", "Remove Ratings" and "Get Ratings":
- a rating is a JSON integer 1-10; anything else (0, 11, negatives, 7.5, "8", null) is "silently
  ignored": the item is not counted, not stored, not filed and not in `not_found`;
- `rated_at` defaults to now; one that is not a date is taken as absent, as a history write's
  `watched_at` is; the request echo carries it in Simkl's form ("2014-09-01T09:10:11.000Z");
- re-rating overwrites the value and its date, an equal value included;
- an item not in the library is filed per the add-ratings table (lists.filed_status), and that
  bucket's activity stamp moves with the type's `rated_at`;
- `added`/`deleted` count movies and shows, anime folded into shows; `not_found` has no anime
  bucket; removing counts every matched item, rated or not, and keeps the item's bucket;
- the read answers only rated entries of one type with one of the ratings asked, in the
  get-user-ratings page's shape, with all-items' `date_from` (what changed since, by Simkl's clock)
  and `extended`; `null` when there are none, as all-items.
"""

from __future__ import annotations

from typing import Any

from bridge.emulator.api import GROUPS, Reply, envelope, library
from bridge.emulator.catalog import Catalog
from bridge.emulator.history import buckets_of
from bridge.emulator.lists import file_item, filed_status
from bridge.emulator.store import User, parse_stamp, stamp

RATING_TYPES = ("movies", "shows", "anime")
# Each request bucket: the catalog types it finds, and the reply bucket it counts in.
BUCKETS = {"movies": (("movie",), "movies"), "shows": (("show", "anime"), "shows"), "anime": (("anime",), "shows")}


def valid_rating(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10


def ratings_add(user: User, catalog: Catalog, body: Any, now: float) -> Reply:
    buckets = buckets_of(body, tuple(BUCKETS))
    if not isinstance(buckets, dict):
        return buckets
    added: dict[str, Any] = {"movies": 0, "shows": 0, "statuses": []}
    not_found: dict[str, list[Any]] = {"movies": [], "shows": []}
    watched = user.watched_ids()
    for bucket, group in buckets.items():
        types, out = BUCKETS[bucket]
        for req in group:
            if isinstance(req, dict) and not valid_rating(req.get("rating")):
                continue
            item = catalog.find(req, types)
            if item is None:
                not_found[out].append(req)
                continue
            simkl = item["ids"]["simkl"]
            rated_at = parse_stamp(req.get("rated_at"))
            user.ratings[simkl] = (req["rating"], now if rated_at is None else rated_at)
            user.touch(simkl, now)
            user.bump(item, "rated_at", now)
            status = user.status_of(item, simkl in watched)
            if status is None:
                status = filed_status(item, now)
                file_item(user, item, status, now, False)
            added[out] += 1
            echo = dict(req) if rated_at is None else {**req, "rated_at": stamp(rated_at, True)}
            added["statuses"].append({"request": echo, "response": {"status": status}})
    return 201, {"added": added, "not_found": not_found}


def ratings_remove(user: User, catalog: Catalog, body: Any, now: float) -> Reply:
    buckets = buckets_of(body, tuple(BUCKETS))
    if not isinstance(buckets, dict):
        return buckets
    deleted = {"movies": 0, "shows": 0}
    not_found: dict[str, list[Any]] = {"movies": [], "shows": []}
    for bucket, group in buckets.items():
        types, out = BUCKETS[bucket]
        for req in group:
            item = catalog.find(req, types)
            if item is None:
                not_found[out].append(req)
                continue
            deleted[out] += 1
            if user.ratings.pop(item["ids"]["simkl"], None) is not None:
                user.touch(item["ids"]["simkl"], now)
                user.bump(item, "rated_at", now)
    return 201, {"deleted": deleted, "not_found": not_found}


def ratings_list(user: User, catalog: Catalog, kind: str, ratings: str, query: dict[str, str]) -> Reply:
    if kind not in RATING_TYPES:
        return envelope(404, "url_failed", "Wrong URL")
    asked = ratings.split(",")
    if not all(v.isascii() and v.isdigit() and 1 <= int(v) <= 10 for v in asked):
        return envelope(400, "wrong_parameter", f"rating must be 1-10 or a comma list of them, not {ratings[:40]!r}")
    values = {int(v) for v in asked}
    rated = [simkl for simkl, (rating, _) in user.ratings.items() if rating in values]
    return library(user, catalog, query, lambda item, _status: GROUPS[item["type"]] == kind, millis=True, among=rated)
