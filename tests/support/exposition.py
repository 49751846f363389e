"""The one parser of the Prometheus text exposition the tests read (/metrics, --once,
the publisher's snapshot)."""

from __future__ import annotations

import re

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$")

# What one record stream adds to, in aggregate and per user.
STREAM_COUNTERS = ("aicode_commit", "aicode_change", "aicode_user_commit", "aicode_user_change")
# The aggregate stream counters plus how many records were ingested.
RECORD_COUNTERS = ("aicode_commit", "aicode_change", "aicode_credits_used",
                   "aicode_records_ingested")


def parse(text: str | bytes, prefixes: tuple[str, ...] = (), *,
          strict: bool = True) -> dict[str, float]:
    """Samples as {'name{labels}': value}, labels exactly as written.

    Comment and blank lines are skipped. `prefixes` keeps only the series whose name
    starts with one of them. A line that is neither a comment nor a sample fails the test
    unless `strict` is off (then it is skipped).
    """
    if isinstance(text, bytes):
        text = text.decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m is None:
            if strict:
                raise AssertionError(f"not an exposition sample line: {line!r}")
            continue
        if m.group(1).startswith(prefixes or ("",)):
            out[m.group(1)] = float(m.group(2))
    return out


def sample(text: str | bytes, series: str) -> float | None:
    """The value of one series ('name{labels}' as written), None when it is absent."""
    return parse(text).get(series)


def names(text: str | bytes) -> set[str]:
    """The metric names that have at least one sample."""
    return {k.split("{")[0] for k in parse(text)}
