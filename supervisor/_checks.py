"""Argument checks shared by the public entry points.

TypeError for a wrong type, ValueError for a wrong value; the message names the
argument, the rule and the value.
"""

from __future__ import annotations

import math
import sys

#: The largest count any option takes (sizes of queues and windows are made from
#: them): beyond it a count means nothing, and Python's containers refuse it.
MAX_COUNT = sys.maxsize - 1


def check_type(
    name: str, value: object, types: type | tuple[type, ...], what: str
) -> None:
    if value is not None and not isinstance(value, types):
        msg = f"{name} must be {what}, got {value!r}"
        raise TypeError(msg)


def check_name(name: str, value: object, *, none_ok: bool) -> None:
    """A name: a non-empty str (None too with ``none_ok``)."""
    if value is None and none_ok:
        return
    if not isinstance(value, str):
        what = "a str or None" if none_ok else "a str"
        msg = f"{name} must be {what}, got {value!r}"
        raise TypeError(msg)
    if not value.strip():
        msg = f"{name} must not be empty, got {value!r}"
        raise ValueError(msg)


def check_count(name: str, value: object, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{name} must be an int or None, got {value!r}"
        raise TypeError(msg)
    if value < minimum:
        msg = f"{name} must be >= {minimum}, got {value!r}"
        raise ValueError(msg)
    if value > MAX_COUNT:
        msg = f"{name} must be <= {MAX_COUNT} (sys.maxsize - 1), got {value!r}"
        raise ValueError(msg)


def check_seconds(
    name: str, value: object, *, zero_ok: bool, none_ok: bool = True
) -> None:
    """A duration: a number (not a bool), not NaN, > 0 (>= 0 with ``zero_ok``);
    None too with ``none_ok``."""
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        what = "a number of seconds or None" if none_ok else "a number of seconds"
        msg = f"{name} must be {what}, got {value!r}"
        raise TypeError(msg)
    if math.isnan(value):
        msg = f"{name} must not be NaN"
        raise ValueError(msg)
    if value < 0 or (value == 0 and not zero_ok):
        msg = f"{name} must be {'>=' if zero_ok else '>'} 0, got {value!r}"
        raise ValueError(msg)
