"""The Simkl writes a sync's decisions become: what is enqueued in the outbox, keyed so that a sync
run again (killed before its baseline was saved, or with nothing changed) enqueues nothing new.

Pure: no I/O, no clock (`now` is the sync's). Each key names the write and what makes it a new
one: a viewing by its date; a rating by its value and the date it was given. What a side keeps no
date for (an unwatch, an undated rating, a removed rating, a bucket) is keyed by the hour it was
decided: a run again within the hour queues nothing new, and the same change made again later
(8, then 9, then 8 again on a Kodi, which dates no rating) is a new write, not one the outbox
refuses as known. A run killed and run again across the hour sends an equal write twice, which
Simkl takes as one.
"""

from __future__ import annotations

from bridge.events import PlayEvent, State
from bridge.item import Ids, Kind
from bridge.library import BUCKETS, MOVIE_BUCKETS, LibraryItem, Title
from bridge.simkl.bodies import history_body, removal_body, title_body
from bridge.times import iso
from bridge.writes import HISTORY, LIST, RATE, UNRATE, UNWATCH, Write


def history_write(account: str, entry: LibraryItem, watched_at: float | None, now: float) -> Write:
    """One viewing of a server's item added to Simkl's history, with the server's own date."""
    stamp = iso(watched_at) if watched_at is not None else None
    event = _event(entry, watched_at if watched_at is not None else now)
    # The key of the scrobbler's own write of the same viewing: one play, one row.
    idem = f"{HISTORY}:{account}:{entry.key}:{stamp or 'undated'}"
    return Write(account, HISTORY, entry.item, idem, history_body(event, stamp), event.at)


def unwatch_write(account: str, entry: LibraryItem, now: float, viewing: float | None = None) -> Write:
    """A server's item unwatched there since the last sync, taken off Simkl's history: an episode
    alone (its show with that season and episode), a movie whole (Simkl then removes the movie's
    entry from the library, its rating with it: the only way Simkl unwatches a movie). `viewing`:
    the date of the Simkl viewing it takes back (a later viewing unwatched is another write).
    ValueError for an episode known by its own ids only (Simkl removes none by those)."""
    idem = f"{UNWATCH}:{account}:{entry.key}:{iso(viewing) if viewing is not None else _hour(now)}"
    return Write(account, UNWATCH, entry.item, idem, removal_body(_event(entry, now)), now)


def rate_write(account: str, title: Title, rating: int, rated_at: float | None, now: float) -> Write:
    """A title's rating set on Simkl, dated when it was given (Simkl dates an undated one now: sent
    again, years of rating dates would read today)."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 10:
        raise ValueError(f"{title.label}: {rating!r} is not a rating Simkl takes (a whole number 1-10)")
    stamp = iso(rated_at) if rated_at is not None else None
    fields = {"rating": rating, **({"rated_at": stamp} if stamp else {})}
    idem = f"{RATE}:{account}:{_key(title)}:{rating}:{stamp or 'undated ' + _hour(now)}"
    return Write(account, RATE, title.item, idem, title_body(title, **fields), now)


def unrate_write(account: str, title: Title, now: float) -> Write:
    """A title's rating taken off Simkl (the title stays in its bucket)."""
    return Write(account, UNRATE, title.item, f"{UNRATE}:{account}:{_key(title)}:{_hour(now)}", title_body(title), now)


def list_write(account: str, title: Title, to: str, now: float) -> Write:
    """A title moved to one of Simkl's buckets (add-to-list, never history removal). ValueError for
    a movie sent to watching or hold: Simkl has no such bucket for movies (it makes `watching` a
    watch, `hold` is undefined; the seed page on statuses)."""
    allowed = MOVIE_BUCKETS if title.item.kind is Kind.MOVIE else BUCKETS
    if to not in allowed:
        raise ValueError(f"{title.label}: Simkl has no {to!r} bucket for a {title.item.kind.value} "
                         f"(one of {', '.join(allowed)})")
    idem = f"{LIST}:{account}:{_key(title)}:{to}:{_hour(now)}"
    return Write(account, LIST, title.item, idem, title_body(title, to=to), now)


def _event(entry: LibraryItem, at: float) -> PlayEvent:
    own = entry.item.by_episode_ids  # an episode of an unknown show is sent by its own ids
    return PlayEvent(source="sync", server="", user="", session="sync", kind=entry.item.kind,
                     ids=Ids() if own else entry.item.ids, state=State.WATCHED, title=entry.title, year=entry.year,
                     season=entry.item.season, episodes=entry.item.episodes, numbering=entry.item.numbering,
                     episode_ids=entry.item.ids if own else entry.episode_ids, at=at)


def _key(title: Title) -> str:
    if not title.item.ids:
        raise ValueError(f"{title.label}: no id to name it to Simkl by")
    return title.item.key


def _hour(now: float) -> str:
    return iso(now)[:13]
