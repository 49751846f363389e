"""The simulator's past as the backfill tests expect it, read straight from its API (not
through the exporter): every tracking record with its event time, and Qoder's daily
trend per day."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

KEY = "sim-key"
QODER_ORG = "org_sim"
DAY = 86_400


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Events:
    """Event times (sorted) and the lines added with each, of one provider's stream."""

    times: list[float] = field(default_factory=list)
    lines: list[float] = field(default_factory=list)

    def add(self, t: float, lines: float) -> None:
        self.times.append(t)
        self.lines.append(lines)

    def sort(self) -> None:
        pairs = sorted(zip(self.times, self.lines, strict=True))
        self.times = [t for t, _ in pairs]
        self.lines = [n for _, n in pairs]

    def before(self, t: float) -> tuple[int, float]:
        """(records, lines added) with an event time before t."""
        i = bisect.bisect_left(self.times, t)
        return i, sum(self.lines[:i])


def _pages(client: httpx.Client, path: str, params: dict[str, str | int],
           size: int, **kw: object) -> Iterator[dict[str, object]]:
    page = 1
    while True:
        r = client.get(path, params={**params, "page": page, "pageSize": size}, **kw)  # type: ignore[arg-type]
        r.raise_for_status()
        body = r.json()
        items = (body.get("data") or body)["items"]  # Qoder wraps its page in `data`
        yield from items
        if len(items) < size:
            return
        page += 1


def records(client: httpx.Client, start: float, end: float) -> dict[tuple[str, str], Events]:
    """(vendor, stream) -> event times and lines added of every record the vendor lists
    for [start, end]: commits at commitTs (createdAt without it), changes at createdAt."""
    out: dict[tuple[str, str], Events] = {}
    span = {"startDate": _iso(start), "endDate": _iso(end)}
    sources = {
        "qoder": (f"/v1/organizations/{QODER_ORG}/ai-code-tracking", 200,
                  {"headers": {"Authorization": f"Bearer {KEY}"}}),
        "cursor": ("/analytics/ai-code", 1000, {"auth": (KEY, "")}),
    }
    for vendor, (prefix, size, kw) in sources.items():
        for stream, when in (("commits", "commitTs"), ("changes", "createdAt")):
            ev = out.setdefault((vendor, stream), Events())
            for item in _pages(client, f"{prefix}/{stream}", span, size, **kw):
                # A commit without commitTs counts at its ingestion time (createdAt).
                t = item.get(when) or item["createdAt"]
                ev.add(_epoch(str(t)), float(item["totalLinesAdded"]))  # type: ignore[arg-type]
            ev.sort()
    return out


def qoder_daily(client: httpx.Client, first: float, last: float) -> dict[float, dict[str, float]]:
    """Day start -> that day's daily-trend items (commitCount, aiLinesAdded...)."""
    r = client.get(f"/v1/organizations/{QODER_ORG}/ai-code/stats/daily-trend",
                   params={"start_date": _iso(first), "end_date": _iso(last)},
                   headers={"Authorization": f"Bearer {KEY}"})
    r.raise_for_status()
    return {_epoch(f"{it['date'][:10]}T00:00:00Z"): it for it in r.json()["items"]}
