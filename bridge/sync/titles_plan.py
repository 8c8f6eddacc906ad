"""Ratings and list buckets: a server's movies and shows, the Simkl account's, and what both looked
like after the last sync -> what to write where, with a reason for each title. Pure: no I/O, no clock.

The rules (each a complaint about other syncs):
- Only a change is acted on. A side's rating or list membership that differs from last time moved
  there; it goes to the other side where the rule lets it. A difference neither side made since is
  left alone: syncing it would flip-flop, or carry a stale rating over a newer one.
- An equal rating is never sent again (it would reset the rating's date); 8.0 and 8 are equal
  (`as_rating` made both sides whole numbers 1-10 before they got here).
- Both sides changed: the rule decides: `server`, `simkl`, or `newer` by the ratings' dates (a
  rating without a date never wins a conflict: it is reported, nothing is overwritten).
- A rating cleared on one side is cleared on the other only with `rating_removal`, never on a
  first sync (without a baseline an absence proves nothing).
- Lists: a Simkl bucket the server mirrors is kept in step from Simkl. Plan to Watch also goes back:
  a title put on the server's list goes to Simkl's Plan to Watch unless Simkl has it further along
  (watching, hold, dropped, completed): nothing is ever demoted. A title taken off the server's Plan
  to Watch list stays on Simkl's, or moves to Dropped with `list_removal: dropped`; never a
  history removal, which would erase its plays and rating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from bridge.item import Kind
from bridge.library import MOVIE_BUCKETS, Title, TitleShelf

PLAN_TO_WATCH = "plantowatch"
DROPPED = "dropped"
RULES = ("server", "simkl", "newer", "none")


class TitleStep(str, Enum):
    RATE_SIMKL = "rate on Simkl"
    UNRATE_SIMKL = "clear the rating on Simkl"
    RATE_SERVER = "rate on the server"
    UNRATE_SERVER = "clear the rating on the server"
    LIST_SIMKL = "move on Simkl"
    LIST_SERVER = "put on the server's list"
    UNLIST_SERVER = "take off the server's list"


TO_SIMKL = (TitleStep.RATE_SIMKL, TitleStep.UNRATE_SIMKL, TitleStep.LIST_SIMKL)


@dataclass(frozen=True)
class TitleOptions:
    ratings: str = "none"  # RULES
    rating_removal: bool = False
    lists: frozenset[str] = frozenset()  # the Simkl buckets this server mirrors
    list_removal: str = "keep"  # keep | dropped
    removal_limit: float = 0.10  # of the server's titles (sync.unwatch_limit)
    to_simkl: bool = True  # `simkl-bridge sync --direction` may keep one side unwritten
    to_server: bool = True

    @property
    def active(self) -> bool:
        return self.ratings != "none" or bool(self.lists)


@dataclass(frozen=True)
class TitlesBefore:
    """Both sides' titles after the last sync with this server (None for the first)."""

    server: dict[str, Title]  # by key
    simkl: TitleShelf


@dataclass(frozen=True)
class TitleAction:
    step: TitleStep
    title: Title  # the server's: the ids sent to Simkl, the ref written on the server
    rating: int | None = None  # RATE_*
    rated_at: float | None = None
    bucket: str | None = None  # LIST_*, UNLIST_SERVER
    reason: str = ""


@dataclass
class TitlePlan:
    actions: list[TitleAction] = field(default_factory=list)
    skipped: list[tuple[Title, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # Decided but not to be done this run (the other direction of a one-way run, removals refused
    # as mass removal): the baseline keeps them undone, so a later run still sees them to do.
    held: list[TitleAction] = field(default_factory=list)

    def count(self, step: TitleStep) -> int:
        return sum(1 for a in self.actions if a.step is step)


def plan_titles(server: list[Title], simkl: TitleShelf, before: TitlesBefore | None,
                options: TitleOptions) -> TitlePlan:
    result = TitlePlan()
    for title in server:
        if not title.item.ids:
            if title.rating is not None or title.listed:
                result.skipped.append((title, "no usable id"))  # never matched by a title guess
            continue
        match = simkl.find(title.item)
        was_server = before.server.get(title.key) if before is not None else None
        was_simkl = before.simkl.find(title.item) if before is not None else None
        if options.ratings != "none":
            _rating(title, match, before is not None, was_server, was_simkl, options, result)
        for bucket in sorted(options.lists):
            if title.item.kind is Kind.MOVIE and bucket not in MOVIE_BUCKETS:
                continue  # movies are never watching or on hold (Simkl's seed page on statuses)
            _bucket(bucket, title, match, before is not None, was_server, was_simkl, options, result)
    _guard(result, len(server), options)
    result.held += [a for a in result.actions if not (options.to_simkl if a.step in TO_SIMKL else options.to_server)]
    held = {id(a) for a in result.held}
    result.actions = [a for a in result.actions if id(a) not in held]
    return result


def _guard(result: TitlePlan, titles: int, options: TitleOptions) -> None:
    """A half-read list, an auth error or a wiped server looks like mass removal: refused whole."""
    removing = [a for a in result.actions if a.step in (TitleStep.UNRATE_SIMKL, TitleStep.UNRATE_SERVER,
                                                         TitleStep.UNLIST_SERVER)]
    if len(removing) > max(options.removal_limit * titles, 1):
        result.held += removing
        result.refused.append(f"refused to clear {len(removing)} ratings or list places of {titles} titles (more than "
                              f"{options.removal_limit:.0%}: a half-read library or a wiped server looks like this); "
                              "nothing was cleared. Check the server, or raise sync.unwatch_limit for one run")


def _rating(title: Title, match: Title | None, known: bool, was_server: Title | None, was_simkl: Title | None,
            options: TitleOptions, result: TitlePlan) -> None:
    here, there = title.rating, match.rating if match is not None else None
    if here == there:
        return
    # Without a baseline whatever is there is new; with one, what differs from last time moved.
    moved_here = here != (was_server.rating if was_server is not None else None) if known else here is not None
    moved_there = there != (was_simkl.rating if was_simkl is not None else None) if known else there is not None
    if moved_here and moved_there:
        winner = _conflict(title, match, options.ratings)
        if winner is None:
            result.skipped.append((title, f"rated {here} here and {there} on Simkl, and the dates cannot tell which "
                                          "is newer: neither is overwritten"))
            return
        moved_here, moved_there = winner == "server", winner == "simkl"
    to_simkl = options.ratings in ("server", "newer")
    to_server = options.ratings in ("simkl", "newer")
    if moved_here and to_simkl:
        if here is not None:
            result.actions.append(TitleAction(TitleStep.RATE_SIMKL, title, here, title.rated_at,
                                              reason="rated on the server"))
        elif known and options.rating_removal:
            result.actions.append(TitleAction(TitleStep.UNRATE_SIMKL, title, reason="rating cleared on the server"))
    elif moved_there and to_server:
        assert match is not None
        if there is not None:
            result.actions.append(TitleAction(TitleStep.RATE_SERVER, title, there, match.rated_at,
                                              reason="rated on Simkl"))
        elif known and options.rating_removal:
            result.actions.append(TitleAction(TitleStep.UNRATE_SERVER, title, reason="rating cleared on Simkl"))


def _conflict(title: Title, match: Title | None, rule: str) -> str | None:
    """Which side's rating wins when both changed: 'server', 'simkl', or None (cannot tell)."""
    if rule in ("server", "simkl"):
        return rule
    if title.rating is None or match is None or match.rating is None:
        return "server" if title.rating is not None else "simkl"  # a new rating over a cleared one
    if title.rated_at is None or match.rated_at is None or title.rated_at == match.rated_at:
        return None
    return "server" if title.rated_at > match.rated_at else "simkl"


def _bucket(bucket: str, title: Title, match: Title | None, known: bool, was_server: Title | None,
            was_simkl: Title | None, options: TitleOptions, result: TitlePlan) -> None:
    here = bucket in title.listed
    there = match is not None and match.status == bucket
    if here == there:
        return
    moved_here = here != (was_server is not None and bucket in was_server.listed) if known else here
    moved_there = there != (was_simkl is not None and was_simkl.status == bucket) if known else there
    if moved_there:  # Simkl's buckets are the truth the mirror follows
        step = TitleStep.LIST_SERVER if there else TitleStep.UNLIST_SERVER
        why = f"in Simkl's {bucket} since the last sync" if there else f"moved out of Simkl's {bucket}"
        result.actions.append(TitleAction(step, title, bucket=bucket, reason=why))
    elif moved_here and bucket == PLAN_TO_WATCH:
        status = match.status if match is not None else None
        if here and status not in (None, PLAN_TO_WATCH):
            result.skipped.append((title, f"put on the server's Plan to Watch, but {status} on Simkl: not demoted"))
        elif here:
            result.actions.append(TitleAction(TitleStep.LIST_SIMKL, title, bucket=PLAN_TO_WATCH,
                                              reason="put on the server's Plan to Watch list"))
        elif options.list_removal == DROPPED:
            result.actions.append(TitleAction(TitleStep.LIST_SIMKL, title, bucket=DROPPED,
                                              reason="taken off the server's Plan to Watch list"))
