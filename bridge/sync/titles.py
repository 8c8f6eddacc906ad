"""Ratings and list buckets in one sync of one account: Simkl's titles as the gate's reads leave
them, a server's titles planned against them, the plan carried out (Simkl's side through the
outbox like every write, the server's through its adapter), and both sides as the plan leaves them
for the baseline.

A change left undone (a server write that did not happen: the server went away mid-run, its
adapter logs one line; or one the plan held: the other direction of a one-way run, removals refused
as mass removal) keeps that title's entry of last time in the baseline, on the side it was to be
made: the next sync sees the change again and carries it over, and never reads a rating that was
not written as one the person cleared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from bridge.item import Kind, Numbering
from bridge.library import Title, TitleHolder, TitleShelf
from bridge.outbox import Outbox
from bridge.sync.outgoing import list_write, rate_write, unrate_write
from bridge.sync.titles_plan import TO_SIMKL, TitleAction, TitlePlan, TitlesBefore, TitleStep
from bridge.writes import Write

log = logging.getLogger("bridge.sync")


def merge(shelf: TitleShelf, titles: Iterable[Title]) -> None:
    """A read's entries replace what the shelf had of them (the bridge's own writes, kept by the
    server's ids, give way to Simkl's entry for the same title)."""
    for title in titles:
        while (old := shelf.find(title.item)) is not None:
            shelf.discard(old.key)
        shelf.add(title)


def of_type(title: Title, kind: str) -> bool:
    """Whether a title is of a /sync/all-items or /sync/ratings type (movies, shows, anime)."""
    if kind == "movies":
        return title.item.kind is Kind.MOVIE
    anime = title.item.numbering is Numbering.ANIDB
    return title.item.kind is Kind.SHOW and anime == (kind == "anime")


def unrated_since(shelf: TitleShelf, kind: str, rated: Iterable[Title]) -> None:
    """A whole ratings read of one type: what the shelf has rated and the read does not list, Simkl
    no longer rates (a delta never lists a cleared rating)."""
    still = TitleShelf(rated)
    for title in [t for t in shelf if t.rating is not None and of_type(t, kind) and still.find(t.item) is None]:
        shelf.discard(title.key)
        shelf.add(replace(title, rating=None, rated_at=None))


def removed(shelf: TitleShelf, kind: str, present: set[int]) -> None:
    """An ids-only read of one type: titles whose simkl id it does not list left the library."""
    for title in [t for t in shelf if of_type(t, kind) and t.item.ids.simkl is not None
                  and t.item.ids.simkl not in present]:
        shelf.discard(title.key)


def apply_titles(account: str, holder: TitleHolder, plan: TitlePlan, outbox: Outbox, simkl: TitleShelf,
                 now: float, queued: Callable[[], object] = lambda: None,
                 mirrors: frozenset[str] = frozenset()) -> tuple[int, list[TitleAction]]:
    """Carry out a titles plan; `simkl` takes the bridge's own writes. Returns how many Simkl
    writes were queued, and the server actions that were done (the baseline records only those).
    `mirrors`: the buckets whose server lists are put in order even with nothing to add or remove
    (a list of two mirrors completes each from the other: the holder knows how)."""
    writes, written = [], []
    for action in [a for a in plan.actions if a.step in TO_SIMKL]:
        try:
            writes.append(_write(account, action, now))
        except ValueError as exc:  # a title Simkl could not take (no id): reported, the rest goes on
            plan.skipped.append((action.title, str(exc)))
            log.warning("sync %s: %s", account, exc)
            continue
        written.append(action)
    count = sum(outbox.enqueue_many(writes)) if writes else 0
    if count:
        queued()
    for action in written:
        _record(simkl, action, now)
    return count, _on_server(holder, plan, mirrors)


def _write(account: str, action: TitleAction, now: float) -> Write:
    if action.step is TitleStep.RATE_SIMKL:
        assert action.rating is not None
        return rate_write(account, action.title, action.rating, action.rated_at, now)
    if action.step is TitleStep.UNRATE_SIMKL:
        return unrate_write(account, action.title, now)
    assert action.bucket is not None
    return list_write(account, action.title, action.bucket, now)


def _record(simkl: TitleShelf, action: TitleAction, now: float) -> None:
    found = simkl.find(action.title.item)
    base = found if found is not None else replace(action.title, ref="", listed=frozenset(), status=None)
    if action.step is TitleStep.RATE_SIMKL:
        # Simkl files a rated title it did not have (a movie as completed): the next delta says where.
        done = replace(base, rating=action.rating, rated_at=action.rated_at if action.rated_at is not None else now)
    elif action.step is TitleStep.UNRATE_SIMKL:
        done = replace(base, rating=None, rated_at=None)
    else:
        done = replace(base, status=action.bucket)
    merge(simkl, [done])


def _on_server(holder: TitleHolder, plan: TitlePlan, mirrors: frozenset[str]) -> list[TitleAction]:
    done: list[TitleAction] = []
    rates = [a for a in plan.actions if a.step in (TitleStep.RATE_SERVER, TitleStep.UNRATE_SERVER)]
    if rates and holder.rate([(a.title, a.rating, a.rated_at) for a in rates]) == len(rates):
        done += rates
    for bucket in sorted(mirrors | {a.bucket for a in plan.actions if a.bucket is not None and a.step not in TO_SIMKL}):
        add = [a for a in plan.actions if a.step is TitleStep.LIST_SERVER and a.bucket == bucket]
        remove = [a for a in plan.actions if a.step is TitleStep.UNLIST_SERVER and a.bucket == bucket]
        if holder.set_listed(bucket, [a.title for a in add], [a.title for a in remove]) == len(add) + len(remove):
            done += add + remove
    return done


def as_left(server: list[Title], simkl: TitleShelf, plan: TitlePlan, done: list[TitleAction],
            before: TitlesBefore | None) -> tuple[list[Title], list[Title]]:
    """Both sides as this server's sync left them, for its baseline: the server's read with the
    server writes that were done, and Simkl's titles now. A title with something left undone (a
    server write that failed or was held, a Simkl write held) keeps its entry of last time on that
    side (none: none), so the next run still sees the change and carries it over."""
    finished = {id(a) for a in done}
    undone_here = {a.title.key for a in [*plan.actions, *plan.held] if a.step not in TO_SIMKL and id(a) not in finished}
    held_there = {a.title.key for a in plan.held if a.step in TO_SIMKL}
    server_side = []
    for title in _with(server, done):
        if title.key in held_there:
            old = before.server.get(title.key) if before is not None else None
            if old is not None:
                server_side.append(old)
            continue
        server_side.append(title)
    taken = TitleShelf(simkl)
    for title in server:
        if title.key in undone_here:
            while (now := taken.find(title.item)) is not None:
                taken.discard(now.key)
            old = before.simkl.find(title.item) if before is not None else None
            if old is not None:
                taken.add(old)
    return server_side, list(taken)


def _with(titles: list[Title], done: list[TitleAction]) -> list[Title]:
    """The server's titles with the server writes that were done."""
    changed: dict[str, list[TitleAction]] = {}
    for action in done:
        changed.setdefault(action.title.key, []).append(action)
    out = []
    for title in titles:
        for action in changed.get(title.key, ()):
            if action.step in (TitleStep.RATE_SERVER, TitleStep.UNRATE_SERVER):
                title = replace(title, rating=action.rating, rated_at=action.rated_at)
            elif action.step is TitleStep.LIST_SERVER:
                title = replace(title, listed=title.listed | {action.bucket or ""})
            else:
                title = replace(title, listed=title.listed - {action.bucket or ""})
        out.append(title)
    return out


def plans_to_json(plans: dict[str, TitlePlan]) -> dict[str, Any]:
    """Titles plans by server, as `simkl-bridge sync --plan FILE` writes them."""
    return {name: [{"step": a.step.name, "title": a.title.to_json(), "rating": a.rating, "rated_at": a.rated_at,
                    "bucket": a.bucket, "reason": a.reason} for a in p.actions] for name, p in plans.items()}


def plans_from_json(data: Any) -> dict[str, TitlePlan]:
    """What `plans_to_json` wrote (a plan file without titles: none)."""
    return {name: TitlePlan([TitleAction(TitleStep[a["step"]], Title.from_json(a["title"]), a["rating"], a["rated_at"],
                                         a["bucket"], a["reason"]) for a in actions])
            for name, actions in (data or {}).items()}
