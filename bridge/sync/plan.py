"""The library sync's decisions: a server's library, the Simkl account's, and what both looked like
after the last sync -> what to write where, with a reason for each item. Pure: no I/O, no clock.

The rules that keep a library honest (each a complaint about other syncs):
- Only a fact is acted on. "Watched on the server and not on Simkl" adds one play with the server's
  own date (never one per play count, never now); "watched on Simkl and not on the server" marks it
  there. An item that was watched on both sides last time and is now unwatched on one was
  unwatched there since: with unwatch on, the other side follows; with it off, nothing happens.
- The first sync of an account only adds: without a baseline an absence proves nothing.
- Unwatching is per item (an episode, a movie), never a whole show or season, and a plan that would
  unwatch more than `unwatch_limit` of the library is refused as a whole: a half-read library, an
  auth error or a server wipe looks like mass unwatching.
- A play the live scrobbler already sent (the outbox's mark) is not added again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from bridge.item import Item
from bridge.library import LibraryItem, Shelf

# A live mark this close before the server's own last-viewed date is the same viewing: servers
# stamp the end of a play, the scrobbler the moment it passed the threshold.
SAME_VIEWING = 3600.0


class Step(str, Enum):
    ADD = "add to Simkl history"
    MARK = "mark watched on the server"
    UNMARK = "mark unwatched on the server"
    REMOVE = "remove from Simkl history"


@dataclass(frozen=True)
class Options:
    to_simkl: bool = True
    from_simkl: bool = False  # opt-in per server
    unwatch: bool = False
    unwatch_limit: float = 0.10  # of the server's library


@dataclass(frozen=True)
class Before:
    """What both sides looked like after the last sync (None for an account's first)."""

    server: frozenset[str]  # keys of the server's items that were watched
    simkl: Shelf  # Simkl's watched items, with the bridge's own writes

    def both_watched(self, entry: LibraryItem) -> bool:
        seen = self.simkl.find(entry.item)
        return entry.key in self.server and seen is not None and seen.watched


@dataclass(frozen=True)
class Action:
    step: Step
    entry: LibraryItem  # the server's item: the ids to send, or the ref to mark
    watched_at: float | None  # the date written (ADD, MARK)
    reason: str


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    skipped: list[tuple[LibraryItem, str]] = field(default_factory=list)  # the matching report
    refused: list[str] = field(default_factory=list)

    def count(self, step: Step) -> int:
        return sum(1 for a in self.actions if a.step is step)


def plan(server: Shelf, simkl: Shelf, before: Before | None, options: Options,
         sent: Callable[[Item], float | None] = lambda item: None) -> Plan:
    """`sent(item)`: when the live scrobbler last marked the item (the outbox's marks), or None."""
    result = Plan()
    for entry in server:
        match = simkl.find(entry.item)
        on_simkl = match is not None and match.watched
        if entry.watched == on_simkl:
            continue
        was_both = before is not None and before.both_watched(entry)
        if entry.watched:
            _watched_on_server_only(entry, was_both, options, sent, result)
        elif was_both:
            if options.unwatch and options.to_simkl:
                result.actions.append(Action(Step.REMOVE, entry, None, "unwatched on the server since the last sync"))
        elif options.from_simkl:
            assert match is not None
            result.actions.append(Action(Step.MARK, entry, match.watched_at, "watched on Simkl"))
    _guard(result, len(server), options)
    return result


def _watched_on_server_only(entry: LibraryItem, was_both: bool, options: Options,
                            sent: Callable[[Item], float | None], result: Plan) -> None:
    if was_both:
        if options.unwatch and options.from_simkl:
            result.actions.append(Action(Step.UNMARK, entry, None, "unwatched on Simkl since the last sync"))
        return
    if not options.to_simkl:
        return
    if not entry.item.ids:
        result.skipped.append((entry, "no usable id"))
        return
    marked = sent(entry.item)
    if marked is not None and (entry.watched_at is None or marked >= entry.watched_at - SAME_VIEWING):
        return  # the scrobbler reported this viewing: one play, one write
    result.actions.append(Action(Step.ADD, entry, entry.watched_at, "watched on the server"))


def _guard(result: Plan, library: int, options: Options) -> None:
    unwatching = [a for a in result.actions if a.step in (Step.UNMARK, Step.REMOVE)]
    if len(unwatching) > options.unwatch_limit * library:
        result.actions = [a for a in result.actions if a not in unwatching]
        result.refused.append(
            f"refused to unwatch {len(unwatching)} of {library} items (more than {options.unwatch_limit:.0%} of the "
            "library: a half-read library or a wiped server looks like this); nothing was unwatched. Check the "
            "server, or raise sync.unwatch_limit for one run")
