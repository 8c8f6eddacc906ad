"""Predicates for values read off the wire (server messages, webhook bodies, API replies), the one
JSON reader for outside bytes, and the error a payload that cannot be used raises.

JSON gives bools that are ints, NaN and Infinity that are floats, and Unicode digits that pass
`str.isdigit` but not `int()`: every reader of outside data asks these instead of `isinstance`.
A value quoted in a message goes through `shown`: a `\n` in an id cannot forge a log line.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeGuard

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# No payload the bridge reads nests deeper than a few levels (Plex's Metadata: about six).
MAX_DEPTH = 32
# Ids, ticks and epoch milliseconds fit in 20 digits; a longer integer is no value of ours.
MAX_INT_DIGITS = 40


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


def shown(value: Any, limit: int = 80) -> str:
    """A value for a message: repr() quotes it and escapes control characters, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str) -> str:
    """Text with its control characters escaped (a line break becomes `\\n`): one log line, whatever it holds."""
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)


def loads(data: bytes | str, what: str = "body") -> Any:
    """JSON as the bridge takes it from outside: UTF-8 only (json.loads would take bytes in UTF-16 and
    UTF-32 too), no NaN or Infinity, integers of at most MAX_INT_DIGITS digits (int() of thousands of
    digits costs seconds), nesting at most MAX_DEPTH deep. EventError naming `what` for anything else."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventError(f"{what}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        value = json.loads(data, parse_constant=_constant, parse_int=_integer)
    except RecursionError:
        raise EventError(f"{what}: JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # not JSON, or a constant or an integer refused below
        raise EventError(f"{what}: not JSON ({one_line(str(exc))})") from None
    if _depth(value) > MAX_DEPTH:
        raise EventError(f"{what}: JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def _depth(value: Any) -> int:
    """How deep `value` nests, counted without recursion; stops once past MAX_DEPTH."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def digits(text: Any) -> int | None:
    """An ASCII decimal string ('603', ' 603 ') -> its int, else None."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    return int(t) if len(t) <= 18 and _DIGITS.fullmatch(t) else None
