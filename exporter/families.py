"""The exporter's own, minimal metric model: what mapping functions return.

Kept separate from prometheus_client so that mapping stays pure data and the
rendering library is used in exactly one place (exposition.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter"]
LabelValues = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spec:
    """A metric's name, type, HELP text and label names: the catalogue entry."""

    name: str
    kind: Kind
    help: str
    labelnames: tuple[str, ...]

    def family(self, samples: Iterable[tuple[LabelValues, float]]) -> Family:
        return Family(self, tuple(samples))


@dataclass(frozen=True, slots=True)
class Family:
    spec: Spec
    samples: tuple[tuple[LabelValues, float], ...]
