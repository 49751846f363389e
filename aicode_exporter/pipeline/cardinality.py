"""Bounded labels on record-stream counters, exact: a value is folded into `__other__`
when the record is counted, never after (moving a counted value between series would
make counters jump), and the values a stream admitted are kept in the state file, so a
value admitted once keeps its series across restarts and the set never grows past the
cap (labels.max_values, or labels.max_values_per_label). Values longer than
labels.max_length are cut first (toolkit/labelcap.truncate: distinct values stay
distinct). `user` has its own cap (users.max_users, streams.py); the `stream` label of
the bookkeeping counters is the exporter's own.

A state file written before the caps existed, or before a cap was lowered, may hold more
values than the cap allows: those in the admitted table (the first, in sorted order, if
it holds more than the cap), then the others in sorted order while there is room, keep
their series; the rest are added into `__other__` when loaded (the totals stay exact;
that `__other__` series rises once, when such a file is first loaded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aicode_exporter.config.base import LabelsConfig
from aicode_exporter.pipeline.state import CounterKey
from aicode_exporter.toolkit.families import Spec
from aicode_exporter.toolkit.labelcap import OTHER, truncate

# Labels whose values the exporter itself chooses (or that have a cap of their own).
UNCAPPED = frozenset({"provider", "org", "user", "stream", "label", "endpoint", "code",
                      "window", "version", "revision", "python_version", "result"})
BASE_LABELS = 2  # provider, org: not part of a CounterKey's labels


@dataclass(frozen=True)
class LabelLimits:
    """What the caps are; `None` cap means the label is not capped."""

    config: LabelsConfig

    def cap(self, label: str) -> int | None:
        return None if label in UNCAPPED else self.config.cap(label)

    @property
    def max_length(self) -> int:
        return self.config.max_length


class CounterFolder:
    """One stream's admitted values per capped label, and the fold of each increment.
    `fold` admits into a pending set; `committed()` makes it part of the admitted set
    once the slice it belongs to is in the state file, `rollback()` forgets it."""

    def __init__(self, specs: Iterable[Spec], limits: LabelLimits,
                 admitted: Mapping[str, Iterable[str]]) -> None:
        self._limits = limits
        self._positions: dict[str, tuple[tuple[int, str, int], ...]] = {}
        self._long: dict[str, tuple[int, ...]] = {}  # metric -> positions cut to length
        for spec in specs:
            names = spec.labelnames[BASE_LABELS:]
            caps = tuple((i, n, c) for i, n in enumerate(names)
                         if (c := limits.cap(n)) is not None)
            self._positions[spec.name] = caps
            self._long[spec.name] = tuple(i for i, n in enumerate(names)
                                          if n == "user" or limits.cap(n) is not None)
        # A cap lowered since: the first values (in sorted order) keep their series.
        # Every capped label of the stream's counters (its folded-records series start at 0).
        self.labels = sorted({name for caps in self._positions.values() for _, name, _ in caps})
        self._admitted = {label: set(sorted(values)[:limits.cap(label) or None])
                          for label, values in admitted.items()}
        self._pending: dict[str, set[str]] = {}

    def pending(self) -> set[tuple[str, str]]:
        """(label, value) admitted by the slice in progress."""
        return {(label, v) for label, values in self._pending.items() for v in values}

    def committed(self) -> None:
        for label, values in self._pending.items():
            self._admitted.setdefault(label, set()).update(values)
        self._pending = {}

    def rollback(self) -> None:
        self._pending = {}

    def _admit(self, label: str, value: str, cap: int) -> bool:
        if value == OTHER:
            return True
        admitted = self._admitted.setdefault(label, set())
        if value in admitted:
            return True
        pending = self._pending.setdefault(label, set())
        if value in pending:
            return True
        if len(admitted) + len(pending) < cap:
            pending.add(value)
            return True
        return False

    def fold(self, metric: str, labels: tuple[str, ...],
             folded: set[str]) -> tuple[str, ...]:
        """`labels` (after provider, org) as counted: cut to length, each capped label
        admitted or folded (its name added to `folded`)."""
        long = self._long.get(metric, ())
        positions = self._positions.get(metric, ())
        if not long:
            return labels
        limit = self._limits.max_length
        out = list(labels)
        changed = False
        for i in long:
            if len(out[i]) > limit:
                out[i], changed = truncate(out[i], limit), True
        for i, name, cap in positions:
            if not self._admit(name, out[i], cap):
                out[i], changed = OTHER, True
                folded.add(name)
        return tuple(out) if changed else labels

    def load(self, totals: Mapping[CounterKey, float]) -> tuple[dict[CounterKey, float],
                                                                   set[tuple[str, str]]]:
        """Persisted totals as this folder counts them (cut, folded; values added where
        two become one), and the (label, value) pairs they admit that the admitted
        table does not hold yet (to be written with the next slice)."""
        out: dict[CounterKey, float] = {}
        ignored: set[str] = set()
        for (metric, labels), value in sorted(totals.items()):
            key = (metric, self.fold(metric, labels, ignored))
            out[key] = out.get(key, 0.0) + value
        fresh = self.pending()
        self.committed()
        return out, fresh
