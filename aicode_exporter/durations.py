"""Prometheus-style durations: `30s`, `5m`, `2h`, `7d` (and combinations like `1h30m`)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
             "w": 604_800_000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
# What a timedelta holds, in whole milliseconds. Every setting has its own, far smaller
# bound; this one only keeps absurd numbers from overflowing before those are checked.
_MAX_MS = timedelta.max // timedelta(milliseconds=1)
_MAX_DIGITS = len(str(_MAX_MS))


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_duration(text: str) -> timedelta:
    """Parse `5m` into a timedelta; raise ValueError (never OverflowError) naming the text."""
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    pos = 0
    total_ms = 0
    too_long = False
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        digits = m.group(1).lstrip("0")
        if len(digits) > _MAX_DIGITS:  # before int(): no 5,000-digit conversions
            too_long = True
        else:
            total_ms += int(digits or "0") * _UNITS_MS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"invalid duration {_shown(text)}: use a number and a unit, "
                         "e.g. 30s, 5m, 2h, 7d")
    if too_long or total_ms > _MAX_MS:
        raise ValueError(f"duration {_shown(text)} is out of range")
    return timedelta(milliseconds=total_ms)

