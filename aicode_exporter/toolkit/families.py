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
