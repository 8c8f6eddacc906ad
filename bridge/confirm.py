"""What Simkl took of one `/sync/history` request (and of the library writes: history removal,
ratings, add-to-list), read from its reply and, where that cannot tell, from Simkl's library.
Pure functions; the sender acts on what they find.

The reply (https://api.simkl.org/api-reference/simkl/add-to-history): `added` counts what Simkl
really recorded, "so apps can verify"; `not_found` lists what it could not match, the request items
unmodified or, for a top-level episode, a reduced echo (its ids as strings, no title or
`watched_at`); `statuses` gives each matched item's resulting list. A request whose counts fall
short of what it asked, beyond what `not_found` explains, has items Simkl matched yet did not
record (an episode number its catalog lacks is silently ignored) or had already (a resend): which,
the reply cannot say. A movie Simkl lists as completed in `statuses` is held; an episode addressed
by its own ids would be in `not_found` if unmatched; a numbered episode is looked up in the library
Simkl reads back. A rewatch may rightly record nothing (free plan, the 2-day rule, no opt-in).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bridge.ids import clean_ids
from bridge.item import Item, Kind, Numbering
from bridge.library import Shelf, TitleShelf, as_rating
from bridge.outbox import Entry
from bridge.outbox_migrate import item_from_body
from bridge.simkl.library import library_items, library_titles
from bridge.wire import is_count
from bridge.writes import LIST

# Each body bucket, the `not_found` bucket its misses are echoed in, and the count its items add to.
BUCKETS = {"movies": ("movies", "movies"), "shows": ("shows", "episodes"), "anime": ("shows", "episodes"),
           "episodes": ("episodes", "episodes")}
# The library is read back from this long before the earliest write (the bridge's clock and
# Simkl's need not agree), and never from further back than a week before now: a write Simkl took
# on an attempt that got no answer was sent again within minutes, and a write dated long ago (a
# library sync's real watch date) changes Simkl's entry only now.
READ_BACK_MARGIN = 86400.0
READ_BACK_LIMIT = 7 * 86400.0
NOT_FOUND = "not found on Simkl"
NOT_RECORDED = ("Simkl matched it but did not record it: its reply counted fewer watches than were sent and its "
                "library does not list it (an episode number Simkl's catalog lacks?)")


# The library writes' replies, by their reference pages (api.simkl.org/api-reference/simkl/...):
# - remove-from-history: `deleted` counts what was really unmarked; a movie or episode not in the
#   history, or an episode number Simkl lacks, is left out of it "and the call still counts as
#   success". Either way Simkl ends with it unwatched, as asked: a short count is delivered.
# - remove-ratings: `deleted` counts matched items, "not items that actually had a rating", and the
#   call is idempotent: only `not_found` says what was not done.
# - add-to-list: `added` echoes items, no counts: only `not_found` says what was not done.
# - add-ratings: `added` counts the ratings taken, anime among the shows. The one cause its page
#   gives for a matched item not taken is a rating out of 1-10, silently ignored, which the bridge
#   never sends (outgoing.rate_write refuses it); a count short all the same says no more than that
#   some item of the request was not rated, so Simkl's own ratings are read back (not_rated).
NOT_RATED = ("Simkl matched it but did not take the rating: its reply counted fewer ratings than were sent and "
             "its ratings read back do not list it with that value")
_RATING_COUNT = {"movies": "movies", "shows": "shows", "anime": "shows"}


def merged(entries: list[Entry]) -> dict[str, list[Any]]:
    """One request body of the entries' single-item bodies."""
    body: dict[str, list[Any]] = {}
    for bucket, item in (pair for entry in entries for pair in items(entry)):
        body.setdefault(bucket, []).append(item)
    return body


def requests(kind: str, batch: list[Entry]) -> list[list[Entry]]:
    """A batch of one kind as requests: an add-to-list request moves its items to one bucket (`to`
    at the top, as on each item)."""
    if kind != LIST:
        return [batch]
    return [[e for e in batch if list_to(e) == to] for to in dict.fromkeys(map(list_to, batch))]


def list_to(entry: Entry) -> str:
    """The bucket an add-to-list entry moves its title to."""
    return next((str(item.get("to")) for _, item in items(entry)), "")


def ratings_reads(entries: list[Entry]) -> list[tuple[str, str]]:
    """(type, ratings) of the `GET /sync/ratings/{type}/{ratings}` reads that tell whether Simkl
    holds the entries' ratings: an anime may be either type there. None for a rating Simkl
    would ignore (it cannot hold one)."""
    sent = [item.get("rating") for e in entries for _, item in items(e)]
    values = sorted({r for r in sent if isinstance(r, int) and as_rating(r) == r})
    types = {t for e in entries for bucket, _ in items(e) for t in (("movies",) if bucket == "movies" else ("shows", "anime"))}
    return [(t, ",".join(map(str, values))) for t in sorted(types)] if values else []


def short_ratings(entries: list[Entry], reply: dict[str, Any]) -> list[Entry]:
    """The rating entries of each count (movies; shows with anime) the reply counts short."""
    added = _dict(reply.get("added"))
    out = []
    for count in ("movies", "shows"):
        mine = [e for e in entries if any(_RATING_COUNT.get(bucket) == count for bucket, _ in items(e))]
        if mine and not (is_count(added.get(count)) and added[count] >= len(mine)):
            out += mine
    return out


def not_rated(entries: list[Entry], replies: list[Any]) -> list[Entry]:
    """The rating entries the ratings read back (`GET /sync/ratings/...` replies) do not list with
    the value sent."""
    shelf = TitleShelf(title for reply in replies for title in library_titles(reply))
    return [e for e in entries if not all(_rated(shelf, bucket, item) for bucket, item in items(e))]


def _rated(shelf: TitleShelf, bucket: str, item: dict[str, Any]) -> bool:
    ids = clean_ids(item["ids"] if isinstance(item.get("ids"), dict) else {}, strict=False)
    ways = ([Item(Kind.MOVIE, ids)] if bucket == "movies"
            else [Item(Kind.SHOW, ids, numbering) for numbering in Numbering])  # anime: Simkl's, or TVDB's
    return any((found := shelf.find(way)) is not None and found.rating == item.get("rating") for way in ways)


def items(entry: Entry) -> list[tuple[str, dict[str, Any]]]:
    """(bucket, item) of every item an entry's body holds."""
    return [(bucket, item) for bucket in BUCKETS for item in entry.body.get(bucket, []) if isinstance(item, dict)]


def not_found(entries: list[Entry], reply: dict[str, Any]) -> list[Entry]:
    """The entries Simkl says it could not match."""
    echoes = _dict(reply.get("not_found"))
    return [e for e in entries if any(_echoes(item, echoes.get(BUCKETS[bucket][0])) for bucket, item in items(e))]


def unconfirmed(entries: list[Entry], reply: dict[str, Any]) -> list[Entry]:
    """The matched entries whose watch the reply does not confirm: the library must tell."""
    if any(e.rewatch for e in entries):
        return []
    added = _dict(reply.get("added"))
    statuses: list[Any] = added["statuses"] if isinstance(added.get("statuses"), list) else []
    out: list[Entry] = []
    for count in ("movies", "episodes"):
        mine = [(e, bucket, item) for e in entries for bucket, item in items(e) if BUCKETS[bucket][1] == count]
        asked = sum(_watches(bucket, item) for _, bucket, item in mine)
        if mine and not (is_count(added.get(count)) and added[count] >= asked):
            out += [e for e, bucket, item in mine if bucket in ("shows", "anime")
                    or (bucket == "movies" and not any(_completed(item, status) for status in statuses))]
    return list({e.id: e for e in out}.values())


def read_back_since(entries: list[Entry], now: float) -> float:
    return max(min(e.at for e in entries), now - READ_BACK_LIMIT) - READ_BACK_MARGIN


def not_in_library(entries: list[Entry], library: Any) -> list[Entry]:
    """The entries an all-items reply (`extended=full_anime_seasons`, `episode_watched_at=yes`)
    does not list as watched, every episode of a multi-episode file included."""
    shelf = Shelf(library_items(library))
    missing = []
    for entry in entries:
        item = item_from_body(entry.body)
        if item is None:
            continue
        parts = [replace(item, episodes=(n,)) for n in item.episodes] or [item]
        if not all(shelf.find(part) is not None for part in parts):
            missing.append(entry)
    return missing


def rewatch_session(reply: dict[str, Any]) -> int | None:
    """The rewatch session a reply says its write joined (`added.statuses[].response.rewatch_id`)."""
    statuses = _dict(reply.get("added")).get("statuses")
    for status in statuses if isinstance(statuses, list) else []:
        response = status.get("response") if isinstance(status, dict) else None
        if isinstance(response, dict) and is_count(response.get("rewatch_id")):
            return int(response["rewatch_id"])
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _watches(bucket: str, item: dict[str, Any]) -> int:
    if bucket not in ("shows", "anime"):
        return 1
    return sum(len(s.get("episodes") or []) for s in item.get("seasons") or [] if isinstance(s, dict))


def _ids(item: Any) -> set[tuple[str, str]]:
    ids = item.get("ids") if isinstance(item, dict) else None
    return {(k, str(v)) for k, v in ids.items() if v not in (None, "")} if isinstance(ids, dict) else set()


def _echoes(item: dict[str, Any], echoes: Any) -> bool:
    """An echo names the item when its ids are the item's, as sent or as strings."""
    mine = _ids(item)
    return isinstance(echoes, list) and any(_ids(echo) and _ids(echo) <= mine for echo in echoes)


def _completed(movie: dict[str, Any], status: Any) -> bool:
    if not isinstance(status, dict) or not isinstance(status.get("response"), dict):
        return False
    return status["response"].get("status") == "completed" and _echoes(movie, [status.get("request")])
