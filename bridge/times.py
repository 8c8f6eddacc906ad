"""Every time format the bridge reads or writes, in one place: epoch seconds in, epoch seconds out.

Simkl writes `2015-03-15T15:30:11Z` (sometimes with milliseconds); Jellyfin writes up to seven
fractional digits and may omit the zone (meaning UTC); Jellyfin positions are 100 ns ticks; Kodi
writes `lastplayed` as a naive local time in its own time zone, which need not be ours.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime
from typing import Any

TICKS_PER_SECOND = 10_000_000  # Jellyfin (.NET) ticks are 100 ns

_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?", re.ASCII)
_KODI_STAMP = "%Y-%m-%d %H:%M:%S"
_KODI_FORM = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.ASCII)


def iso(ts: float) -> str:
    """Epoch seconds -> Simkl's UTC form, whole seconds (2015-03-15T15:30:11Z)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ts: float) -> str:
    """Epoch seconds -> UTC with milliseconds (2015-03-15T15:30:11.250Z), as Jellyfin stores dates."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: Any) -> float | None:
    """An ISO 8601 timestamp (any fractional precision; no zone means UTC) -> epoch seconds, or None
    for anything else."""
    m = _ISO.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        return None
    base, frac, tz = m.groups()
    micro = f".{frac[:6]:0<6}" if frac else ""
    offset = "+00:00" if tz in (None, "Z") else tz
    try:
        return datetime.fromisoformat(f"{base}{micro}{offset}").timestamp()
    except ValueError:  # 2024-02-30 and the like
        return None


def ticks_to_seconds(ticks: int) -> float:
    return ticks / TICKS_PER_SECOND


def seconds_to_ticks(seconds: float) -> int:
    return int(seconds * TICKS_PER_SECOND)


def parse_local(text: Any, utc_offset: float | None) -> float | None:
    """A naive 'YYYY-MM-DD HH:MM:SS' local time (Kodi's lastplayed) -> epoch seconds, reading it in
    a zone `utc_offset` seconds ahead of UTC, or in this machine's zone when that is unknown."""
    if not isinstance(text, str) or not text.strip():
        return None
    stamp = text.strip()
    try:
        if _KODI_FORM.fullmatch(stamp):  # Kodi's own zero-padded form, 50 times faster than strptime
            naive = datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()
        else:
            naive = float(calendar.timegm(time.strptime(stamp, _KODI_STAMP)))
    except ValueError:
        return None
    return naive - (utc_offset if utc_offset is not None else time.localtime(naive).tm_gmtoff)


def format_local(ts: float, utc_offset: float | None) -> str:
    """Epoch seconds -> a naive 'YYYY-MM-DD HH:MM:SS' local time (what Kodi's lastplayed takes) in a
    zone `utc_offset` seconds ahead of UTC, or in this machine's zone: the inverse of parse_local."""
    if utc_offset is None:
        return time.strftime(_KODI_STAMP, time.localtime(ts))
    return time.strftime(_KODI_STAMP, time.gmtime(ts + utc_offset))
