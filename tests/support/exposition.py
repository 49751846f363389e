"""The one parser of the Prometheus text exposition the tests read (/metrics, --once,
the publisher's snapshot)."""

from __future__ import annotations

import math
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


def usage_counters(text: str | bytes) -> dict[str, float]:
    """The usage-event counters keyed as the simulator's usage_totals keys them:
    requests|model|kind, tokens|model|type, cost|model."""
    out: dict[str, float] = {}
    for key, v in parse(text, ("aicode_usage_",)).items():
        name, _, labels = key.partition("{")
        f = {k: value.strip('"') for k, value in
             (part.split("=", 1) for part in labels.rstrip("}").split(","))}
        what = {"aicode_usage_requests_total": f"requests|{f['model']}|{f.get('kind')}",
                "aicode_usage_tokens_total": f"tokens|{f['model']}|{f.get('type')}",
                "aicode_usage_cost_usd_total": f"cost|{f['model']}"}[name]
        out[what] = v
    return out


def same_totals(got: dict[str, float], want: dict[str, float]) -> bool:
    """The same keys, each value equal but for float summing order."""
    return set(got) == set(want) and all(math.isclose(got[k], want[k], rel_tol=1e-9)
                                         for k in want)
