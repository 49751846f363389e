"""Wait headers (Retry-After, X-RateLimit-Reset) as seconds from now.

An API may send seconds-until, a Unix time in seconds or milliseconds, or an HTTP date;
a value that is none of these, or not believable (inf, nan, negative, beyond a day), is
an error the caller clamps and reports."""

from __future__ import annotations

import email.utils
import math

BELIEVABLE_WAIT = 86_400.0  # a wait of more than a day is not believed


def parse_wait(value: str | None, now: float) -> float | None:
    """A wait header (Retry-After, X-RateLimit-Reset) as seconds from `now` (wall
    time): seconds-until, a Unix time in seconds or milliseconds, or an HTTP date. None when
    absent; ValueError when present but not believable (not a number or date, inf, nan,
    negative, or ending more than BELIEVABLE_WAIT from now)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        v = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
            epoch = when.timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            raise ValueError(f"not a number or HTTP date: {text[:60]!r}") from None
        if abs(epoch - now) > BELIEVABLE_WAIT:
            raise ValueError(f"date too far from now: {text[:60]!r}") from None
        return max(0.0, epoch - now)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"not a finite, non-negative number: {text[:60]!r}")
    if v <= BELIEVABLE_WAIT:
        return v  # seconds from now
    for epoch in (v, v / 1000.0):  # a Unix time, in seconds or milliseconds
        if now - BELIEVABLE_WAIT <= epoch <= now + BELIEVABLE_WAIT:
            return max(0.0, epoch - now)
    raise ValueError(f"neither seconds-until nor a time within a day: {text[:60]!r}")
