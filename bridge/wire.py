"""Predicates for values read off the wire (server messages, webhook bodies, API replies), and the
error a payload that cannot be used raises.

JSON gives bools that are ints, NaN and Infinity that are floats, and Unicode digits that pass
`str.isdigit` but not `int()`: every reader of outside data asks these instead of `isinstance`.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeGuard

_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class EventError(ValueError):
    """A payload that cannot become a PlayEvent. The message names the field that was wrong."""


def is_count(value: Any) -> TypeGuard[int]:
    """A non-negative int (never a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float (never a bool, NaN or Infinity): positions, durations, times."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past float range
        return False


def digits(text: Any) -> int | None:
    """An ASCII decimal string ('603', ' 603 ') -> its int, else None."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    return int(t) if len(t) <= 18 and _DIGITS.fullmatch(t) else None
