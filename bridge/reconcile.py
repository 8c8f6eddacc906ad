"""Startup reconciliation of Simkl's saved playbacks with our own pending work and the servers.

On start the bridge reads `GET /sync/playback` for each account and decides, purely:
- a playback of an item that our outbox marked watched after it was paused is stale: remove it;
- of several playbacks of one item, the newest wins (older ones are removed);
- the rest are resume points: handed to every adapter's `apply_resume`, which sets the server's
  own resume point when Simkl's is newer. That is how a pause on one device resumes on another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

from bridge.events import Kind, Resume
from bridge.ids import clean_ids
from bridge.simkl.bodies import parse_iso

log = logging.getLogger("bridge.reconcile")

ID_KEYS = ("simkl", "imdb", "tmdb", "tvdb", "mal", "anidb", "anilist", "kitsu")


@dataclass(frozen=True)
class Mark:
    """An item our outbox marked watched, parsed back from its item_key."""

    kind: Kind
    id_name: str
    id_value: str
    season: int | None
    episodes: tuple[int, ...]
    at: float


@dataclass
class Plan:
    keep: list[Resume] = field(default_factory=list)
    remove: list[int] = field(default_factory=list)  # Simkl playback ids to delete


def parse_item_key(item_key: str, at: float) -> Mark | None:
    """'movie/tmdb:603' or 'episode/tvdb:81189/tv/s1e2,3' -> Mark (None when not parseable)."""
    parts = item_key.split("/")
    try:
        kind = Kind(parts[0])
        id_name, id_value = parts[1].split(":", 1)
        if kind is Kind.MOVIE:
            return Mark(kind, id_name, id_value, None, (), at)
        season_s, eps = parts[3][1:].split("e", 1)
        return Mark(kind, id_name, id_value, int(season_s), tuple(int(e) for e in eps.split(",")), at)
    except (ValueError, IndexError):
        return None


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
        paused_at = parse_iso(str(playback["paused_at"]))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("%s: ignoring malformed playback %r: %s", account, playback.get("id"), exc)
        return None
    if kind is Kind.EPISODE and (season is None or number is None):
        log.warning("%s: ignoring playback %r: episode without season/number", account, playback.get("id"))
        return None
    return Resume(account, kind, ids, progress, paused_at, season, number, media.get("title") or "")


def _matches(mark: Mark, resume: Resume) -> bool:
    ids = resume.ids.as_dict()
    if mark.kind is not resume.kind or str(ids.get(mark.id_name)) != mark.id_value:
        return False
    return mark.kind is Kind.MOVIE or (mark.season == resume.season and resume.episode in mark.episodes)


def _identity(resume: Resume) -> tuple[Any, ...]:
    ids = resume.ids.as_dict()
    first = next(((k, str(ids[k])) for k in ID_KEYS if k in ids), ("", resume.title))
    return (resume.kind, *first, resume.season, resume.episode)


def plan(account: str, playbacks: Iterable[dict[str, Any]], marks: Iterable[Mark]) -> Plan:
    marks = list(marks)
    result = Plan()
    newest: dict[tuple[Any, ...], tuple[Resume, int]] = {}
    for pb in playbacks:
        resume = to_resume(account, pb)
        if resume is None:
            continue
        pid = int(pb.get("id") or 0)
        if any(_matches(m, resume) and m.at >= resume.paused_at for m in marks):
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


def marks_for(account: str, outbox_marks: Iterable[tuple[str, str, float]]) -> list[Mark]:
    """The outbox's (account, item_key, at) history rows for one account, parsed."""
    parsed = (parse_item_key(key, at) for acc, key, at in outbox_marks if acc == account)
    return [m for m in parsed if m is not None]


def reconcile_account(account: str, client: Any, marks: list[Mark], adapters: Iterable[Any], summary: Summary) -> None:
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
            log.warning("%s: could not set resume points: %s: %s", getattr(adapter, "name", adapter), type(exc).__name__, exc)
