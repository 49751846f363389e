"""Bounded label values: a label whose values come from outside (a vendor, a file) is cut
to a maximum length and to a maximum number of distinct values, the rest folded into one
`__other__` value, so no answer can make the exposition unbounded.

Length: a value longer than `max_length` characters keeps its first `max_length - 17`
characters, then `~` and 16 hex digits of a BLAKE2b hash of the whole value, so two long
values that share their beginning stay two series (`truncate`).

Count (gauges; counters are folded when they are incremented, by their owner, which
remembers which values it admitted): `GaugeFolder.fold` bounds each capped label of the
gauge families published together (one part) to its cap, keeping the values that weigh
most (the sum of their samples in the part's additive families, else in all of them),
and folds the others by the family's kind (`fold_rule`):

- `sum`: summed into `__other__` (counts, lines, money, tokens, seats);
- `max`: the largest kept for `__other__` (distinct-user counts, where a sum would count
  a person once per folded value; timestamps);
- `drop`: not published (ratios: a ratio of a mixture needs weights the gauge lacks).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from aicode_exporter.toolkit.families import Family, LabelValues, Spec

OTHER = "__other__"
HASH_HEX = 16
Fold = Literal["sum", "max", "drop"]
Cap = Callable[[str], int | None]  # label name -> how many values to keep (None: no cap)


def truncate(value: str, max_length: int) -> str:
    """`value`, or its first characters, `~` and a hash of the whole when it is longer
    than `max_length` (the result is exactly `max_length` characters)."""
    if len(value) <= max_length:
        return value
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8)
    return f"{value[:max_length - HASH_HEX - 1]}~{digest.hexdigest()}"


def fold_rule(spec: Spec) -> Fold:
    """How a gauge's folded values combine, by the naming conventions of the metric."""
    name = spec.name
    if name.endswith("_ratio"):
        return "drop"
    if name.endswith(("_timestamp_seconds", "_active_users")):
        return "max"
    return "sum"


Scope = tuple[str, ...]  # the values of the scope labels (provider, org)
Stats = dict[tuple[Scope, str], int]  # (scope, label) -> distinct values folded


class GaugeFolder:
    """Folds the gauge families of each published part; counts what it folded.

    Only gauges whose label names start with `scope` are touched (the exporter's own
    metrics are left alone); of their other labels, those `cap` gives a number for."""

    def __init__(self, cap: Cap, max_length: int, scope: Sequence[str]) -> None:
        self._cap = cap
        self._max_length = max_length
        self._scope = tuple(scope)
        self._stats: dict[tuple[str, ...], Stats] = {}  # part -> what it folded
        self._lock = threading.Lock()

    def _positions(self, spec: Spec) -> list[tuple[int, str, int]]:
        n = len(self._scope)
        if spec.kind != "gauge" or spec.labelnames[:n] != self._scope:
            return []
        out = []
        for i, name in enumerate(spec.labelnames[n:], start=n):
            cap = self._cap(name)
            if cap is not None:
                out.append((i, name, cap))
        return out

    def fold(self, part: tuple[str, ...], families: Iterable[Family]) -> tuple[Family, ...]:
        """The part's families with every capped label bounded (a family that needs
        nothing is returned as it is, the same object)."""
        fams = tuple(families)
        plan = [(f, self._positions(f.spec)) for f in fams]
        n = len(self._scope)
        # Every capped label the part has, at 0 until something is folded: the series
        # exists from the first publication on.
        stats: Stats = {(f.samples[0][0][:n], name): 0 for f, pos in plan if f.samples
                        for _, name, _ in pos}
        if stats:
            fams, folded = self._fold(plan)
            stats.update(folded)
        with self._lock:
            if stats:
                self._stats[part] = stats
            else:
                self._stats.pop(part, None)
        return fams

    def _fold(self, plan: list[tuple[Family, list[tuple[int, str, int]]]],
              ) -> tuple[tuple[Family, ...], Stats]:
        n = len(self._scope)
        limit = self._max_length
        # Values per (scope, label), with their weight: the sum of |sample| in additive
        # families (or, where no additive family has the label, in any family).
        weights: dict[tuple[Scope, str], dict[str, float]] = {}
        additive: set[tuple[Scope, str]] = set()
        long_values = False
        for fam, positions in plan:
            if not positions:
                continue
            rule = fold_rule(fam.spec)
            for labels, v in fam.samples:
                scope = labels[:n]
                for i, name, _ in positions:
                    value = labels[i]
                    if len(value) > limit:
                        long_values = True
                        value = truncate(value, limit)
                    key = (scope, name)
                    w = weights.setdefault(key, {})
                    weight = abs(v) if v == v else 0.0  # NaN weighs nothing
                    if rule == "sum":
                        if key not in additive:  # additive weights replace the others
                            additive.add(key)
                            for k in w:
                                w[k] = 0.0
                        w[value] = w.get(value, 0.0) + weight
                    elif key not in additive:
                        w[value] = max(w.get(value, 0.0), weight)
                    else:
                        w.setdefault(value, 0.0)
        caps = {name: cap for _, positions in plan for _, name, cap in positions}
        kept: dict[tuple[Scope, str], set[str]] = {}
        stats: Stats = {}
        for key, values in weights.items():
            cap = caps[key[1]]
            # A vendor's own `__other__` (Copilot folds users and repositories itself) is
            # not a value: it neither takes a place nor is folded away.
            real = {v: w for v, w in values.items() if v != OTHER}
            if len(real) <= cap:
                kept[key] = set(values)
                continue
            ranked = sorted(real.items(), key=lambda kv: (-kv[1], kv[0]))
            kept[key] = {v for v, _ in ranked[:cap]} | {OTHER}
            stats[key] = len(real) - cap
        if not stats and not long_values:
            return tuple(f for f, _ in plan), {}
        out = []
        for fam, positions in plan:
            out.append(fam if not positions else
                       _fold_family(fam, positions, kept, n, limit))
        return tuple(out), stats

    def families(self, spec: Spec) -> list[Family]:
        """`spec` (labels: scope, `label`) with the most values folded in any one part
        currently published, per scope and label."""
        most: dict[LabelValues, float] = {}
        with self._lock:
            for stats in self._stats.values():
                for (scope, label), count in stats.items():
                    key = (*scope, label)
                    most[key] = max(most.get(key, 0.0), float(count))
        return [spec.family(sorted(most.items()))]


def _fold_family(fam: Family, positions: list[tuple[int, str, int]],
                 kept: dict[tuple[Scope, str], set[str]], n: int, limit: int) -> Family:
    rule = fold_rule(fam.spec)
    out: dict[LabelValues, float] = {}
    for labels, v in fam.samples:
        scope = labels[:n]
        new = list(labels)
        folded = False
        for i, name, _ in positions:
            value = truncate(labels[i], limit)
            if value not in kept[(scope, name)]:
                value, folded = OTHER, True
            new[i] = value
        if folded and rule == "drop":
            continue
        key = tuple(new)
        if key not in out:
            out[key] = v
        elif rule == "sum":
            out[key] += v
        else:
            out[key] = max(out[key], v)
    return Family(fam.spec, tuple(out.items()))
