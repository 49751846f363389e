"""Millisecond timestamps: parsing the vendors' query formats and formatting their fields.

Records carry times as integer milliseconds since the Unix epoch (UTC); datetime objects
are only built at the edges, because formatting a million records through datetime is slow.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# RFC 3339 proper: date, "T", time, optional fraction, mandatory zone.
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_UNIX_MS = re.compile(r"^\d{1,15}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RELATIVE_DAYS = re.compile(r"^(\d{1,5})d$")


def to_ms(moment: datetime) -> int:
    """Aware (or naive, taken as UTC) datetime -> epoch milliseconds, without float rounding."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def day_of(ms: int) -> int:
    """UTC day number (days since 1970-01-01) containing ms."""
    return ms // DAY_MS


@lru_cache(maxsize=4096)
def iso_date(day: int) -> str:
    # Cached: formatting a million timestamps touches only a handful of distinct days.
    return date.fromordinal(_EPOCH_ORDINAL + day).isoformat()


def weekday(day: int) -> int:
    """Monday=0 ... Sunday=6 (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def fmt_seconds(ms: int) -> str:
    """Qoder style: 2025-06-15T10:30:00Z."""
    day, rest = divmod(ms, DAY_MS)
    hour, rest = divmod(rest, HOUR_MS)
    minute, rest = divmod(rest, MINUTE_MS)
    return f"{iso_date(day)}T{hour:02d}:{minute:02d}:{rest // SECOND_MS:02d}Z"


def fmt_millis(ms: int) -> str:
    """Cursor style: 2025-07-30T14:12:03.000Z."""
    day, rest = divmod(ms, DAY_MS)
    hour, rest = divmod(rest, HOUR_MS)
    minute, rest = divmod(rest, MINUTE_MS)
    second, milli = divmod(rest, SECOND_MS)
    return f"{iso_date(day)}T{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


def fmt_day(day: int) -> str:
    """Qoder daily-trend date: 2025-06-01T00:00:00Z."""
    return f"{iso_date(day)}T00:00:00Z"


def parse_qoder_time(value: str) -> int | None:
    """RFC 3339 (Z or offset, optional fraction) or Unix milliseconds; None when invalid."""
    value = value.strip()
    if _UNIX_MS.match(value):
        return int(value)
    match = _RFC3339.match(value)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    # fromisoformat wants at most 6 fraction digits and an upper-case Z.
    fraction = (fraction or "")[:7]
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        return to_ms(datetime.fromisoformat(f"{day}T{clock}{fraction}{zone}"))
    except ValueError:
        return None


def parse_cursor_time(value: str, now_ms: int, *, end_of_day: bool) -> int | None:
    """Cursor's startDate/endDate: ISO date, ISO datetime, "now" or "Nd" (now - N days).

    A bare date means the start of that UTC day, or its last millisecond when it is the end
    of a range (end_of_day), so endDate=2025-07-30 includes the whole of the 30th.
    """
    value = value.strip()
    if value.lower() == "now":
        return now_ms
    relative = _RELATIVE_DAYS.match(value)
    if relative:
        return now_ms - int(relative.group(1)) * DAY_MS
    if _ISO_DATE.match(value):
        try:
            start = to_ms(datetime.fromisoformat(value).replace(tzinfo=UTC))
        except ValueError:
            return None
        return start + DAY_MS - 1 if end_of_day else start
    if "T" not in value and "t" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return to_ms(parsed)
