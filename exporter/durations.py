"""Prometheus-style durations: `30s`, `5m`, `2h`, `7d` (and combinations like `1h30m`)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    """Parse `5m` into a timedelta; raise ValueError with the offending text."""
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    pos = 0
    seconds = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        seconds += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"invalid duration {text!r}: use a number and a unit, "
                         "e.g. 30s, 5m, 2h, 7d")
    return timedelta(seconds=seconds)
