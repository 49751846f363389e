"""The past as OpenMetrics text with a timestamp on every sample: what `promtool tsdb
create-blocks-from openmetrics` turns into TSDB blocks (aicode-exporter backfill).

What that input needs (Prometheus's backfill reads the whole file once per block it
writes, so the writer keeps it to what the samples need):

- every sample carries a timestamp, in seconds;
- a metric family appears once: its HELP and TYPE, then all its samples; a series' samples
  come together, in increasing time order;
- `# EOF` ends the text.

Names, label names and HELP are those /metrics serves (the same Spec); a counter is the
family `x` of TYPE counter with samples `x_total`, as the OpenMetrics rendering of
/metrics names it. `labels` (e.g. job, instance) are added to every series, so the
backfilled series are the scraped ones.

    # HELP aicode_commits Commit records. ...
    # TYPE aicode_commits counter
    aicode_commits_total{provider="cursor",org="acme",repo="api",primary_branch="true"} 0 1748995200
    aicode_commits_total{provider="cursor",org="acme",repo="api",primary_branch="true"} 3 1749020400
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from aicode_exporter.toolkit.families import LabelValues, Spec

EOF = b"# EOF\n"
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# (time in Unix seconds, value), in increasing time order
Points = Sequence[tuple[float, float]]


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(v: float) -> str:
    v = float(v)
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def check_label_name(name: str) -> str | None:
    """Why `name` cannot be an added label name, or None."""
    if not LABEL_NAME.match(name):
        return f"{name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"
    if name.startswith("__"):
        return f"{name!r}: names starting with __ are reserved by Prometheus"
    return None


@dataclass
class HistoryStats:
    families: int = 0
    series: int = 0
    samples: int = 0
    first: float | None = None  # earliest sample time
    last: float | None = None  # latest sample time
    bytes: int = 0
    day_numbers: set[int] = field(default_factory=set)  # UTC days holding a sample

    @property
    def days(self) -> int:
        return len(self.day_numbers)

    def count(self, points: Points) -> None:
        """One more series of these points (in time order)."""
        self.series += 1
        self.samples += len(points)
        self.day_numbers.update(int(t // 86_400) for t, _ in points)
        first, last = points[0][0], points[-1][0]
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)


def check_labels(labels: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Labels to add to every series; ValueError for a name that cannot be one."""
    for name, _ in labels:
        why = check_label_name(name)
        if why:
            raise ValueError(why)
    return tuple(labels)


class HistorySink(Protocol):
    """Where a history goes: this file's writer, or a remote-write push."""

    def family(self, spec: Spec, series: Iterable[tuple[LabelValues, Points]]) -> None: ...

    def close(self) -> HistoryStats: ...


class HistoryWriter:
    """Writes families one at a time to a binary file; close() ends the text."""

    def __init__(self, out: BinaryIO, labels: Sequence[tuple[str, str]] = ()) -> None:
        self._out = out
        self._labels = check_labels(labels)
        self._extra = "".join(f',{n}="{_escape(v)}"' for n, v in labels)
        self._names: set[str] = set()
        self.stats = HistoryStats()
        self._closed = False

    def family(self, spec: Spec, series: Iterable[tuple[LabelValues, Points]]) -> None:
        """One metric family: each series' points, which must be in increasing time order
        (and, for a counter, never decreasing nor negative). A family without points is
        left out. ValueError for a family written twice or points out of order."""
        if self._closed:
            raise ValueError("the history is closed")
        if spec.name in self._names:
            raise ValueError(f"{spec.name}: a metric family may appear only once")
        clash = {n for n, _ in self._labels} & set(spec.labelnames)
        if clash:
            raise ValueError(f"{spec.name} already has the label {sorted(clash)[0]!r}")
        counter = spec.kind == "counter"
        family = spec.name.removesuffix("_total") if counter else spec.name
        sample = f"{family}_total" if counter else spec.name
        head = (f"# HELP {family} {_escape(spec.help)}\n"
                f"# TYPE {family} {'counter' if counter else 'gauge'}\n")
        wrote_head = False
        st = self.stats
        for values, points in series:
            if not points:
                continue
            if len(values) != len(spec.labelnames):
                raise ValueError(f"{spec.name}: {len(values)} label values for "
                                 f"{len(spec.labelnames)} label names")
            labels = ",".join(f'{n}="{_escape(v)}"'
                              for n, v in zip(spec.labelnames, values, strict=True))
            prefix = f"{sample}{{{labels}{self._extra}}} " if labels or self._extra \
                else f"{sample} "
            lines = []
            before_t, before_v = -math.inf, 0.0
            for t, v in points:
                if not t > before_t:
                    raise ValueError(f"{spec.name}{{{labels}}}: samples out of time order "
                                     f"at {t}")
                if counter and (v < before_v or v < 0):
                    raise ValueError(f"{spec.name}{{{labels}}}: counter decreases at {t}")
                lines.append(f"{prefix}{_number(v)} {_number(t)}\n")
                before_t, before_v = t, v
            if not wrote_head:
                self._write(head)
                self._names.add(spec.name)
                st.families += 1
                wrote_head = True
            self._write("".join(lines))
            st.count(points)

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        self._out.write(data)
        self.stats.bytes += len(data)

    def close(self) -> HistoryStats:
        """End the text with # EOF (the file itself is the caller's to close)."""
        if not self._closed:
            self._closed = True
            self._out.write(EOF)
            self.stats.bytes += len(EOF)
        return self.stats
