"""What Plex's reports of its sessions mean for the plays the adapter follows. Pure, no I/O.

Plex tells of a session two ways: a `playing` alert (one session's state and position, no user)
and the `/status/sessions` list (every session, with its user), read when a session begins, on
reconnecting and while the socket is down. A play is one session playing one item; each report of
a session carries its play on, ends it (a stop, or the player moved on to the next item), or
begins one, whose item and user the adapter then resolves. A play that a list no longer holds
ended without its `stopped` alert reaching us: it is closed at its last known position.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bridge.events import PlayEvent, State
from bridge.wire import digits

# `error`: the player failed and the session lives on (Tautulli's ActivityHandler keeps it, and a later
# stop still ends it): where it stood is a resume point, as a pause is.
STATES = {"playing": State.PLAYING, "paused": State.PAUSED, "stopped": State.STOPPED, "error": State.PAUSED}
# /status/sessions lists a player waiting for data as `buffering`: its session is still going on.
SESSION_STATES = {**STATES, "buffering": State.PLAYING}


@dataclass(frozen=True)
class Live:
    """One entry of /status/sessions."""

    rating_key: str
    user: str
    state: State
    position: float  # seconds


@dataclass(frozen=True)
class Play:
    """The play followed in one session: its item, state and position as last reported."""

    event: PlayEvent
    rating_key: str


@dataclass(frozen=True)
class Step:
    """What one report of a session does to the play followed there."""

    close: PlayEvent | None = None  # the play it ends first, stopped where it last was (a new item)
    event: PlayEvent | None = None  # the play carried on: its new state and position
    begin: bool = False  # a new play: its item and user are to be resolved
    forget: bool = False  # a session stopped before a play was begun in it: nothing to keep of it


def read_sessions(root: ET.Element | None) -> dict[str, Live]:
    """A /status/sessions reply -> its sessions by sessionKey. Sessions without an owner (transcoder
    jobs) or in no known state are left out."""
    out: dict[str, Live] = {}
    for element in root if root is not None else ():
        user, player = element.find("User"), element.find("Player")
        key, rating_key = element.get("sessionKey"), element.get("ratingKey")
        state = SESSION_STATES.get(player.get("state", "") if player is not None else "playing")
        if not key or not rating_key or user is None or state is None:
            continue
        offset = digits(element.get("viewOffset"))
        out[key] = Live(rating_key, user.get("title") or user.get("id") or "", state,
                        offset / 1000 if offset is not None else 0.0)
    return out


def step(play: Play | None, skipped: str | None, rating_key: str, state: State, offset: float, at: float) -> Step:
    """One report (an alert, or a session's entry in a list) of the session where `play` is followed
    (None: none is) and `skipped` is the item not sent there (excluded, no id), if any."""
    close = stopped(play, at) if play is not None and play.rating_key != rating_key else None
    if play is not None and close is None:
        # Identical paused frames are passed on too: Plex repeats them while the session lives, and
        # they are what keeps a long pause from looking silent to the core's session timeout.
        return Step(event=replace(play.event, state=state, position=_position(state, offset, play.event.position), at=at))
    if state is State.STOPPED:
        return Step(close, forget=True)
    return Step(close, begin=skipped != rating_key)


def stopped(play: Play, at: float) -> PlayEvent:
    return replace(play.event, state=State.STOPPED, at=at)


def ended(plays: Mapping[str, Play], listed: Mapping[str, Live]) -> list[str]:
    """The sessions whose play a sessions list shows over: gone, or playing another item."""
    return [key for key, play in plays.items() if key not in listed or listed[key].rating_key != play.rating_key]


def gone(skipped: Mapping[str, str], listed: Mapping[str, Live]) -> list[str]:
    """The sessions of skipped items that a list no longer holds: their next use is a new session."""
    return [key for key in skipped if key not in listed]


def _position(state: State, offset: float, last: float) -> float:
    """Where a report puts an ongoing play. Some clients end a session with a `stopped` alert at
    viewOffset 0: that play stopped where it last was, not at its beginning."""
    return last if state is State.STOPPED and offset == 0 else offset
