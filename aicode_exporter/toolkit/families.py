"""The minimal metric model: a Spec (name, type, HELP, label names) and a Family (a
Spec with its samples).

Kept separate from prometheus_client so that code producing samples stays pure data and
the rendering library is used in one place only (the caller's renderer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter"]
LabelValues = tuple[str, ...]
Samples = list[tuple[LabelValues, float]]


@dataclass(frozen=True, slots=True)
class Spec:
    """A metric's name, type, HELP text and label names: the catalogue entry. `source`
    says where its values come from (docs and dashboards read it)."""

    name: str
    kind: Kind
    help: str
    labelnames: tuple[str, ...]
    source: str = ""

    def family(self, samples: Iterable[tuple[LabelValues, float]]) -> Family:
        return Family(self, tuple(samples))


@dataclass(frozen=True, slots=True)
class Family:
    spec: Spec
    samples: tuple[tuple[LabelValues, float], ...]


def merge(families: Iterable[Family]) -> list[tuple[Spec, Samples]]:
    """Group samples of the same metric from many parts, in a stable order (by name, then
    label values); a later sample of the same series wins."""
    by_name: dict[str, tuple[Spec, dict[LabelValues, float]]] = {}
    for fam in families:
        entry = by_name.setdefault(fam.spec.name, (fam.spec, {}))
        entry[1].update(fam.samples)
    return [(spec, sorted(samples.items())) for _, (spec, samples) in sorted(by_name.items())]
