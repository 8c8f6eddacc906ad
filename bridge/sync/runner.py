"""One sync of one account: the activities gate, Simkl's reads, each server's library, the plan,
and the plan applied; then the baseline.

Additions to Simkl go through the outbox like live plays: the sender delivers them in batches at
Simkl's one POST a second, a kill loses nothing (the rows are committed before the baseline is
saved; a re-run finds the same items and the outbox refuses the same write twice), and a play the
scrobbler already reported is one write, not two. Marks on a server go through its adapter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bridge.item import Item
from bridge.library import LibraryHolder, LibraryItem, Shelf, TitleHolder, TitleShelf, no_cycle_collection
from bridge.outbox import Outbox
from bridge.simkl.library import library_items, library_titles, listed_simkl_ids
from bridge.sync import gate
from bridge.sync.baseline import Baseline
from bridge.sync.outgoing import history_write, unwatch_write
from bridge.sync.plan import Action, Options, Plan, Step, plan
from bridge.sync.titles import apply_titles, as_left, merge, plans_to_json, removed, unrated_since
from bridge.sync.titles_plan import TitleOptions, TitlePlan, TitleStep, plan_titles

log = logging.getLogger("bridge.sync")

ENQUEUE_CHUNK = 1000  # additions committed to the outbox in one transaction
NO_TITLES = gate.Titles()  # no server syncs ratings or lists


class SimklReads(Protocol):
    def get_activities(self) -> dict[str, Any]: ...
    def get_all_items(self, kind: str | None = None, status: str | None = None, **params: str) -> Any: ...
    def get_ratings(self, kind: str, ratings: str = ..., **params: str) -> Any: ...


@dataclass
class Report:
    account: str
    requests: int = 0  # to Simkl, during the reads (the sender's POSTs come after)
    plans: dict[str, Plan] = field(default_factory=dict)  # by server
    queued: int = 0  # writes committed to the outbox (additions, unwatches, ratings, list moves)
    failed: dict[str, str] = field(default_factory=dict)  # servers whose library could not be read
    playback_moved: bool = False  # a pause on another device since the last sync
    titles: dict[str, TitlePlan] = field(default_factory=dict)  # ratings and lists, by server

    def line(self) -> str:
        steps = {s: sum(p.count(s) for p in self.plans.values()) for s in Step}
        skipped = sum(len(p.skipped) for p in self.plans.values())
        titles = {s: sum(p.count(s) for p in self.titles.values()) for s in TitleStep}
        skipped += sum(len(p.skipped) for p in self.titles.values())
        return (f"sync {self.account}: {self.requests} read(s); {steps[Step.ADD]} to add to Simkl, {steps[Step.MARK]} "
                f"to mark and {steps[Step.UNMARK]} to unmark on servers, {steps[Step.REMOVE]} to remove from Simkl; "
                f"{titles[TitleStep.RATE_SIMKL] + titles[TitleStep.UNRATE_SIMKL]} rating(s) to Simkl and "
                f"{titles[TitleStep.RATE_SERVER] + titles[TitleStep.UNRATE_SERVER]} to servers, "
                f"{titles[TitleStep.LIST_SIMKL]} list move(s) on Simkl and "
                f"{titles[TitleStep.LIST_SERVER] + titles[TitleStep.UNLIST_SERVER]} on servers; {skipped} not matched")


@dataclass
class SimklNow:
    """Simkl's side of one run: its watched items and (when some server syncs them) its titles."""

    shelf: Shelf
    titles: TitleShelf | None
    activities: dict[str, Any]
    requests: int
    playback_moved: bool


def read_simkl(client: SimklReads, baseline: Baseline, account: str, want: gate.Titles = NO_TITLES) -> SimklNow:
    """Simkl's watched items (and titles) now: the baseline's, updated by exactly the reads the gate asks for."""
    activities = client.get_activities()
    saved = baseline.activities(account)
    # Titles synced once are kept up to date by every run, one that syncs none too (`--server` a
    # server without ratings): the stamps it saves would otherwise hide what moved meanwhile. Such a
    # run reads ratings whole: it cannot know whether a later one clears ratings.
    known = baseline.simkl_titles(account)
    want = gate.Titles(want.wanted or known is not None, known is None, want.whole_ratings or not want.wanted)
    todo = gate.reads(saved[0] if saved else None, activities, want)
    shelf = Shelf() if todo.first else baseline.simkl(account)
    titles = (known if known is not None else TitleShelf()) if want.wanted else None
    requests = 1
    for read in todo.library:
        reply = client.get_all_items(read.kind, read.status, **read.params)
        items = library_items(reply)
        if titles is not None:
            merge(titles, library_titles(reply))
        requests += 1
        # A show that changed is listed whole: its episodes replace what the shelf had of it. The
        # bridge's own writes, kept by the server's ids (keyed apart from Simkl's), give way to
        # Simkl's entries for them: kept beside them, every later sync carried a second copy.
        changed = {i.item.ids.simkl for i in items if i.item.ids.simkl is not None}
        listed = Shelf(items)
        for old in [e for e in shelf if e.item.ids.simkl in changed
                    or (e.item.ids.simkl is None and listed.find(e.item) is not None)]:
            shelf.discard(old.key)
        for entry in items:
            shelf.add(entry)
    for read in todo.removals:
        present = listed_simkl_ids(client.get_all_items(read.kind, **read.params))
        requests += 1
        kind = "movie" if read.kind == "movies" else "episode"
        for gone in [e for e in shelf if e.item.kind.value == kind and e.item.ids.simkl is not None
                     and e.item.ids.simkl not in present]:
            shelf.discard(gone.key)
        if titles is not None and read.kind is not None:
            removed(titles, read.kind, present)
    for read in todo.ratings:
        assert read.kind is not None and titles is not None
        rated = library_titles(client.get_ratings(read.kind, **read.params))
        requests += 1
        if "date_from" not in read.params:
            unrated_since(titles, read.kind, rated)
        merge(titles, rated)
    return SimklNow(shelf, titles, activities, requests, todo.playback_since is not None)


def sync_account(account: str, client: SimklReads, baseline: Baseline, outbox: Outbox,
                 servers: Iterable[tuple[LibraryHolder, Options]], *, now: float, dry_run: bool = False,
                 queued: Callable[[], object] = lambda: None,
                 titles: Mapping[str, tuple[TitleHolder, TitleOptions]] | None = None) -> Report:
    """`queued` is called each time additions are committed to the outbox: the sender starts on
    them while the rest is still being queued and the baseline saved (seconds, for 50,000).
    `titles`: the servers (by their library holder's name) whose ratings and lists are synced."""
    with no_cycle_collection():
        return _sync_account(account, client, baseline, outbox, servers, now, dry_run, queued, titles or {})


def _sync_account(account: str, client: SimklReads, baseline: Baseline, outbox: Outbox,
                  servers: Iterable[tuple[LibraryHolder, Options]], now: float, dry_run: bool,
                  queued: Callable[[], object], titles: Mapping[str, tuple[TitleHolder, TitleOptions]]) -> Report:
    report = Report(account)
    want = gate.Titles(bool(titles), whole_ratings=any(o.rating_removal for _, o in titles.values()))
    now_on_simkl = read_simkl(client, baseline, account, want)
    simkl, activities = now_on_simkl.shelf, now_on_simkl.activities
    report.requests, report.playback_moved = now_on_simkl.requests, now_on_simkl.playback_moved
    sent = _sent(outbox, account)
    for holder, options in servers:
        try:
            library = holder.read_library()
        except Exception as exc:  # one server down must not stop the account's other servers
            report.failed[holder.name] = f"{type(exc).__name__}: {exc}"
            log.warning("sync %s: the library of %s could not be read (%s); it is synced next time", account,
                        holder.name, report.failed[holder.name])
            continue
        result = plan(Shelf(library), simkl, baseline.before(account, holder.name), options, sent)
        report.plans[holder.name] = result
        for refusal in result.refused:
            log.warning("sync %s with %s: %s", account, holder.name, refusal)
        if dry_run:
            continue
        report.queued += apply(account, holder, result, outbox, simkl, now, queued)
        baseline.save_server(account, holder.name, _as_marked(library, result))
    if now_on_simkl.titles is not None:
        for holder_titles, title_options in titles.values():
            report.queued += _sync_titles(account, holder_titles, title_options, now_on_simkl.titles, baseline, outbox,
                                          report, now, dry_run, queued)
    if not dry_run:
        baseline.save_simkl(account, activities, str(activities.get("all") or ""), simkl, now_on_simkl.titles)
    log.info(report.line())
    return report


def _sync_titles(account: str, holder: TitleHolder, options: TitleOptions, simkl: TitleShelf, baseline: Baseline,
                 outbox: Outbox, report: Report, now: float, dry_run: bool, queued: Callable[[], object]) -> int:
    try:
        server = holder.read_titles(options.lists)
    except Exception as exc:  # one server down must not stop the account's other servers
        report.failed[holder.name] = f"{type(exc).__name__}: {exc}"
        log.warning("sync %s: the ratings and lists of %s could not be read (%s); they are synced next time",
                    account, holder.name, report.failed[holder.name])
        return 0
    before = baseline.titles_before(account, holder.name)
    result = plan_titles(server, simkl, before, options)
    report.titles[holder.name] = result
    for refusal in result.refused:
        log.warning("sync %s with %s: %s", account, holder.name, refusal)
    if dry_run:
        return 0
    count, done = apply_titles(account, holder, result, outbox, simkl, now, queued,
                               options.lists if options.to_server else frozenset())
    baseline.save_titles(account, holder.name, *as_left(server, simkl, result, done, before))
    return count


def apply(account: str, holder: LibraryHolder, result: Plan, outbox: Outbox, simkl: Shelf, now: float,
          queued: Callable[[], object] = lambda: None) -> int:
    """Carry out a plan; `simkl` takes the bridge's own writes (a back-dated write never shows in a
    `date_from` delta); `queued()` after each commit of additions. Returns how many were queued."""
    count = 0
    additions = [a for a in result.actions if a.step is Step.ADD]
    # A commit per write is an fsync per write: 50,000 of them took minutes. A kill between two
    # chunks loses nothing: the next run plans the rest again, and the outbox refuses the committed.
    for start in range(0, len(additions), ENQUEUE_CHUNK):
        chunk = additions[start:start + ENQUEUE_CHUNK]
        added = sum(outbox.enqueue_many([history_write(account, a.entry, a.watched_at, now) for a in chunk]))
        if added:
            count += added
            queued()
        for action in chunk:
            simkl.add(action.entry)
    removed = _unwatch(account, [a.entry for a in result.actions if a.step is Step.REMOVE], outbox, simkl, now)
    if removed:
        count += removed
        queued()
    marks = [(a.entry, a.watched_at) for a in result.actions if a.step is Step.MARK]
    unmarks = [a.entry for a in result.actions if a.step is Step.UNMARK]
    if marks:
        holder.mark_watched(marks)
    if unmarks:
        holder.mark_unwatched(unmarks)
    return count


def _unwatch(account: str, entries: list[LibraryItem], outbox: Outbox, simkl: Shelf, now: float) -> int:
    """Take what was unwatched on the server off Simkl's history, and off `simkl` (the baseline)."""
    writes = []
    for entry in entries:
        seen = simkl.find(entry.item)
        try:
            writes.append(unwatch_write(account, entry, now, seen.watched_at if seen is not None else None))
        except ValueError as exc:
            log.warning("sync %s: %s is not unwatched on Simkl: %s", account, entry.label, exc)
            continue
        while seen is not None:  # Simkl's entry, and the bridge's own write of it if still kept
            simkl.discard(seen.key)
            seen = simkl.find(entry.item)
    return sum(outbox.enqueue_many(writes)) if writes else 0


def _sent(outbox: Outbox, account: str) -> Callable[[Item], float | None]:
    marks = Shelf(LibraryItem(item, True, at) for acc, item, at in outbox.marks_since(0) if acc == account)

    def sent(item: Item) -> float | None:
        found = marks.find(item)
        return found.watched_at if found is not None else None

    return sent


def _as_marked(library: list[LibraryItem], result: Plan) -> list[LibraryItem]:
    """The server's library as the plan leaves it."""
    changed = {a.entry.key: a for a in result.actions if a.step in (Step.MARK, Step.UNMARK)}
    return [replace(e, watched=changed[e.key].step is Step.MARK, watched_at=changed[e.key].watched_at)
            if e.key in changed else e for e in library]


def plan_json(report: Report) -> str:
    """A plan written for `simkl-bridge sync --plan FILE`, to be read back by `--apply FILE`."""
    return json.dumps({"account": report.account, "servers": {
        name: [{"step": a.step.name, "entry": a.entry.to_json(), "watched_at": a.watched_at, "reason": a.reason}
               for a in p.actions] for name, p in report.plans.items()}, "titles": plans_to_json(report.titles)}, indent=1)


def plan_from_json(text: str) -> tuple[str, dict[str, Plan]]:
    data = json.loads(text)
    return data["account"], {name: Plan([Action(Step[a["step"]], LibraryItem.from_json(a["entry"]), a["watched_at"],
                                                a["reason"]) for a in actions])
                             for name, actions in data["servers"].items()}
