"""Startup reconciliation of Simkl's saved playbacks with our own pending work and the servers.

On start the bridge reads `GET /sync/playback` for each account and decides, purely:
- a playback of an item that our outbox marked watched after it was paused is stale: remove it;
- of several playbacks of one item, the newest wins (older ones are removed);
- the rest are resume points: handed to every adapter's `apply_resume`, which sets the server's
  own resume point when Simkl's is newer. That is how a pause on one device resumes on another.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.adapters.base import Adapter
from bridge.events import Kind, Resume
from bridge.ids import clean_ids
from bridge.item import Item
from bridge.times import parse_iso

log = logging.getLogger("bridge.reconcile")


@dataclass(frozen=True)
class Mark:
    """An item our outbox marked watched, and when."""

    item: Item
    at: float


@dataclass
class Plan:
    keep: list[Resume] = field(default_factory=list)
    remove: list[int] = field(default_factory=list)  # Simkl playback ids to delete


def _media(playback: dict[str, Any]) -> dict[str, Any]:
    # Anime playbacks may come wrapped as `anime` instead of `show` (simkl-api.md §5).
    return playback.get("movie") or playback.get("show") or playback.get("anime") or {}


def _episode_numbers(playback: dict[str, Any]) -> tuple[int | None, int | None]:
    ep = playback.get("episode") or {}
    number = ep.get("number", ep.get("episode"))  # the docs spell it both ways
    return ep.get("season"), number


def to_resume(account: str, playback: dict[str, Any]) -> Resume | None:
    """One `/sync/playback` entry -> Resume; None (with a log line) when it is malformed."""
    try:
        kind = Kind(playback.get("type"))
        media = _media(playback)
        ids = clean_ids(media.get("ids") or {}, strict=False)
        season, number = _episode_numbers(playback)
        progress = float(playback["progress"])
        paused_at = parse_iso(playback["paused_at"])
        if paused_at is None:
            raise ValueError(f"paused_at {playback['paused_at']!r} is not a time")
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:  # whatever Simkl's JSON held
        log.warning("%s: ignoring malformed playback %r: %s", account, playback.get("id"), exc)
        return None
    if kind is Kind.EPISODE and (season is None or number is None):
        log.warning("%s: ignoring playback %r: episode without season/number", account, playback.get("id"))
        return None
    return Resume(account, kind, ids, progress, paused_at, season, number, media.get("title") or "")


def _identity(resume: Resume) -> tuple[Any, ...]:
    # Playbacks without any id are told apart by title, so that two of them are not taken for one.
    return (resume.kind, resume.ids.key() or resume.title, resume.season, resume.episode)


def plan(account: str, playbacks: Iterable[dict[str, Any]], marks: Iterable[Mark]) -> Plan:
    marks = list(marks)
    result = Plan()
    newest: dict[tuple[Any, ...], tuple[Resume, int]] = {}
    for pb in playbacks:
        resume = to_resume(account, pb)
        if resume is None:
            continue
        pid = int(pb.get("id") or 0)
        if any(m.at >= resume.paused_at and m.item.overlaps(resume.item) for m in marks):
            result.remove.append(pid)
            continue
        key = _identity(resume)
        if key in newest:
            older_pid = pid if resume.paused_at <= newest[key][0].paused_at else newest[key][1]
            result.remove.append(older_pid)
            if older_pid == pid:
                continue
        newest[key] = (resume, pid)
    result.keep = [r for r, _ in newest.values()]
    return result


@dataclass
class Summary:
    kept: int = 0
    removed: int = 0
    pushed: int = 0

    def line(self) -> str:
        return f"reconciled Simkl playbacks: kept {self.kept} / removed {self.removed} / pushed {self.pushed} to servers"


def marks_for(account: str, outbox_marks: Iterable[tuple[str, Item, float]]) -> list[Mark]:
    """The outbox's (account, item, at) history rows for one account."""
    return [Mark(item, at) for acc, item, at in outbox_marks if acc == account]


def reconcile_account(account: str, client: Any, marks: list[Mark], adapters: Iterable[Adapter], summary: Summary) -> None:
    """Read, prune and push one account's playbacks. Simkl errors propagate to the caller."""
    result = plan(account, client.get_playback() or [], marks)
    for pid in result.remove:
        if pid and client.delete_playback(pid):
            summary.removed += 1
    summary.kept += len(result.keep)
    for adapter in adapters:
        try:
            summary.pushed += adapter.apply_resume(result.keep)
        except Exception as exc:  # one server being down must not stop the others
            log.warning("%s: could not set resume points: %s: %s", adapter.name, type(exc).__name__, exc)
