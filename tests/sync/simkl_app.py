"""Simkl as the person's other apps see it, for the end-to-end sync tests: a phone that writes with
a token of its own, and what the account holds."""

from __future__ import annotations

from typing import Any

from bridge.times import parse_iso
from tests.conftest import make_client

PHONE = "phone-token-0123456789abcdef"


def phone(emulator) -> Any:
    """The person's other Simkl app: its own token, so Simkl's per-token POST pace is its own. What
    it does is a minute after the last thing Simkl saw (Simkl's activity stamps are whole seconds:
    a change in the second of the bridge's own write would not move them, on a fast machine)."""
    later = emulator.clock() + 60
    emulator.clock = lambda: later
    emulator.add_token(PHONE, "alice")
    return make_client(emulator, token=PHONE)


def ratings(emulator) -> dict[str, tuple[int, float]]:
    """Alice's ratings on Simkl: simkl id -> (rating, when it was rated)."""
    return {k: (v["rating"], parse_iso(v["rated_at"]))
            for k, v in emulator.state()["users"]["alice"].get("ratings", {}).items()}


def statuses(emulator) -> dict[str, str]:
    """Every title's bucket as Simkl's apps show it (its all-items read), by title."""
    library = phone(emulator).get_all_items()
    return {e[key]["title"]: e["status"] for kind, key in (("movies", "movie"), ("shows", "show"), ("anime", "show"))
            for e in library.get(kind) or ()}


def simkl_posts(emulator, seen: int = 0) -> list[str]:
    return [r["path"] for r in emulator.requests[seen:] if r["method"] == "POST"]
